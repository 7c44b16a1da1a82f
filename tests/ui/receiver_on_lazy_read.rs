use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: i32,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn double(&self) -> i32 {
        self.x * 2
    }
}

fn main() {}
