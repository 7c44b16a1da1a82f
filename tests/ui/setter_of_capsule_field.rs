use steadfast::{cached, capsule, Heap};

#[capsule]
struct Path {
    #[capsule]
    points: Vec<(i32, i32)>,
    location: (i32, i32),
}

#[cached]
impl Path {}

fn main() {
    let mut heap = Heap::new();
    let path = heap.capsule(Path { points: vec![], location: (0, 0) }).unwrap();
    Path::set_location(&mut heap, &path, (1, 1)).unwrap();
    Path::set_points(&mut heap, &path, vec![(1, 1)]).unwrap();
}
