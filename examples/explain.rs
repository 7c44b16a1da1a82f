//! Seeing why: the L42 tutorial's `Path` bug and its box fix, step by step, with what the
//! heap can tell about each step — the state of every cache and what it read
//! (`Heap::explain`), the dependency graph as a picture (`Heap::write_dot`, one DOT file
//! per step, rendered to SVG where Graphviz is installed), and the change feed of a
//! watched cache (`Heap::watch`).
//!
//! `cargo run --example explain` writes `target/explain/step-N.dot`; with
//! `--features explain,stats` it also prints the chain of causes of each invalidation and
//! what each step did. `cargo run --example explain -- DIR` writes to `DIR`.

use std::error::Error as _;
use std::fmt;
use std::path::{Path as FsPath, PathBuf};

use steadfast::{cached, capsule, Dot, Error, Heap};

type Point = (i32, i32);

#[capsule]
#[derive(Debug)]
struct Path {
    #[capsule]
    points: Vec<Point>,
    location: Point,
}

#[derive(Debug)]
struct OnPath(Point);

impl fmt::Display for OnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

#[cached]
impl Path {
    /// How many points the path has.
    #[cache(lazy_read)]
    fn len(points: &Vec<Point>) -> usize {
        points.len()
    }

    /// The farthest point from the origin (Manhattan distance), watched below.
    #[cache(lazy_read)]
    fn reach(points: &Vec<Point>) -> i32 {
        points
            .iter()
            .map(|p| p.0.abs() + p.1.abs())
            .max()
            .unwrap_or(0)
    }

    /// The invariant: the location is not one of the points.
    #[cache(now)]
    fn off_path(points: &Vec<Point>, location: &Point) -> Result<(), OnPath> {
        match points.contains(location) {
            true => Err(OnPath(*location)),
            false => Ok(()),
        }
    }

    /// Removes the points farther than `max` from the location.
    #[cache(clear)]
    fn remove_far(points: &mut Vec<Point>, location: &Point, max: i32) {
        points.retain(|p| (p.0 - location.0).abs() + (p.1 - location.1).abs() <= max);
    }
}

/// Writes the graph of this step, renders it if Graphviz is there, and prints what the
/// heap says about the path's caches.
struct Steps {
    dir: PathBuf,
    n: usize,
    #[cfg(feature = "stats")]
    before: steadfast::Stats,
}

impl Steps {
    fn show(
        &mut self,
        heap: &Heap,
        path: &steadfast::Capsule<Path>,
        title: &str,
    ) -> Result<(), Error> {
        self.n += 1;
        println!("\n== step {}: {title}", self.n);
        #[cfg(feature = "stats")]
        {
            let now = heap.stats();
            println!("did: {}", now.since(&self.before));
            self.before = now;
        }
        for why in [
            heap.explain(path, &Path::LEN)?,
            heap.explain(path, &Path::REACH)?,
            heap.explain(path, &Path::OFF_PATH)?,
        ] {
            println!("{why}");
        }
        let mut dot = String::new();
        heap.write_dot(&mut dot, &Dot::all())?;
        let file = self.dir.join(format!("step-{}.dot", self.n));
        std::fs::write(&file, dot).expect("the output directory is writable");
        render(&file);
        Ok(())
    }
}

/// `dot -Tsvg step-N.dot -o step-N.svg`, if Graphviz is installed.
fn render(file: &FsPath) {
    let svg = file.with_extension("svg");
    match std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(file)
        .arg("-o")
        .arg(&svg)
        .status()
    {
        Ok(status) if status.success() => println!("(drawn: {})", svg.display()),
        Ok(status) => println!("(dot failed on {}: {status})", file.display()),
        Err(_) => println!("(wrote {}; install Graphviz to draw it)", file.display()),
    }
}

fn main() -> Result<(), Error> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/explain"), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("the output directory can be made");
    if !cfg!(feature = "explain") {
        println!("(run with `--features explain,stats` to see causes and counts)");
    }
    let mut heap = Heap::new();
    let mut steps = Steps {
        dir,
        n: 0,
        #[cfg(feature = "stats")]
        before: heap.stats(),
    };

    let path = heap.capsule(Path {
        points: vec![(1, 0), (2, 0), (7, 7)],
        location: (0, 0),
    })?;
    Path::len(&heap, &path)?;
    let reach = heap.watch(&path, &Path::REACH)?;
    steps.show(&heap, &path, "a path, its length read, its reach watched")?;

    Path::remove_far(&mut heap, &path, 3)?;
    println!("changes: {:?}", heap.take_changes());
    steps.show(
        &heap,
        &path,
        "remove_far(3): one mutator; the length, read since it was computed, is recomputed",
    )?;

    let refused = Path::set_location(&mut heap, &path, (2, 0)).unwrap_err();
    println!(
        "refused: {refused}: {}",
        refused.source().expect("an invariant failure has a source")
    );
    println!("changes: {:?}", heap.take_changes());
    steps.show(
        &heap,
        &path,
        "the bug: moving onto a point, meaning to remove it next, is refused and rolled back: \
         nothing it did is a cause",
    )?;

    heap.open_box(&path, |raw| {
        raw.location = (2, 0);
        raw.points.retain(|&p| p != (2, 0));
    })?;
    println!("changes: {:?}", heap.take_changes());
    assert!(heap.take_changes().is_empty());
    steps.show(
        &heap,
        &path,
        "the fix: one box does both edits, checked once at its end; the length, not read \
         since, is left invalid",
    )?;
    println!("\nwatched: {reach}, now {}", Path::reach(&heap, &path)?);
    Ok(())
}
