//! A loop of checked mutations of the tutorial's `Path`, for instruction counts:
//! `pathprof sf N` runs steadfast's mutator on a path of `N` points, `pathprof snap N` the
//! hand-written method with its snapshot, 200,000 times each.

use std::hint::black_box;
use steadfast_benches::{path_points, steadfast_path, HandPath, Path};
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rounds: i32 = 200_000;
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    if mode == "snap" {
        let mut snap = HandPath::new(path_points(n), (0, 0)).unwrap();
        for i in 0..rounds {
            black_box(snap.set_last_snapshot((i, 2)).is_ok());
        }
    } else {
        let (mut heap, path) = steadfast_path(n);
        for i in 0..rounds {
            black_box(Path::set_last(&mut heap, &path, (i, 2)).is_ok());
        }
    }
}
