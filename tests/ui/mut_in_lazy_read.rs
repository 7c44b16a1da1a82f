use steadfast::{cached, mutable};

#[mutable]
struct Point {
    x: i32,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn bump(x: &mut i32) -> i32 {
        *x += 1;
        *x
    }
}

fn main() {}
