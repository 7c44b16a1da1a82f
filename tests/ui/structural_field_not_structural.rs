use steadfast::Structural;

struct Opaque(std::cell::Cell<u32>);

#[derive(Structural)]
struct Edge {
    weight: u32,
    extra: Opaque,
}

fn main() {}
