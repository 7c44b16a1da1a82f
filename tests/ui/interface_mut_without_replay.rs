// A `&mut` parameter whose type says nothing of how a call's effect on it is replayed.
struct Canvas {
    pixels: Vec<u8>,
}

#[steadfast::interface]
trait Paint {
    fn paint(&self, canvas: &mut Canvas) -> bool;
}

fn main() {}
