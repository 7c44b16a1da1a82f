use steadfast::{cached, mutable};

#[mutable]
struct Point {
    #[capsule]
    x: i32,
}

#[cached]
impl Point {}

fn main() {}
