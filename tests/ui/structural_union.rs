use steadfast::Structural;

#[derive(Structural)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
