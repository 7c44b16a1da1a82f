//! The `tracing` feature: one `op` span per operation, and `invalidate`, `recompute`,
//! `invariant` and `rollback` events in the order the barrier does the work; no event on a
//! hit. Checked with a subscriber that records what it is given.
#![cfg(feature = "tracing")]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use steadfast::{cached, capsule, mutable, Ctx, Heap, Mutable};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records spans and events as lines: `span op op=set …`, `event recompute cache=… …`.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.rest, " {}={value}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "steadfast"
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        self.lines
            .lock()
            .unwrap()
            .push(format!("span {}{}", span.metadata().name(), fields.rest));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.lines
            .lock()
            .unwrap()
            .push(format!("event {}{}", fields.message, fields.rest));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn recorded(f: impl FnOnce()) -> Vec<String> {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), f);
    let lines = recorder.lines.lock().unwrap().clone();
    lines
}

#[derive(Debug)]
struct TooBig;

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the limit")
    }
}

impl std::error::Error for TooBig {}

#[mutable]
struct Counter {
    n: i64,
}

#[cached]
impl Counter {}

#[mutable]
struct Limit {
    of: Mutable<Counter>,
}

#[cached]
impl Limit {
    #[cache(now)]
    fn within(of: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> Result<(), TooBig> {
        match ctx.field_of(of, &Counter::N) {
            Ok(&n) if n > 100 => Err(TooBig),
            _ => Ok(()),
        }
    }
}

fn kinds(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l.split(' ').take(2).last().unwrap())
        .collect()
}

#[test]
fn a_barrier_write_is_one_span_then_invalidate_recompute_invariant() {
    let mut heap = Heap::new();
    let c = heap.mutable(Counter { n: 1 }).unwrap();
    let l = heap.mutable(Limit { of: c.clone() }).unwrap();
    let lines = recorded(|| Counter::set_n(&mut heap, &c, 2).unwrap());
    assert_eq!(
        kinds(&lines),
        ["op", "invalidate", "recompute", "invariant"],
        "{lines:#?}"
    );
    assert!(
        lines[0].starts_with("span op op=set object=#1v1@heap"),
        "{lines:#?}"
    );
    assert!(lines[0].ends_with("type_name=Counter"), "{lines:#?}");
    let within = format!("cache=Limit::within of {}", l.id());
    assert!(
        lines[1].contains(&within) && lines[1].ends_with("state=dirty"),
        "{lines:#?}"
    );
    assert!(
        lines[2].contains(&within) && lines[2].ends_with("changed=false"),
        "{lines:#?}"
    );
    assert!(
        lines[3].contains(&within) && lines[3].ends_with("holds=true"),
        "{lines:#?}"
    );
}

#[test]
fn a_refused_write_ends_with_a_rollback() {
    let mut heap = Heap::new();
    let c = heap.mutable(Counter { n: 1 }).unwrap();
    heap.mutable(Limit { of: c.clone() }).unwrap();
    let lines = recorded(|| assert!(Counter::set_n(&mut heap, &c, 1_000).is_err()));
    assert_eq!(
        kinds(&lines),
        ["op", "invalidate", "recompute", "invariant", "rollback"],
        "{lines:#?}"
    );
    assert!(lines[3].ends_with("holds=false"), "{lines:#?}");
}

#[capsule]
struct Point {
    x: f64,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn doubled(x: &f64) -> f64 {
        2.0 * x
    }
}

#[test]
fn hits_trace_nothing_and_each_operation_is_one_span() {
    let mut heap = Heap::new();
    let lines = recorded(|| {
        let p = heap.capsule(Point { x: 1.0 }).unwrap();
        Point::doubled(&heap, &p).unwrap();
        for _ in 0..100 {
            Point::doubled(&heap, &p).unwrap();
        }
        Point::set_x(&mut heap, &p, 2.0).unwrap();
        heap.open_box(&p, |p| p.x = 3.0).unwrap();
        heap.transaction(|tx| Point::set_x(tx, &p, 4.0)).unwrap();
        heap.remove(&p).unwrap();
    });
    let spans: Vec<&String> = lines.iter().filter(|l| l.starts_with("span")).collect();
    assert_eq!(spans.len(), 5, "{lines:#?}");
    let ops: Vec<&str> = spans.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(
        ops,
        [
            "op=create",
            "op=write",
            "op=box",
            "op=transaction",
            "op=remove"
        ],
        "{lines:#?}"
    );
    assert_eq!(spans[0].as_str(), "span op op=create type_name=Point");
    // The first read computes the cache on the point's own path, untraced; the hundred
    // hits trace nothing; the setter recomputes the cache read since it was computed, and
    // the box, with no read between, invalidates it; the transaction finds it invalid.
    let events: Vec<&String> = lines.iter().filter(|l| l.starts_with("event")).collect();
    assert_eq!(
        events,
        [
            "event recompute cache=Point::doubled changed=true",
            "event invalidate cache=Point::doubled state=dirty"
        ],
        "{lines:#?}"
    );
}
