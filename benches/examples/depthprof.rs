//! First reads of a chain of caches, for instruction counts: `depthprof N REPS` builds a
//! chain `N` deep and reads its top, `REPS` times.

use steadfast::{cached, mutable, Ctx, Heap, Mutable};

#[mutable]
struct Link {
    value: i64,
    below: Option<Mutable<Link>>,
}

#[cached]
impl Link {
    #[cache(lazy_read)]
    fn sum(value: &i64, below: &Option<Mutable<Link>>, ctx: &Ctx<'_, Self>) -> Option<i64> {
        match below {
            Some(below) => Some(value + (*ctx.cached(below, &Link::SUM).ok()?)?),
            None => Some(*value),
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let mut total = 0;
    for _ in 0..reps {
        let mut heap = Heap::new();
        let mut below = None;
        for _ in 0..n {
            below = Some(heap.mutable(Link { value: 1, below }).unwrap());
        }
        let top = below.unwrap();
        total += Link::sum(&heap, &top).unwrap().unwrap();
    }
    println!("{total}");
}
