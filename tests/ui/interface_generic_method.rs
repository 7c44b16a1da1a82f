// A generic method: each call must be a value of one call type.
#[steadfast::interface]
trait Source {
    fn get<T: Default>(&self, key: u32) -> u32;
}

fn main() {}
