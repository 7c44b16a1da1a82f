//! The benchmarks issue's workloads 3 and 4: invariant-checked mutation of the tutorial's
//! `Path`, and the cost of one write as the heap grows.
//!
//! `cargo bench -p steadfast-benches --bench workloads` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;

use std::sync::atomic::Ordering;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::{Capsule, Heap};
use steadfast_benches::{
    path_points, steadfast_path, widget_tree, HandLayout, HandPath, Layout, Path, Reader, Source,
    CHECKS,
};

fn checked_mutation(c: &mut Criterion) {
    let mut g = c.benchmark_group("checked mutation");
    for n in [10, 1_000, 100_000] {
        let mut hand = HandPath::new(path_points(n), (0, 0)).unwrap();
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("hand-written", n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                black_box(hand.set_last((i, 2)).is_ok())
            })
        });
        // The same method saving the whole field first, as steadfast's rollback does: the
        // difference to the row above is the snapshot's cost.
        let mut snap = HandPath::new(path_points(n), (0, 0)).unwrap();
        let mut i = 0;
        g.bench_with_input(
            BenchmarkId::new("hand-written, snapshot like steadfast", n),
            &n,
            |b, _| {
                b.iter(|| {
                    i += 1;
                    black_box(snap.set_last_snapshot((i, 2)).is_ok())
                })
            },
        );
        let (mut heap, path) = steadfast_path(n);
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("steadfast", n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                black_box(Path::set_last(&mut heap, &path, (i, 2)).is_ok())
            })
        });
    }
    g.finish();
}

/// A box of 100 edits: steadfast checks once at its end; the hand-written methods check
/// after each edit (visible-state semantics).
fn box_of_edits(c: &mut Criterion) {
    let mut g = c.benchmark_group("100 edits");
    let n = 1_000;
    let mut hand = HandPath::new(path_points(n), (0, 0)).unwrap();
    let mut i = 0;
    g.bench_function("hand-written, checked per edit", |b| {
        b.iter(|| {
            for _ in 0..100 {
                i += 1;
                hand.set_last((i, 2)).unwrap();
            }
            black_box(hand.points().len())
        })
    });
    let (mut heap, path) = steadfast_path(n);
    let mut i = 0;
    g.bench_function("steadfast, one box", |b| {
        b.iter(|| {
            heap.open_box(&path, |p| {
                for _ in 0..100 {
                    i += 1;
                    if let Some(last) = p.points.last_mut() {
                        *last = (i, 2);
                    }
                }
            })
            .unwrap();
            black_box(heap[&path].points.len())
        })
    });
    g.finish();
}

/// One write invalidating `k` readers, in heaps of 1,000 and 1,000,000 other objects: the
/// time must not depend on the heap's size, and grow linearly in `k`. Each iteration writes
/// and reads the `k` readers back (so the next write finds them valid again).
fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("one write, k readers");
    g.sample_size(20);
    for others in [1_000, 1_000_000] {
        for k in [10, 100, 1_000] {
            let mut heap = Heap::new();
            for v in 0..others {
                heap.mutable(Source { v }).unwrap();
            }
            let source = heap.mutable(Source { v: 0 }).unwrap();
            let readers: Vec<_> = (0..k)
                .map(|_| {
                    heap.mutable(Reader {
                        source: source.clone(),
                    })
                    .unwrap()
                })
                .collect();
            for r in &readers {
                Reader::double(&heap, r).unwrap();
            }
            let mut i = 0;
            g.bench_function(BenchmarkId::new(format!("heap of {others}"), k), |b| {
                b.iter(|| {
                    i += 1;
                    Source::set_v(&mut heap, &source, i).unwrap();
                    for r in &readers {
                        black_box(Reader::double(&heap, r).unwrap());
                    }
                })
            });
        }
    }
    g.finish();
}

/// Runs `f` once and returns how many invariant checks it made.
fn checks(f: impl FnOnce()) -> usize {
    CHECKS.store(0, Ordering::Relaxed);
    f();
    CHECKS.swap(0, Ordering::Relaxed)
}

/// The tutorial's path: 100 single edits, then 100 edits at once. steadfast: 100 mutators and
/// one box; visible-state contracts: 200 calls, each checked on entry and exit.
fn path_scenario_steadfast(heap: &mut Heap, path: &Capsule<Path>, round: i32) {
    for k in 0..100 {
        Path::set_last(heap, path, (round + k, 2)).unwrap();
    }
    heap.open_box(path, |p| {
        for k in 0..100 {
            if let Some(last) = p.points.last_mut() {
                *last = (round + k, 3);
            }
        }
    })
    .unwrap();
}

fn path_scenario_contracts(path: &mut HandPath, round: i32) {
    for k in 0..100 {
        path.set_last_contract((round + k, 2)).unwrap();
    }
    for k in 0..100 {
        path.set_last_contract((round + k, 3)).unwrap();
    }
}

/// A GUI frame: each of the ten panels moves right, then back, with its buttons.
fn widget_frame_steadfast(heap: &mut Heap, layout: &Capsule<Layout>) {
    for panel in (1..111).step_by(11) {
        Layout::move_subtree(heap, layout, panel, 1, 0).unwrap();
        Layout::move_subtree(heap, layout, panel, -1, 0).unwrap();
    }
}

fn widget_frame_contracts(layout: &mut HandLayout) {
    for panel in (1..111).step_by(11) {
        layout.move_subtree(panel, 1, 0).unwrap();
        layout.move_subtree(panel, -1, 0).unwrap();
    }
}

/// The benchmarks issue's workload 6: invariant executions and time, steadfast against
/// visible-state contracts, on the path and on a widget tree.
fn check_counts(c: &mut Criterion) {
    let (mut heap, path) = steadfast_path(1_000);
    let mut hand_path = HandPath::new(path_points(1_000), (0, 0)).unwrap();
    let layout = heap
        .capsule(Layout {
            widgets: widget_tree(),
        })
        .unwrap();
    let mut hand_layout = HandLayout::new(widget_tree()).unwrap();
    println!(
        "invariant checks: path scenario: steadfast {}, visible-state contracts {}; \
         widget frame: steadfast {}, visible-state contracts {}",
        checks(|| path_scenario_steadfast(&mut heap, &path, 0)),
        checks(|| path_scenario_contracts(&mut hand_path, 0)),
        checks(|| widget_frame_steadfast(&mut heap, &layout)),
        checks(|| widget_frame_contracts(&mut hand_layout)),
    );
    assert_eq!(heap[&layout].widgets, hand_layout.widgets());
    let mut g = c.benchmark_group("check counts");
    let mut round = 0;
    g.bench_function("path scenario, steadfast", |b| {
        b.iter(|| {
            round += 1;
            path_scenario_steadfast(&mut heap, &path, round);
        })
    });
    g.bench_function("path scenario, visible-state contracts", |b| {
        b.iter(|| {
            round += 1;
            path_scenario_contracts(&mut hand_path, round);
        })
    });
    g.bench_function("widget frame, steadfast", |b| {
        b.iter(|| widget_frame_steadfast(&mut heap, &layout))
    });
    g.bench_function("widget frame, visible-state contracts", |b| {
        b.iter(|| widget_frame_contracts(&mut hand_layout))
    });
    g.finish();
}

criterion_group!(
    benches,
    checked_mutation,
    box_of_edits,
    scaling,
    check_counts
);
criterion_main!(benches);
