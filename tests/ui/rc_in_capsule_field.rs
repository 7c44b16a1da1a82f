use std::rc::Rc;
use steadfast::{cached, capsule};

#[capsule]
struct Shared {
    #[capsule]
    items: Rc<Vec<u32>>,
}

#[cached]
impl Shared {}

fn main() {}
