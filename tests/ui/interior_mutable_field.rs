use std::sync::{Arc, Mutex};
use steadfast::{cached, capsule};

#[derive(Debug)]
struct OnPath;
impl std::fmt::Display for OnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the location is on the path")
    }
}
impl std::error::Error for OnPath {}

// `location` could change through `heap[&path]` without a write: the invariant would not see it.
#[capsule]
struct Path {
    #[capsule]
    points: Vec<(i32, i32)>,
    location: Arc<Mutex<(i32, i32)>>,
}

#[cached]
impl Path {
    #[cache(now)]
    fn off_path(points: &Vec<(i32, i32)>, location: &Arc<Mutex<(i32, i32)>>) -> Result<(), OnPath> {
        match points.contains(&location.lock().unwrap()) {
            true => Err(OnPath),
            false => Ok(()),
        }
    }
}

fn main() {}
