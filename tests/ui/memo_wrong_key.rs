// A memo keyed by one type, looked up with another.
use steadfast::Memo;

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
    let memo: Memo<String, u64, dyn Clock> = Memo::new();
    let _ = memo.get(&7u32, &Wall, |_, c| c.now());
}
