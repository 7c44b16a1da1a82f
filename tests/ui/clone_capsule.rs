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
    let path = heap.capsule(Path { points: vec![] }).unwrap();
    let alias = path.clone();
    let _ = (path, alias);
}
