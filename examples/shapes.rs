//! Immutable shapes: eager caches that compute on rayon's pool while the program goes on,
//! lazy caches shared by equal shapes, and a cyclic graph frozen into an immutable one
//! that normalizes to the same class however it was built.
//!
//! `cargo run --example shapes`

use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::{cached, capsule, imm, mutable, Error, Heap, Mutable};

static AREAS: AtomicUsize = AtomicUsize::new(0);

/// A polygon, immutable once made.
#[imm]
struct Polygon {
    name: String,
    points: Vec<(i64, i64)>,
}

#[cached]
impl Polygon {
    /// Twice the area (shoelace formula): computed on the pool right after creation.
    #[cache(eager)]
    fn double_area(&self) -> i64 {
        AREAS.fetch_add(1, Ordering::SeqCst);
        let n = self.points.len();
        (0..n)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % n]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum::<i64>()
            .abs()
    }

    /// The perimeter, rounded down: computed in parallel with the area.
    #[cache(eager)]
    fn perimeter(&self) -> u64 {
        let n = self.points.len();
        (0..n)
            .map(|i| {
                let (a, b) = (self.points[i], self.points[(i + 1) % n]);
                (((b.0 - a.0).pow(2) + (b.1 - a.1).pow(2)) as f64).sqrt()
            })
            .sum::<f64>() as u64
    }

    /// The bounding box: computed on first read, once for all equal polygons.
    #[cache(lazy)]
    fn bounds(&self) -> ((i64, i64), (i64, i64)) {
        let xs = self.points.iter().map(|p| p.0);
        let ys = self.points.iter().map(|p| p.1);
        (
            (xs.clone().min().unwrap_or(0), ys.clone().min().unwrap_or(0)),
            (xs.max().unwrap_or(0), ys.max().unwrap_or(0)),
        )
    }

    /// The mean x coordinate: divides by zero for a polygon without points, and the
    /// panic becomes a typed error at the read.
    #[cache(eager)]
    fn mean_x(&self) -> i64 {
        self.points.iter().map(|p| p.0).sum::<i64>() / self.points.len() as i64
    }
}

fn square(name: &str, side: i64) -> Polygon {
    Polygon {
        name: name.into(),
        points: vec![(0, 0), (side, 0), (side, side), (0, side)],
    }
}

/// A floor tile with its neighbour to the east: tiles form a ring, a cyclic graph. Its stable
/// name is what `Heap::stable_hash` mixes in for it: fixed here, the hashes below are the
/// same in every build, wherever the type moves.
#[mutable(stable_name = "shapes::Tile")]
struct Tile {
    colour: u8,
    east: Option<Mutable<Tile>>,
}

#[cached]
impl Tile {}

/// Owns a ring of tiles until it is frozen.
#[capsule]
struct Floor {
    start: Mutable<Tile>,
}

#[cached]
impl Floor {}

/// A ring of tiles with these colours, entered at `start`, frozen; and a `Mutable` handle to
/// one of its tiles kept from before.
fn floor(
    heap: &mut Heap,
    colours: &[u8],
    start: usize,
) -> Result<(steadfast::Imm<Floor>, Mutable<Tile>), Error> {
    let tiles: Vec<Mutable<Tile>> = colours
        .iter()
        .map(|&colour| heap.mutable(Tile { colour, east: None }))
        .collect::<Result<_, _>>()?;
    for (i, t) in tiles.iter().enumerate() {
        Tile::set_east(heap, t, Some(tiles[(i + 1) % tiles.len()].clone()))?;
    }
    let floor = heap.capsule(Floor {
        start: tiles[start].clone(),
    })?;
    Ok((heap.freeze(floor)?, tiles[0].clone()))
}

fn main() -> Result<(), Error> {
    let mut heap = Heap::new();

    println!("1. Eager caches start on the pool when a shape is made; making it does not wait.");
    let big = heap.imm(Polygon {
        name: "circle-ish".into(),
        points: (0..100_000)
            .map(|i| {
                let t = i as f64 / 100_000.0 * std::f64::consts::TAU;
                ((t.cos() * 1e6) as i64, (t.sin() * 1e6) as i64)
            })
            .collect(),
    })?;
    println!(
        "    made {}; reading waits for the workers (or does their work)",
        heap[&big].name
    );
    println!(
        "    double area {}, perimeter {}",
        Polygon::double_area(&heap, &big)?,
        Polygon::perimeter(&heap, &big)?
    );

    println!("2. Equal shapes are one class and share their caches.");
    let before = AREAS.load(Ordering::SeqCst);
    let a = heap.imm(square("a", 3))?;
    let b = heap.imm(square("a", 3))?;
    let c = heap.imm(square("c", 3))?;
    println!(
        "    a and b equal: {}; a and c equal: {}",
        heap.class_of(&a)? == heap.class_of(&b)?,
        heap.class_of(&a)? == heap.class_of(&c)?
    );
    println!(
        "    areas {} {} {}, bounds of b {:?}",
        Polygon::double_area(&heap, &a)?,
        Polygon::double_area(&heap, &b)?,
        Polygon::double_area(&heap, &c)?,
        Polygon::bounds(&heap, &b)?
    );
    println!(
        "    areas computed for the three squares: {} (a and b share one)",
        AREAS.load(Ordering::SeqCst) - before
    );

    println!("3. A view reads a shape's caches without re-checking its handle.");
    let view = heap.view(&a)?;
    println!(
        "    {} has bounds {:?}",
        view.name,
        view.cached(&Polygon::BOUNDS)?
    );

    println!("4. A panicking eager cache is a typed error at every read.");
    // The worker's panic is caught and kept; keep the default hook from printing it too.
    std::panic::set_hook(Box::new(|_| {}));
    let empty = heap.imm(Polygon {
        name: "empty".into(),
        points: vec![],
    })?;
    let result = Polygon::mean_x(&heap, &empty).copied();
    let _ = std::panic::take_hook();
    match result {
        Err(e @ Error::Panicked { .. }) => println!("    {e}"),
        other => println!("    unexpected: {other:?}"),
    }

    println!("5. Cyclic graphs frozen into immutable ones normalize whatever their entry.");
    let (one, kept) = floor(&mut heap, &[1, 2, 3], 0)?;
    let (two, _) = floor(&mut heap, &[3, 1, 2], 1)?;
    let (twice, _) = floor(&mut heap, &[1, 2, 3, 1, 2, 3], 3)?;
    let (other, _) = floor(&mut heap, &[1, 2, 4], 0)?;
    // A `Mutable` handle kept from before the freeze cannot write any more.
    println!(
        "    writing a frozen tile: {}",
        Tile::set_colour(&mut heap, &kept, 9).unwrap_err()
    );
    println!(
        "    same ring from another tile: {}; drawn twice round: {}; one colour changed: {}",
        heap.class_of(&one)? == heap.class_of(&two)?,
        heap.class_of(&one)? == heap.class_of(&twice)?,
        heap.class_of(&one)? == heap.class_of(&other)?
    );
    println!(
        "    stable hashes (the same in every build): {:#x} {:#x} {:#x}",
        heap.stable_hash(&one)?,
        heap.stable_hash(&twice)?,
        heap.stable_hash(&other)?
    );
    let before = heap.len();
    let freed = heap.remove_graph(&twice)?;
    println!(
        "    removing the doubled floor frees {freed} objects ({before} -> {})",
        heap.len()
    );
    Ok(())
}
