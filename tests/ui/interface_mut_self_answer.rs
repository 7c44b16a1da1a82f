// A method that changes the implementation and answers: what it answers next would depend
// on more than the calls asked.
#[steadfast::interface]
trait Counter {
    fn next(&mut self) -> u64;
}

fn main() {}
