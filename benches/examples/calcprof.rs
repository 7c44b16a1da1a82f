//! The `calc` workload of `benches/interaction.rs` (`String` contents), one crate at a
//! time, for a profiler or an instruction count:
//! `cargo run --release -p steadfast-benches --example calcprof [iterations] [comemo]`.

#![allow(missing_docs)]

use std::sync::atomic::Ordering;

use steadfast_benches::interaction::string::{comemo_round, round, ComemoDisk, Disk, Evals};
use steadfast_benches::interaction::READS;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    if std::env::args().nth(2).as_deref() == Some("comemo") {
        let mut disk = ComemoDisk(Disk::new());
        let total: i64 = (1..=n).map(|r| comemo_round(&mut disk, r)).sum();
        println!("{total}: {} reads (comemo)", READS.load(Ordering::Relaxed));
        return;
    }
    let memo = Evals::new();
    let mut disk = Disk::new();
    let total: i64 = (1..=n).map(|r| round(&memo, &mut disk, r)).sum();
    println!(
        "{total}: {} reads, {} nodes, {:?}",
        READS.load(Ordering::Relaxed),
        memo.nodes(),
        memo.stats()
    );
}
