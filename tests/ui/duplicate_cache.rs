use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: i32,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    #[cache(now)]
    fn double(x: &i32) -> i32 {
        x * 2
    }
}

fn main() {}
