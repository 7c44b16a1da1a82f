use steadfast::norm::Freeze;

#[derive(Freeze)]
enum Link {
    End,
    Next(*const Link),
}

fn main() {}
