use steadfast::{cached, imm};

#[imm]
struct Circle {
    radius: u32,
    #[untracked]
    label: String,
}

#[cached]
impl Circle {}

fn main() {}
