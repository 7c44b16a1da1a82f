use steadfast::norm::Freeze;

#[derive(Freeze)]
struct Handler {
    name: String,
    callback: fn(i32) -> i32,
}

fn main() {}
