use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: f64,
    y: f64,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn doubled(x: &i64) -> i64 {
        x * 2
    }
}

fn main() {}
