// A `&mut` parameter: a call is stored as the values of its arguments.
#[steadfast::interface]
trait Fill {
    fn fill(&self, buf: &mut Vec<u8>) -> usize;
}

fn main() {}
