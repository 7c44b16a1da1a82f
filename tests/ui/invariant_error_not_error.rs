use steadfast::{cached, mutable};

#[mutable]
struct Account {
    balance: i64,
}

#[cached]
impl Account {
    #[cache(now)]
    fn solvent(balance: &i64) -> Result<(), String> {
        if *balance < 0 { Err("negative".into()) } else { Ok(()) }
    }
}

fn main() {}
