// A float argument: floats are not `Eq` or `Hash`, so the call could not be stored.
#[steadfast::interface]
trait Plot {
    fn at(&self, x: f64) -> u32;
}

fn main() {}
