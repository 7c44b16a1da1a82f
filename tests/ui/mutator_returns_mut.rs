use steadfast::{cached, capsule};

#[capsule]
struct Stack {
    #[capsule]
    items: Vec<u32>,
}

#[cached]
impl Stack {
    #[cache(clear)]
    fn top(items: &mut Vec<u32>) -> &mut u32 {
        items.last_mut().unwrap()
    }
}

fn main() {}
