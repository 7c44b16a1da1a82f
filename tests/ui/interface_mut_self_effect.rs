// A method that changes the implementation: a memo hit would skip the change.
#[steadfast::interface]
trait Log {
    fn line(&self, n: usize) -> String;
    fn append(&mut self, line: &str);
}

fn main() {}
