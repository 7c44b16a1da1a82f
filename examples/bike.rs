//! The box pattern on a deeply mutable object, after the L42 tutorial's bike.
//!
//! A naive `Bike` is a plain Rust struct: whoever holds `&mut Bike` can break it, and
//! nothing notices. `BikeBox` keeps the raw bike as a capsule field; its invariant composes
//! the raw bike's own check, and every change goes through a mutator or a box that is
//! checked once at its end. Because the capsule field owns its wheels (it is `Owned`: no
//! `Rc`, no `RefCell`), no wheel can be shared by two bikes.
//!
//! A box may also split its state and work on the parts in parallel (`rayon::join`): it
//! is still checked once, when it closes.
//!
//! `cargo run --example bike`

use std::error::Error as _;
use std::fmt;

use steadfast::{cached, capsule, Error, Heap, Owned};

#[derive(Owned, Clone, Debug, PartialEq)]
struct Wheel {
    spokes: u32,
    /// Tyre pressure in bar.
    pressure: f64,
}

/// The naive, deeply mutable bike: no runtime involved.
#[derive(Owned, Clone, Debug, PartialEq)]
struct Bike {
    front: Wheel,
    back: Wheel,
}

#[derive(Debug, PartialEq)]
enum Unsafe {
    TooFewSpokes(&'static str, u32),
    Pressure(&'static str, f64),
    Mismatched { front: u32, back: u32 },
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsafe::TooFewSpokes(w, n) => write!(f, "the {w} wheel has only {n} spokes"),
            Unsafe::Pressure(w, p) => write!(f, "the {w} tyre is at {p} bar"),
            Unsafe::Mismatched { front, back } => {
                write!(f, "the wheels do not match ({front} and {back} spokes)")
            }
        }
    }
}

impl std::error::Error for Unsafe {}

impl Wheel {
    fn check(&self, which: &'static str) -> Result<(), Unsafe> {
        if self.spokes < 16 {
            return Err(Unsafe::TooFewSpokes(which, self.spokes));
        }
        if !(1.5..=6.0).contains(&self.pressure) {
            return Err(Unsafe::Pressure(which, self.pressure));
        }
        Ok(())
    }
}

impl Bike {
    /// The raw bike's own check: the boxed version's invariant composes it.
    fn check(&self) -> Result<(), Unsafe> {
        self.front.check("front")?;
        self.back.check("back")?;
        if self.front.spokes != self.back.spokes {
            return Err(Unsafe::Mismatched {
                front: self.front.spokes,
                back: self.back.spokes,
            });
        }
        Ok(())
    }
}

/// The boxed bike: the raw bike is encapsulated state.
#[capsule]
#[derive(Debug)]
struct BikeBox {
    #[capsule]
    bike: Bike,
    owner: String,
}

#[cached]
impl BikeBox {
    /// The invariant: the raw bike passes its own check.
    #[cache(now)]
    fn safe(bike: &Bike) -> Result<(), Unsafe> {
        println!("    (checking the bike)");
        bike.check()
    }

    /// Total spokes, cached.
    #[cache(lazy_read)]
    fn spokes(bike: &Bike) -> u32 {
        bike.front.spokes + bike.back.spokes
    }

    /// Pumps both tyres to `bar`.
    #[cache(clear)]
    fn pump(bike: &mut Bike, bar: f64) {
        bike.front.pressure = bar;
        bike.back.pressure = bar;
    }
}

fn new_bike() -> Bike {
    let wheel = Wheel {
        spokes: 32,
        pressure: 3.0,
    };
    Bike {
        front: wheel.clone(),
        back: wheel,
    }
}

fn main() -> Result<(), Error> {
    println!("the naive bike: a plain &mut breaks it and nothing notices:");
    let mut naive = new_bike();
    naive.front.spokes = 12;
    println!("  naive.check() = {:?}", naive.check());

    let mut heap = Heap::new();
    println!("\nthe boxed bike (checked at creation):");
    let bike = heap.capsule(BikeBox {
        bike: new_bike(),
        owner: "ada".into(),
    })?;
    println!("  spokes = {}", BikeBox::spokes(&heap, &bike)?);

    println!("\na box that removes spokes from one wheel is refused and rolled back:");
    let err = heap
        .open_box(&bike, |raw| raw.bike.front.spokes = 12)
        .unwrap_err();
    println!(
        "  refused: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );
    println!("  front wheel still: {:?}", heap[&bike].bike().front);

    println!("\nrebuilding both wheels with 28 spokes: each edit alone would mismatch them,");
    println!("but one box does both and is checked once, at its end:");
    heap.open_box(&bike, |raw| {
        raw.bike.front.spokes = 28;
        raw.bike.back.spokes = 28;
    })?;
    println!("  spokes = {}", BikeBox::spokes(&heap, &bike)?);

    println!("\nthe same in parallel (the tutorial's fork-join): the box splits its `&mut`");
    println!("bike into its wheels and rebuilds them on two threads, checked once at the end;");
    println!("a failure in one branch rolls back both:");
    heap.open_box(&bike, |raw| {
        let Bike { front, back } = &mut raw.bike;
        rayon::join(|| front.spokes = 32, || back.spokes = 32);
    })?;
    println!("  spokes = {}", BikeBox::spokes(&heap, &bike)?);
    let err = heap
        .open_box(&bike, |raw| {
            let Bike { front, back } = &mut raw.bike;
            rayon::join(|| front.spokes = 36, || back.spokes = 12);
        })
        .unwrap_err();
    println!(
        "  refused: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );
    println!(
        "  wheels still: {} and {} spokes",
        heap[&bike].bike().front.spokes,
        heap[&bike].bike().back.spokes
    );

    println!("\na mutator: pumping to 9 bar is refused, to 4 bar accepted:");
    println!(
        "  pump(9.0): {}",
        BikeBox::pump(&mut heap, &bike, 9.0).unwrap_err()
    );
    BikeBox::pump(&mut heap, &bike, 4.0)?;
    println!("  pressure = {}", heap[&bike].bike().front.pressure);

    println!("\nno wheel is shared: a second bike gets its own copy, and editing one");
    println!("bike's wheel leaves the other's alone:");
    let copy = heap[&bike].bike().clone();
    let other = heap.capsule(BikeBox {
        bike: copy,
        owner: "grace".into(),
    })?;
    BikeBox::pump(&mut heap, &other, 2.0)?;
    println!(
        "  {}'s pressure = {}, {}'s pressure = {}",
        heap[&bike].owner(),
        heap[&bike].bike().front.pressure,
        heap[&other].owner(),
        heap[&other].bike().front.pressure
    );
    Ok(())
}
