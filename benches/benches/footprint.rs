//! Memory per object: a million small mutable objects (two `i64` fields: 16 bytes of data)
//! with zero, one and two `lazy_read` caches, each cache computed once, against a
//! hand-written `SlotMap` of structs with an `Option` per cache. Each case runs in its own
//! process and reports the growth of its resident memory divided by the number of objects
//! (handles kept in a `Vec`, as a user would keep them: 24 bytes for a `Mutable`, 8 for a
//! slot-map key).
//!
//! `cargo bench -p steadfast-benches --bench footprint`; `STEADFAST_OBJECTS` sets the
//! number of objects (default 1,000,000). Linux only (reads `/proc/self/statm`). The figures
//! also go to `target/steadfast-bench/footprint.json`, which `summary` reads.

#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Command;

use slotmap::{DefaultKey, SlotMap};
use steadfast::{cached, mutable, Heap, Mutable};

#[mutable]
pub struct Bare {
    a: i64,
    b: i64,
}

#[cached]
impl Bare {}

#[mutable]
pub struct One {
    a: i64,
    b: i64,
}

#[cached]
impl One {
    #[cache(lazy_read)]
    fn sum(a: &i64, b: &i64) -> i64 {
        a + b
    }
}

#[mutable]
pub struct Two {
    a: i64,
    b: i64,
}

#[cached]
impl Two {
    #[cache(lazy_read)]
    fn sum(a: &i64, b: &i64) -> i64 {
        a + b
    }

    #[cache(lazy_read)]
    fn diff(a: &i64, b: &i64) -> i64 {
        a - b
    }
}

pub struct Hand {
    a: i64,
    b: i64,
    sum: Option<i64>,
    diff: Option<i64>,
}

fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn objects() -> usize {
    std::env::var("STEADFAST_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Runs one case in this process; returns the bytes per object.
fn case(name: &str, n: usize) -> f64 {
    let before = resident();
    macro_rules! steadfast {
        ($t:ident $(, $cache:ident)*) => {{
            let mut heap = Heap::new();
            let handles: Vec<Mutable<$t>> = (0..n as i64)
                .map(|i| heap.mutable($t { a: i, b: 1 }).unwrap())
                .collect();
            $(
                for h in &handles {
                    black_box($t::$cache(&heap, h).unwrap());
                }
            )*
            let grown = resident() - before;
            black_box((&heap, &handles));
            grown
        }};
    }
    let grown = match name {
        "steadfast, no cache" => steadfast!(Bare),
        "steadfast, one lazy_read cache" => steadfast!(One, sum),
        "steadfast, two lazy_read caches" => steadfast!(Two, sum, diff),
        "hand-written slot map, two Option caches" => {
            let mut map: SlotMap<DefaultKey, Hand> = SlotMap::with_capacity(0);
            let keys: Vec<DefaultKey> = (0..n as i64)
                .map(|i| {
                    map.insert(Hand {
                        a: i,
                        b: 1,
                        sum: None,
                        diff: None,
                    })
                })
                .collect();
            for &k in &keys {
                let h = &mut map[k];
                h.sum = Some(h.a + h.b);
                h.diff = Some(h.a - h.b);
            }
            let grown = resident() - before;
            black_box((&map, &keys));
            grown
        }
        other => panic!("unknown case {other}"),
    };
    grown as f64 / n as f64
}

const CASES: [&str; 4] = [
    "hand-written slot map, two Option caches",
    "steadfast, no cache",
    "steadfast, one lazy_read cache",
    "steadfast, two lazy_read caches",
];

fn main() {
    let n = objects();
    if let Ok(name) = std::env::var("STEADFAST_FOOTPRINT_CASE") {
        println!("{:.1}", case(&name, n));
        return;
    }
    println!("{n} objects of 16 bytes of fields");
    println!("case | bytes per object");
    let mut figures = Vec::new();
    for name in CASES {
        let out = Command::new(std::env::current_exe().expect("own path"))
            .env("STEADFAST_FOOTPRINT_CASE", name)
            .env("STEADFAST_OBJECTS", n.to_string())
            .output()
            .expect("runs itself");
        let bytes = String::from_utf8_lossy(&out.stdout);
        println!("{name} | {}", bytes.trim());
        figures.push(format!("  {name:?}: {}", bytes.trim()));
    }
    // For `summary`, which keeps it with the criterion figures of the same build.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/steadfast-bench");
    std::fs::create_dir_all(&dir).expect("target directory");
    std::fs::write(
        dir.join("footprint.json"),
        format!("{{\n{}\n}}\n", figures.join(",\n")),
    )
    .expect("writes its figures");
}
