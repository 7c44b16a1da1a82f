//! The benchmarks issue's workload 7: memory over ten million mutations of objects with
//! caches and cross-object dependencies must stay flat (peak resident memory at 1M, 5M and
//! 10M mutations within 10% of each other).
//!
//! `cargo bench -p steadfast-benches --bench memory` (full: 10,000,000 mutations), or with
//! `STEADFAST_MUTATIONS=100000` for a quick run. Prints a table; Linux only (reads
//! `/proc/self/status`).

#![allow(missing_docs)]

use std::hint::black_box;

use steadfast::{cached, mutable, Ctx, Heap, Mutable};

#[mutable]
struct Source {
    v: i64,
}

#[cached]
impl Source {
    #[cache(lazy_read)]
    fn parity(v: &i64) -> bool {
        v % 2 == 0
    }
}

/// Reads two sources: one's field and the other's cache, so writes reach it both ways.
#[mutable]
struct Reader {
    a: Mutable<Source>,
    b: Mutable<Source>,
}

#[cached]
impl Reader {
    #[cache(lazy_read)]
    fn sum(a: &Mutable<Source>, b: &Mutable<Source>, ctx: &Ctx<'_, Self>) -> i64 {
        let even = ctx.cached(b, &Source::PARITY).copied().unwrap_or(false);
        ctx.field_of(a, &Source::V).copied().unwrap_or(0) + i64::from(even)
    }
}

/// Peak and current resident memory, in KiB.
fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() {
    // Ignore criterion's flags (`--bench`, `--quick`...): this bench measures memory only.
    let total: u64 = std::env::var("STEADFAST_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let (sources, readers) = (1_000usize, 1_000usize);
    let mut heap = Heap::new();
    let src: Vec<_> = (0..sources)
        .map(|v| heap.mutable(Source { v: v as i64 }).unwrap())
        .collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let rdr: Vec<_> = (0..readers)
        .map(|_| {
            let (a, b) = (src[next(sources)].clone(), src[next(sources)].clone());
            heap.mutable(Reader { a, b }).unwrap()
        })
        .collect();
    let checkpoints = [total / 10, total / 2, total];
    println!("mutations | peak resident (KiB) | resident (KiB) | dependency edges");
    let mut done = 0;
    for &checkpoint in &checkpoints {
        while done < checkpoint {
            let s = &src[next(sources)];
            Source::set_v(&mut heap, s, done as i64).unwrap();
            black_box(Reader::sum(&heap, &rdr[next(readers)]).unwrap());
            done += 1;
        }
        let (peak, now) = resident();
        println!("{done} | {peak} | {now} | {}", heap.edges());
    }
}
