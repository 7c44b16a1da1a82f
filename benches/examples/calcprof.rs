//! The `calc` workload of `benches/interaction.rs` (String contents), one crate at a time,
//! for a profiler or an instruction count:
//! `cargo run --release -p steadfast-benches --example calcprof [iterations] [comemo]`.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::Memo;

const SCRIPTS: usize = 100;

/// Script `i`: its own number, then `eval` of up to five later scripts.
fn script(i: usize, version: u32) -> String {
    let mut text = format!("{}", i as u32 + version);
    for k in 1..=5 {
        let j = i + k * k;
        if j < SCRIPTS && (i + k) % 3 != 0 {
            text.push_str(&format!(" + eval f{j}"));
        }
    }
    text
}

/// Reads of either crate's files, to compare the calls each makes.
static READS: AtomicUsize = AtomicUsize::new(0);

#[steadfast::interface]
trait Files: Send + Sync {
    fn read(&self, path: &str) -> String;
}

struct Disk(HashMap<String, String>);

impl Disk {
    fn new() -> Self {
        Disk(
            (0..SCRIPTS)
                .map(|i| (format!("f{i}"), script(i, 0)))
                .collect(),
        )
    }

    fn write(&mut self, i: usize, version: u32) {
        self.0.insert(format!("f{i}"), script(i, version));
    }
}

impl Files for Disk {
    fn read(&self, path: &str) -> String {
        READS.fetch_add(1, Ordering::Relaxed);
        self.0.get(path).cloned().unwrap_or_default()
    }
}

type Evals = Memo<String, i64, dyn Files>;

fn evaluate(memo: &Evals, script: &str, files: &dyn Files) -> i64 {
    memo.get(script, files, |script, files| {
        script
            .split('+')
            .map(str::trim)
            .map(|part| match part.strip_prefix("eval ") {
                Some(path) => evaluate(memo, &files.read(path), files),
                None => part.parse::<i64>().unwrap(),
            })
            .sum()
    })
    .expect("deterministic")
}

struct ComemoDisk(Disk);

#[comemo::track]
impl ComemoDisk {
    fn read(&self, path: &str) -> String {
        Files::read(&self.0, path)
    }
}

#[comemo::memoize]
fn comemo_evaluate(script: &str, files: comemo::Tracked<'_, ComemoDisk>) -> i64 {
    script
        .split('+')
        .map(str::trim)
        .map(|part| match part.strip_prefix("eval ") {
            Some(path) => comemo_evaluate(&files.read(path), files),
            None => part.parse::<i64>().unwrap(),
        })
        .sum()
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    if std::env::args().nth(2).as_deref() == Some("comemo") {
        use comemo::Track;
        let mut disk = ComemoDisk(Disk::new());
        let mut total = 0;
        for round in 1..=n {
            disk.0.write(round as usize * 37 % SCRIPTS, round);
            total += (0..SCRIPTS)
                .map(|i| comemo_evaluate(&format!("eval f{i}"), disk.track()))
                .sum::<i64>();
            comemo::evict(10);
        }
        println!("{total}: {} reads (comemo)", READS.load(Ordering::Relaxed));
        return;
    }
    let memo = Evals::new();
    let mut disk = Disk::new();
    let mut total = 0;
    for round in 1..=n {
        disk.write(round as usize * 37 % SCRIPTS, round);
        total += (0..SCRIPTS)
            .map(|i| evaluate(&memo, &format!("eval f{i}"), &disk))
            .sum::<i64>();
    }
    println!(
        "{total}: {} reads, {} nodes, {:?}",
        READS.load(Ordering::Relaxed),
        memo.nodes(),
        memo.stats()
    );
}
