use std::sync::{Arc, Mutex};

use steadfast::{cached, capsule};

#[capsule]
struct Garage {
    #[capsule]
    wheels: Vec<Arc<Mutex<u32>>>,
}

#[cached]
impl Garage {}

fn main() {}
