use steadfast::{cached, imm};

#[imm(remove_on_failure)]
struct Point {
    x: i32,
}

#[cached]
impl Point {}

fn main() {}
