// A memo over one interface, looked up with an implementation of another.
use steadfast::Memo;

#[steadfast::interface]
trait Files {
    fn read(&self, path: &str) -> Option<String>;
}

#[steadfast::interface]
trait Clock {
    fn now(&self) -> u64;
}

struct Wall;
impl Clock for Wall {
    fn now(&self) -> u64 {
        0
    }
}

fn main() {
    let memo: Memo<String, usize, dyn Files> = Memo::new();
    let _ = memo.get(&"a".to_owned(), &Wall, |_, _| 0);
}
