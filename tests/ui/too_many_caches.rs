use steadfast::{cached, mutable};

#[mutable]
struct Wide {
    x: u32,
}

#[cached]
impl Wide {
    #[cache(lazy_read)]
    fn m0(x: &u32) -> u32 {
        x + 0
    }

    #[cache(lazy_read)]
    fn m1(x: &u32) -> u32 {
        x + 1
    }

    #[cache(lazy_read)]
    fn m2(x: &u32) -> u32 {
        x + 2
    }

    #[cache(lazy_read)]
    fn m3(x: &u32) -> u32 {
        x + 3
    }

    #[cache(lazy_read)]
    fn m4(x: &u32) -> u32 {
        x + 4
    }

    #[cache(lazy_read)]
    fn m5(x: &u32) -> u32 {
        x + 5
    }

    #[cache(lazy_read)]
    fn m6(x: &u32) -> u32 {
        x + 6
    }

    #[cache(lazy_read)]
    fn m7(x: &u32) -> u32 {
        x + 7
    }

    #[cache(lazy_read)]
    fn m8(x: &u32) -> u32 {
        x + 8
    }

    #[cache(lazy_read)]
    fn m9(x: &u32) -> u32 {
        x + 9
    }

    #[cache(lazy_read)]
    fn m10(x: &u32) -> u32 {
        x + 10
    }

    #[cache(lazy_read)]
    fn m11(x: &u32) -> u32 {
        x + 11
    }

    #[cache(lazy_read)]
    fn m12(x: &u32) -> u32 {
        x + 12
    }

    #[cache(lazy_read)]
    fn m13(x: &u32) -> u32 {
        x + 13
    }

    #[cache(lazy_read)]
    fn m14(x: &u32) -> u32 {
        x + 14
    }

    #[cache(lazy_read)]
    fn m15(x: &u32) -> u32 {
        x + 15
    }

    #[cache(lazy_read)]
    fn m16(x: &u32) -> u32 {
        x + 16
    }
}

fn main() {}
