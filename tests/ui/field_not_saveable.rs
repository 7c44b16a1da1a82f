use steadfast::{cached, mutable};

/// Not `Clone`: a write could not be undone.
#[derive(steadfast::Plain)]
struct Ticket(u32);

#[mutable]
struct Queue {
    next: u32,
    ticket: Ticket,
}

#[cached]
impl Queue {}

fn main() {}
