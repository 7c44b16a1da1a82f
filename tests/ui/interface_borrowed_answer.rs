// An answer that borrows from the implementation cannot be stored in the tree.
#[steadfast::interface]
trait Names {
    fn name(&self, id: u32) -> &str;
}

fn main() {}
