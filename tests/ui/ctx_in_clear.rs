use steadfast::{cached, capsule, Ctx};

#[capsule]
struct Stack {
    #[capsule]
    items: Vec<u32>,
}

#[cached]
impl Stack {
    #[cache(clear)]
    fn push_len(items: &mut Vec<u32>, ctx: &Ctx<'_, Self>) {
        let _ = ctx;
        items.push(0);
    }
}

fn main() {}
