use steadfast::{cached, imm, Heap};

#[imm]
struct Color {
    red: u8,
}

#[cached]
impl Color {}

fn main() {
    let mut heap = Heap::new();
    let color = heap.imm(Color { red: 1 }).unwrap();
    heap.set(&color, &Color::RED, 2).unwrap();
}
