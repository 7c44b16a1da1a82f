use steadfast::{cached, capsule, Heap};

#[capsule]
struct Path {
    #[capsule]
    points: Vec<(i32, i32)>,
}

#[cached]
impl Path {}

fn main() {
    let mut heap = Heap::new();
    let path = heap.mutable(Path { points: vec![] }).unwrap();
    let _alias = path.clone();
}
