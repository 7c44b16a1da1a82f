use steadfast::{cached, mutable};

#[mutable]
struct Path {
    points: Vec<(i32, i32)>,
    location: (i32, i32),
}

#[cached]
impl Path {
    #[cache(lazy_read)]
    fn on_path(points: &Vec<(i32, i32)>, locaton: &(i32, i32)) -> bool {
        points.contains(locaton)
    }
}

fn main() {}
