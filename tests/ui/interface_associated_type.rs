// An associated type: an interface holds only methods.
#[steadfast::interface]
trait Source {
    type Item;
    fn get(&self, key: u32) -> u32;
}

fn main() {}
