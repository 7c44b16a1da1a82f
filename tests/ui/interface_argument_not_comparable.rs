// An argument that cannot be compared: a call is stored and compared by its arguments.
#[derive(Clone, Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[steadfast::interface]
trait Plot {
    fn at(&self, p: &Point) -> u32;
}

fn main() {}
