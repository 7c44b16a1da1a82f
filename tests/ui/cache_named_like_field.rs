use steadfast::{cached, mutable};

#[mutable]
struct List {
    len: usize,
    items: Vec<u32>,
}

#[cached]
impl List {
    #[cache(lazy_read)]
    fn len(items: &Vec<u32>) -> usize {
        items.len()
    }
}

fn main() {}
