use steadfast::{cached, capsule};

#[capsule]
struct Path {
    #[capsule]
    #[untracked]
    points: Vec<(i32, i32)>,
}

#[cached]
impl Path {}

fn main() {}
