//! The dependency graph as DOT: a golden file for the guide's `Path`, byte-identical across
//! heaps and runs, bounded neighbourhoods, typed errors for bad input, and (where Graphviz
//! is installed) accepted by `dot`.

use std::path::PathBuf;

use steadfast::{cached, capsule, mutable, Ctx, Dot, Error, Heap, Mutable};

type Point = (i32, i32);

#[derive(Debug)]
struct OnPath(Point);

impl std::fmt::Display for OnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

#[capsule]
struct Path {
    #[capsule]
    points: Vec<Point>,
    location: Point,
}

#[cached]
impl Path {
    #[cache(lazy_read)]
    fn len(points: &Vec<Point>) -> usize {
        points.len()
    }

    #[cache(now)]
    fn off_path(points: &Vec<Point>, location: &Point) -> Result<(), OnPath> {
        match points.contains(location) {
            true => Err(OnPath(*location)),
            false => Ok(()),
        }
    }
}

/// The guide's path, its length read.
fn guide_path(heap: &mut Heap) -> steadfast::Capsule<Path> {
    let path = heap
        .capsule(Path {
            points: vec![(1, 0), (2, 0), (7, 7)],
            location: (0, 0),
        })
        .unwrap();
    Path::len(heap, &path).unwrap();
    path
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares with the golden file; `STEADFAST_BLESS=1` rewrites it.
fn check_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("STEADFAST_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STEADFAST_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
}

fn draw(heap: &Heap, dot: &Dot) -> String {
    let mut out = String::new();
    heap.write_dot(&mut out, dot).unwrap();
    out
}

#[test]
fn the_guides_path_draws_as_its_golden_file() {
    let mut heap = Heap::new();
    guide_path(&mut heap);
    check_golden("path.dot", &draw(&heap, &Dot::all()));
}

#[test]
fn two_heaps_built_alike_draw_the_same_bytes() {
    let (mut a, mut b) = (Heap::new(), Heap::new());
    guide_path(&mut a);
    guide_path(&mut b);
    assert_eq!(draw(&a, &Dot::all()), draw(&b, &Dot::all()));
}

// A chain of counters read by a total, to draw edges between objects.

#[mutable]
struct Counter {
    n: i64,
    label: String,
}

#[cached]
impl Counter {
    #[cache(lazy_read)]
    fn doubled(n: &i64) -> i64 {
        2 * n
    }
}

#[mutable]
struct Total {
    of: Vec<Mutable<Counter>>,
}

#[cached]
impl Total {
    #[cache(lazy_read)]
    fn sum(of: &Vec<Mutable<Counter>>, ctx: &Ctx<'_, Self>) -> i64 {
        of.iter()
            .map(|c| ctx.field_of(c, &Counter::N).copied().unwrap_or(0))
            .sum()
    }

    #[cache(lazy_read)]
    fn doubled_sum(of: &Vec<Mutable<Counter>>, ctx: &Ctx<'_, Self>) -> i64 {
        of.iter()
            .map(|c| ctx.cached(c, &Counter::DOUBLED).copied().unwrap_or(0))
            .sum()
    }
}

fn totals(heap: &mut Heap) -> (Vec<Mutable<Counter>>, Mutable<Total>) {
    let counters: Vec<_> = (0..3)
        .map(|i| {
            heap.mutable(Counter {
                n: i,
                label: format!("c{i}"),
            })
            .unwrap()
        })
        .collect();
    let total = heap
        .mutable(Total {
            of: counters.clone(),
        })
        .unwrap();
    Total::sum(heap, &total).unwrap();
    Total::doubled_sum(heap, &total).unwrap();
    (counters, total)
}

#[test]
fn reads_of_other_objects_are_edges_and_states_are_colours() {
    let mut heap = Heap::new();
    let (counters, total) = totals(&mut heap);
    // The first write recomputes what was read (the next read is a hit); the second, with
    // no read between, leaves the sum invalid and the doubled sum to check.
    Counter::set_n(&mut heap, &counters[1], 10).unwrap();
    Counter::set_n(&mut heap, &counters[1], 20).unwrap();
    let dot = draw(&heap, &Dot::all());
    check_golden("totals.dot", &dot);
    // A field read by another object's cache, and a cache read by one.
    assert!(dot.contains("\"o1f0\" -> \"o4c0\";"), "{dot}");
    assert!(dot.contains("\"o1c0\" -> \"o4c1\";"), "{dot}");
    // The label was never read: no edge from it.
    assert!(!dot.contains("\"o1f1\" ->"), "{dot}");
    assert!(dot.contains("label=\"sum\\nlazy_read · invalid\""), "{dot}");
    assert!(
        dot.contains("label=\"doubled_sum\\nlazy_read · to check\""),
        "{dot}"
    );
    assert_eq!(*Total::sum(&heap, &total).unwrap(), 22);
}

#[test]
fn around_draws_a_neighbourhood_of_the_given_depth() {
    let mut heap = Heap::new();
    let (counters, total) = totals(&mut heap);
    let lone = guide_path(&mut heap);
    let clusters = |dot: &str| dot.matches("subgraph").count();
    assert_eq!(clusters(&draw(&heap, &Dot::all())), 5);
    assert_eq!(clusters(&draw(&heap, &Dot::around(&counters[0], 0))), 1);
    // One edge away from a counter: the total only; two: the other counters too.
    assert_eq!(clusters(&draw(&heap, &Dot::around(&counters[0], 1))), 2);
    assert_eq!(clusters(&draw(&heap, &Dot::around(&counters[0], 2))), 4);
    assert_eq!(clusters(&draw(&heap, &Dot::around(&total, 1))), 4);
    assert_eq!(clusters(&draw(&heap, &Dot::around(&lone, 5))), 1);
}

#[test]
fn a_drawing_over_its_limit_is_refused_not_cut() {
    let mut heap = Heap::new();
    let (counters, _total) = totals(&mut heap);
    let mut out = String::new();
    let err = heap.write_dot(&mut out, &Dot::all().limit(3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                objects: 4,
                limit: 3
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the drawing would hold 4 objects, more than its limit of 3"
    );
    assert!(out.is_empty());
    let err = heap
        .write_dot(&mut out, &Dot::around(&counters[0], 2).limit(3))
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 3, .. }), "{err}");
    assert!(out.is_empty());
    heap.write_dot(&mut out, &Dot::all().limit(4)).unwrap();
}

#[test]
fn around_a_removed_or_foreign_object_is_an_error() {
    let mut heap = Heap::new();
    let c = heap
        .mutable(Counter {
            n: 1,
            label: String::new(),
        })
        .unwrap();
    let other = Heap::new();
    let mut out = String::new();
    assert!(matches!(
        other.write_dot(&mut out, &Dot::around(&c, 1)),
        Err(Error::ForeignHandle { .. })
    ));
    heap.remove(&c).unwrap();
    assert!(matches!(
        heap.write_dot(&mut out, &Dot::around(&c, 1)),
        Err(Error::Removed { .. })
    ));
    assert!(out.is_empty());
    other.write_dot(&mut out, &Dot::all()).unwrap();
}

#[test]
fn a_failing_writer_is_an_error_with_its_source() {
    struct Full;
    impl std::fmt::Write for Full {
        fn write_str(&mut self, _: &str) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }
    let mut heap = Heap::new();
    guide_path(&mut heap);
    let err = heap.write_dot(&mut Full, &Dot::all()).unwrap_err();
    assert!(matches!(err, Error::Write { .. }));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn graphviz_accepts_the_drawings() {
    let Ok(status) = std::process::Command::new("dot").arg("-V").output() else {
        eprintln!("Graphviz is not installed: skipped");
        return;
    };
    assert!(status.status.success());
    for name in ["path.dot", "totals.dot"] {
        let out = std::process::Command::new("dot")
            .arg("-Tsvg")
            .arg(golden(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}
