use steadfast::{cached, mutable};

#[mutable(remove_on_panic)]
struct Queue {
    next: u32,
}

#[cached]
impl Queue {}

fn main() {}
