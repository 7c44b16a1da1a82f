//! `Heap::explain`: the state and the reads of a cache always; with the `explain`
//! feature, the chain of causes of its last invalidation, in which a rolled-back operation
//! never appears.

use steadfast::{cached, capsule, mutable, CellState, Ctx, Error, Heap, Input, Mutable};

#[capsule]
struct Point {
    x: f64,
    label: String,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn doubled(x: &f64) -> f64 {
        2.0 * x
    }
}

#[derive(Debug)]
struct TooBig(i64);

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is over the limit", self.0)
    }
}

impl std::error::Error for TooBig {}

#[mutable]
struct Counter {
    n: i64,
}

#[cached]
impl Counter {
    #[cache(lazy_read)]
    fn doubled(n: &i64) -> i64 {
        2 * n
    }
}

#[mutable]
struct Watcher {
    of: Mutable<Counter>,
}

#[cached]
impl Watcher {
    #[cache(now)]
    fn within(of: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> Result<(), TooBig> {
        match ctx.field_of(of, &Counter::N) {
            Ok(&n) if n > 100 => Err(TooBig(n)),
            _ => Ok(()),
        }
    }

    #[cache(lazy_read)]
    fn seen(of: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> i64 {
        ctx.field_of(of, &Counter::N).copied().unwrap_or(0)
    }

    #[cache(lazy_read)]
    fn quadrupled(of: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> i64 {
        2 * ctx.cached(of, &Counter::DOUBLED).copied().unwrap_or(0)
    }
}

fn watched(heap: &mut Heap) -> (Mutable<Counter>, Mutable<Watcher>) {
    let c = heap.mutable(Counter { n: 1 }).unwrap();
    let w = heap.mutable(Watcher { of: c.clone() }).unwrap();
    Watcher::seen(heap, &w).unwrap();
    Watcher::quadrupled(heap, &w).unwrap();
    (c, w)
}

#[test]
fn a_valid_cache_is_valid_and_lists_what_it_reads_and_what_reads_it() {
    let mut heap = Heap::new();
    let (c, w) = watched(&mut heap);
    let why = heap.explain(&c, &Counter::DOUBLED).unwrap();
    assert_eq!(why.state, CellState::Valid);
    assert!(why.causes.is_empty());
    assert_eq!(why.cache.cache, "doubled");
    assert_eq!(
        why.reads,
        vec![Input::Field {
            object: c.id(),
            type_name: std::any::type_name::<Counter>(),
            field: "n",
        }]
    );
    assert_eq!(why.read_by.len(), 1);
    assert_eq!(why.read_by[0].cache, "quadrupled");
    let why = heap.explain(&w, &Watcher::QUADRUPLED).unwrap();
    assert!(
        matches!(&why.reads[..], [Input::Field { field: "of", .. }, Input::Cached(name)] if name.cache == "doubled"),
        "{why}"
    );
    let shown = why.to_string();
    assert!(shown.starts_with("Watcher::quadrupled of #"), "{shown}");
    assert!(shown.contains(": valid (lazy_read)"), "{shown}");
    assert!(shown.contains("\n  reads Watcher::of of #"), "{shown}");
    assert!(shown.contains(", Counter::doubled of #"), "{shown}");
    let why = heap.explain(&w, &Watcher::WITHIN).unwrap();
    assert!(why.invariant);
    assert!(why.to_string().contains("(now, invariant)"), "{why}");
}

#[test]
fn a_removed_or_foreign_handle_is_an_error() {
    let mut heap = Heap::new();
    let (c, _w) = watched(&mut heap);
    let other = Heap::new();
    assert!(matches!(
        other.explain(&c, &Counter::DOUBLED),
        Err(Error::ForeignHandle { .. })
    ));
    let lone = heap.mutable(Counter { n: 3 }).unwrap();
    heap.remove(&lone).unwrap();
    assert!(matches!(
        heap.explain(&lone, &Counter::DOUBLED),
        Err(Error::Removed { .. })
    ));
}

#[test]
fn the_state_follows_writes_and_reads() {
    let mut heap = Heap::new();
    let p = heap
        .capsule(Point {
            x: 1.0,
            label: "p".into(),
        })
        .unwrap();
    assert_eq!(
        heap.explain(&p, &Point::DOUBLED).unwrap().state,
        CellState::Invalid
    );
    Point::doubled(&heap, &p).unwrap();
    Point::set_label(&mut heap, &p, "q".into()).unwrap();
    assert_eq!(
        heap.explain(&p, &Point::DOUBLED).unwrap().state,
        CellState::Valid
    );
    // Read since computed: the first write recomputes it; the second invalidates it.
    Point::set_x(&mut heap, &p, 2.0).unwrap();
    assert_eq!(
        heap.explain(&p, &Point::DOUBLED).unwrap().state,
        CellState::Valid
    );
    Point::set_x(&mut heap, &p, 3.0).unwrap();
    assert_eq!(
        heap.explain(&p, &Point::DOUBLED).unwrap().state,
        CellState::Invalid
    );
}

#[cfg(feature = "explain")]
mod causes {
    use super::*;
    use steadfast::{Cause, Explain, Hop};

    fn wrote(hop: &Hop) -> Vec<&'static str> {
        match &hop.cause {
            Cause::Wrote(fields) => fields
                .iter()
                .map(|f| match f {
                    Input::Field { field, .. } => *field,
                    _ => panic!("a field"),
                })
                .collect(),
            other => panic!("not a write: {other:?}"),
        }
    }

    #[test]
    fn after_a_set_the_cause_names_the_field_and_after_another_field_it_is_valid() {
        let mut heap = Heap::new();
        let p = heap
            .capsule(Point {
                x: 1.0,
                label: "p".into(),
            })
            .unwrap();
        Point::set_x(&mut heap, &p, 2.0).unwrap();
        Point::set_label(&mut heap, &p, "q".into()).unwrap();
        let why = heap.explain(&p, &Point::DOUBLED).unwrap();
        assert_eq!(why.state, CellState::Invalid);
        assert_eq!(why.causes.len(), 1, "{why}");
        assert_eq!(wrote(&why.causes[0]), ["x"]);
        // A capsule's setter is a write through its writer.
        assert_eq!(why.causes[0].operation, "write");
        let shown = why.to_string();
        assert!(
            shown.contains(&format!(
                "\n  because op 1 (write) wrote Point::x of {}",
                p.id()
            )),
            "{shown}"
        );
        // A mutable object's setter is a set.
        let c = heap.mutable(Counter { n: 1 }).unwrap();
        Counter::set_n(&mut heap, &c, 2).unwrap();
        let why = heap.explain(&c, &Counter::DOUBLED).unwrap();
        assert_eq!((why.causes[0].op, why.causes[0].operation), (3, "set"));
    }

    #[test]
    fn a_chain_of_causes_goes_from_the_cache_to_the_write() {
        let mut heap = Heap::new();
        let (c, w) = watched(&mut heap);
        // The first write recomputes what was read since computed (the doubled value
        // is read again by the quadrupled one's recomputation); the second marks the
        // quadrupled value to check through the doubled one.
        Counter::set_n(&mut heap, &c, 2).unwrap();
        Counter::set_n(&mut heap, &c, 3).unwrap();
        let why = heap.explain(&w, &Watcher::QUADRUPLED).unwrap();
        assert_eq!(why.state, CellState::ToCheck);
        assert_eq!(why.causes.len(), 2, "{why}");
        assert!(
            matches!(&why.causes[0].cause, Cause::Invalidated(name) if name.cache == "doubled"),
            "{why}"
        );
        assert_eq!(wrote(&why.causes[1]), ["n"]);
        assert_eq!(why.causes[0].op, why.causes[1].op);
        let seen = heap.explain(&w, &Watcher::SEEN).unwrap();
        assert_eq!(seen.state, CellState::Invalid);
        assert_eq!(wrote(&seen.causes[0]), ["n"]);
    }

    #[test]
    fn a_refused_write_is_never_a_cause() {
        let mut heap = Heap::new();
        let (c, w) = watched(&mut heap);
        Counter::set_n(&mut heap, &c, 2).unwrap();
        Counter::set_n(&mut heap, &c, 3).unwrap();
        let before = heap.explain(&w, &Watcher::SEEN).unwrap();
        assert_eq!(before.causes.len(), 1);
        let refused = Counter::set_n(&mut heap, &c, 1_000);
        assert!(matches!(refused, Err(Error::Invariant { .. })));
        let after = heap.explain(&w, &Watcher::SEEN).unwrap();
        assert_eq!(after, before);
        // Nor in a transaction that rolls back, nor on the own path.
        let refused = heap.transaction(|tx| {
            Counter::set_n(tx, &c, 50)?;
            Counter::set_n(tx, &c, 500)
        });
        assert!(refused.is_err());
        assert_eq!(heap.explain(&w, &Watcher::SEEN).unwrap(), before);
        let p = heap
            .capsule(Point {
                x: 1.0,
                label: "p".into(),
            })
            .unwrap();
        Point::set_x(&mut heap, &p, 2.0).unwrap();
        let own = heap.explain(&p, &Point::DOUBLED).unwrap();
        let refused: Result<(), Error> = heap.transaction(|tx| {
            Point::set_x(tx, &p, 5.0)?;
            Err(Error::Removed {
                object: p.id(),
                type_name: "a refusal of the caller's own",
            })
        });
        assert!(refused.is_err());
        assert_eq!(heap.explain(&p, &Point::DOUBLED).unwrap(), own);
    }

    #[test]
    fn a_committed_transaction_is_the_cause() {
        let mut heap = Heap::new();
        let (c, w) = watched(&mut heap);
        // The first recomputes what was read; the second marks it.
        heap.transaction(|tx| {
            Counter::set_n(tx, &c, 5)?;
            Counter::set_n(tx, &c, 6)
        })
        .unwrap();
        heap.transaction(|tx| Counter::set_n(tx, &c, 8)).unwrap();
        let why = heap.explain(&w, &Watcher::SEEN).unwrap();
        assert_eq!(why.causes.last().unwrap().operation, "transaction", "{why}");
    }

    #[test]
    fn a_removal_is_a_cause() {
        let mut heap = Heap::new();
        let (c, w) = watched(&mut heap);
        Counter::set_n(&mut heap, &c, 2).unwrap();
        heap.remove(&c).unwrap();
        let why = heap.explain(&w, &Watcher::SEEN).unwrap();
        assert!(
            matches!(why.causes.last().unwrap().cause, Cause::Removed { object, .. } if object == c.id()),
            "{why}"
        );
        assert_eq!(why.causes.last().unwrap().operation, "remove");
    }

    #[mutable]
    struct Link {
        below: Option<Mutable<Link>>,
        v: i64,
    }

    #[cached]
    impl Link {
        #[cache(lazy_read)]
        fn sum(below: &Option<Mutable<Link>>, v: &i64, ctx: &Ctx<'_, Self>) -> i64 {
            v + below
                .as_ref()
                .map_or(0, |b| ctx.cached(b, &Link::SUM).copied().unwrap_or(0))
        }
    }

    #[test]
    fn a_long_chain_keeps_its_first_hops_and_the_write() {
        let mut heap = Heap::new();
        let bottom = heap.mutable(Link { below: None, v: 1 }).unwrap();
        let mut top = bottom.clone();
        for _ in 0..1_000 {
            top = heap
                .mutable(Link {
                    below: Some(top.clone()),
                    v: 1,
                })
                .unwrap();
        }
        Link::sum(&heap, &top).unwrap();
        Link::set_v(&mut heap, &bottom, 2).unwrap();
        Link::set_v(&mut heap, &bottom, 3).unwrap();
        let why = heap.explain(&top, &Link::SUM).unwrap();
        assert_eq!(why.causes.len(), Explain::MAX_HOPS, "{why}");
        // 1,000 links to the bottom's sum, then the write.
        assert_eq!(why.omitted + why.causes.len(), 1_001);
        assert_eq!(wrote(why.causes.last().unwrap()), ["v"]);
        assert!(why.to_string().contains(&format!("({} more)", why.omitted)));
    }
}
