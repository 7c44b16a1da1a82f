use steadfast::mutable;

#[mutable]
struct Point {
    x: i32,
}

fn main() {}
