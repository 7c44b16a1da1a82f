use steadfast::{cached, capsule};

#[capsule]
struct Path {
    #[capsule]
    points: Vec<(i32, i32)>,
}

#[cached]
impl Path {
    #[cache(clear)]
    fn push(points: &Vec<(i32, i32)>, point: (i32, i32)) {
        let _ = (points, point);
    }
}

fn main() {}
