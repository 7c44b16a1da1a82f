use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: f64,
}

#[cached]
impl Point {
    #[cache(lazzy)]
    fn double(x: &f64) -> f64 {
        x * 2.0
    }
}

fn main() {}
