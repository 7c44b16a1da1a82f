use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: f64,
}

#[cached]
impl Point {
    #[cache(lazy)]
    fn double(&self) -> f64 {
        self.x * 2.0
    }
}

fn main() {}
