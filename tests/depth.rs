//! G7, no hidden limits: chains of caches a million deep are evaluated, and cycles a million
//! long are reported, without overflowing the stack, on a thread with a 2 MiB stack; writes,
//! rollbacks, freezing, normalizing, removing and dropping such graphs work too.
//!
//! Each test reads its whole chain in one read, as a user would.

use steadfast::{cached, capsule, mutable, Ctx, Error, Heap, Mutable};

const DEEP: usize = 1_000_000;

/// A spreadsheet column of running totals: each link's `sum` is its value plus the sum of
/// the link below.
#[mutable]
#[derive(Clone)]
struct Link {
    value: i64,
    below: Option<Mutable<Link>>,
}

#[cached]
impl Link {
    /// `None` if a link below was removed. A read error (a cycle) abandons the computation
    /// whatever it returns, so `?` is all it takes.
    #[cache(lazy_read)]
    fn sum(value: &i64, below: &Option<Mutable<Link>>, ctx: &Ctx<'_, Self>) -> Option<i64> {
        match below {
            Some(below) => Some(value + (*ctx.cached(below, &Link::SUM).ok()?)?),
            None => Some(*value),
        }
    }
}

#[derive(Debug)]
struct TooMuch(i64);
impl std::fmt::Display for TooMuch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the total {} is over the limit", self.0)
    }
}
impl std::error::Error for TooMuch {}

/// An invariant over the whole column: rechecked by every write that changes its total.
#[capsule]
struct Limit {
    top: Mutable<Link>,
    limit: i64,
}

#[cached]
impl Limit {
    #[cache(now)]
    fn within(top: &Mutable<Link>, limit: &i64, ctx: &Ctx<'_, Self>) -> Result<(), TooMuch> {
        match ctx.cached(top, &Link::SUM) {
            Ok(Some(total)) if total > limit => Err(TooMuch(*total)),
            _ => Ok(()),
        }
    }
}

/// Runs `f` on a thread with a 2 MiB stack (the size of a test thread, a quarter of a main
/// thread's), one test at a time: a million-deep read in a debug build takes about 6 GiB
/// of stack while it runs (see `docs/semantics.md`), and the tests should not add those up.
fn on_small_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .expect("no panic")
    })
}

/// A column of `n` links of value 1, bottom first; returns the links.
fn column(heap: &mut Heap, n: usize) -> Vec<Mutable<Link>> {
    let mut links: Vec<Mutable<Link>> = Vec::with_capacity(n);
    for _ in 0..n {
        let below = links.last().cloned();
        links.push(heap.mutable(Link { value: 1, below }).unwrap());
    }
    links
}

#[test]
fn the_first_read_of_a_million_deep_chain_returns_its_value() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        // Every link below was computed on the way.
        assert_eq!(
            *Link::sum(&heap, &links[DEEP / 2]).unwrap(),
            Some(DEEP as i64 / 2 + 1)
        );
        // The first write recomputes the sums that were read; the second finds them unread
        // since, so it only marks them, and the next read walks the million links again
        // (checking each input, recomputing each sum).
        Link::set_value(&mut heap, &links[0], 2).unwrap();
        Link::set_value(&mut heap, &links[0], 3).unwrap();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64 + 2));
    });
}

#[test]
fn a_million_deep_chain_read_through_an_overlay_that_wrote_its_bottom() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        let ov = heap.overlay();
        // Every sum reads the bottom link, through the others: all computed in the overlay,
        // in one read.
        Link::set_value(&mut heap.layer_mut(&ov).unwrap(), &links[0], 5).unwrap();
        let layer = heap.layer(&ov).unwrap();
        assert_eq!(
            *layer.cached(&top, &Link::SUM).unwrap(),
            Some(DEEP as i64 + 4)
        );
        assert_eq!(layer.cells(), DEEP);
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        heap.discard(ov).unwrap();
    });
}

#[test]
fn a_write_at_the_bottom_of_a_read_chain_and_its_rollback() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        let guard = heap
            .capsule(Limit {
                top: top.clone(),
                limit: DEEP as i64 + 10,
            })
            .unwrap();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        // Within the limit: every sum above the bottom changes, and the invariant holds.
        Link::set_value(&mut heap, &links[0], 5).unwrap();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64 + 4));
        // Over it: the write is refused and all million sums are as before.
        let err = Link::set_value(&mut heap, &links[0], 100).unwrap_err();
        assert!(matches!(err, Error::Invariant { .. }), "{err}");
        assert_eq!(*heap[&links[0]].value(), 5);
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64 + 4));
        assert_eq!(*Link::sum(&heap, &links[1]).unwrap(), Some(6));
        drop(guard);
    });
}

#[test]
fn a_cycle_of_a_million_cells_is_an_error_with_a_short_message() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        // Every sum was read: closing the cycle recomputes them at once, which meets the
        // cycle; the write stands (no invariant lies on it) and the reads report it.
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        Link::set_below(&mut heap, &links[0], Some(top.clone())).unwrap();
        let err = Link::sum(&heap, &top).unwrap_err();
        let Error::Cycle { chain } = &err else {
            panic!("{err}")
        };
        assert_eq!(chain.len(), DEEP);
        assert_eq!(chain[0].object, top.id());
        assert_eq!(chain[DEEP - 1].object, links[0].id());
        let message = err.to_string();
        assert!(message.len() < 1_000, "{} characters", message.len());
        assert!(
            message.starts_with("cycle of 1000000 caches: "),
            "{message}"
        );
        assert!(message.contains("(999992 more)"), "{message}");
        // Not poisoned: the same error again, and breaking the cycle recovers.
        assert!(matches!(
            Link::sum(&heap, &links[7]),
            Err(Error::Cycle { .. })
        ));
        Link::set_below(&mut heap, &links[0], None).unwrap();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
    });
}

#[test]
fn a_chain_closing_into_a_cycle_reports_the_cycle_only() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        // The lowest ten links form a ring; the rest hang from it.
        Link::set_below(&mut heap, &links[0], Some(links[9].clone())).unwrap();
        let err = Link::sum(&heap, links.last().unwrap()).unwrap_err();
        let Error::Cycle { chain } = &err else {
            panic!("{err}")
        };
        let ids: Vec<_> = chain.iter().map(|c| c.object).collect();
        let ring: Vec<_> = links[..10].iter().rev().map(|l| l.id()).collect();
        assert_eq!(ids, ring, "{err}");
    });
}

#[test]
fn a_write_closing_a_cycle_under_an_invariant_is_refused_and_rolled_back() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        let _guard = heap
            .capsule(Limit {
                top: top.clone(),
                limit: i64::MAX,
            })
            .unwrap();
        let err = Link::set_below(&mut heap, &links[0], Some(top.clone())).unwrap_err();
        let Error::Cycle { chain } = &err else {
            panic!("{err}")
        };
        assert_eq!(chain.len(), DEEP);
        assert!(heap[&links[0]].below().is_none());
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
    });
}

#[test]
fn removing_the_bottom_of_a_read_chain_and_dropping_the_heap() {
    on_small_stack(|| {
        let mut heap = Heap::new();
        let links = column(&mut heap, DEEP);
        let top = links.last().unwrap().clone();
        assert_eq!(*Link::sum(&heap, &top).unwrap(), Some(DEEP as i64));
        let bottom = heap.remove(&links[0]).unwrap();
        assert_eq!(bottom.value, 1);
        assert_eq!(*Link::sum(&heap, &top).unwrap(), None);
        drop(heap);
        drop(links);
    });
}

/// A node of an immutable graph that a capsule owns until it is frozen.
#[mutable]
struct Node {
    label: u8,
    next: Option<Mutable<Node>>,
}

#[cached]
impl Node {}

#[capsule]
struct Graph {
    entry: Mutable<Node>,
}

#[cached]
impl Graph {}

#[test]
fn freezing_normalizing_and_removing_a_million_node_chain_and_ring() {
    on_small_stack(|| {
        for ring in [false, true] {
            let mut heap = Heap::new();
            let first = heap
                .mutable(Node {
                    label: 0,
                    next: None,
                })
                .unwrap();
            let mut last = first.clone();
            let mut third = None;
            for i in 1..DEEP {
                last = heap
                    .mutable(Node {
                        label: (i % 2) as u8,
                        next: Some(last),
                    })
                    .unwrap();
                if i == 2 {
                    third = Some(last.clone());
                }
            }
            if ring {
                Node::set_next(&mut heap, &first, Some(last.clone())).unwrap();
            }
            let graph = heap.capsule(Graph { entry: last }).unwrap();
            let graph = heap.freeze(graph).unwrap();
            // A ring of alternating labels minimizes to two classes: the first and the third
            // node (both labelled 0) are equal; on a chain they are at different depths.
            let a = heap.as_imm(&first).unwrap();
            let c = heap.as_imm(&third.unwrap()).unwrap();
            assert_eq!(
                heap.class_of(&a).unwrap() == heap.class_of(&c).unwrap(),
                ring
            );
            assert_eq!(heap.len(), DEEP + 1);
            assert_eq!(heap.remove_graph(&graph).unwrap(), DEEP + 1);
            assert!(heap.is_empty());
        }
    });
}
