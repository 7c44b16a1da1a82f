use steadfast::{cached, mutable};

struct Report(String);

#[mutable]
struct Account {
    balance: i64,
}

#[cached]
impl Account {
    #[cache(now)]
    fn report(balance: &i64) -> Report {
        Report(balance.to_string())
    }
}

fn main() {}
