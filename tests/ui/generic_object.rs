use steadfast::mutable;

#[mutable]
struct Wrapper<T> {
    value: T,
}

fn main() {}
