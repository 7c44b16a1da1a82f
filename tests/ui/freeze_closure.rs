use steadfast::norm::{freeze, Freeze};

#[derive(Freeze)]
struct Task<F> {
    id: u32,
    run: F,
}

fn main() {
    let task = Task { id: 1, run: |x: i32| x + 1 };
    let _ = freeze(&task);
}
