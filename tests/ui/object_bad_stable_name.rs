use steadfast::{cached, imm};

#[imm(stable_name = Circle)]
struct Circle {
    radius: u32,
}

#[cached]
impl Circle {}

fn main() {}
