use steadfast::norm::Freeze;

#[derive(Freeze)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
