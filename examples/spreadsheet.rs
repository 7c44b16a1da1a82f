//! A spreadsheet column of running totals, a million rows deep: each cell's total is its
//! value plus the total of the cell above, so the first read of the last total walks the
//! whole column. Then a formula that refers back to itself: the read reports the cycle,
//! which the sheet shows as `#CYCLE`.
//!
//! `cargo run --example spreadsheet`, and with the `abort` profile, where a panic ends the
//! program: `cargo run --profile abort --example spreadsheet` (a cycle is reported without
//! unwinding, so the result is the same).

use steadfast::{cached, mutable, Ctx, Error, Heap, Mutable};

const ROWS: usize = 1_000_000;

#[mutable]
struct Cell {
    value: i64,
    above: Option<Mutable<Cell>>,
}

#[cached]
impl Cell {
    /// The running total; `None` if a cell above was deleted. A read error (a cycle)
    /// abandons the computation, so passing it on with `?` is all it takes.
    #[cache(lazy_read)]
    fn total(value: &i64, above: &Option<Mutable<Cell>>, ctx: &Ctx<'_, Self>) -> Option<i64> {
        match above {
            Some(above) => Some(value + (*ctx.cached(above, &Cell::TOTAL).ok()?)?),
            None => Some(*value),
        }
    }
}

/// What the sheet shows for a cell.
fn show(heap: &Heap, cell: &Mutable<Cell>) -> String {
    match Cell::total(heap, cell) {
        Ok(Some(total)) => total.to_string(),
        Ok(None) => "#REF".to_owned(),
        Err(Error::Cycle { .. }) => "#CYCLE".to_owned(),
        Err(e) => format!("#ERROR ({e})"),
    }
}

fn main() -> Result<(), Error> {
    println!(
        "panics {}",
        if cfg!(panic = "abort") {
            "abort the program"
        } else {
            "unwind"
        }
    );
    let mut heap = Heap::new();
    let mut rows: Vec<Mutable<Cell>> = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let above = rows.last().cloned();
        rows.push(heap.mutable(Cell {
            value: (i % 10) as i64,
            above,
        })?);
    }
    let last = rows.last().expect("rows").clone();
    println!("total of row {ROWS}: {}", show(&heap, &last));

    // An edit near the top: every total below changes, and is recomputed on the next read.
    Cell::set_value(&mut heap, &rows[1], 100)?;
    println!("after editing row 2: {}", show(&heap, &last));

    // The first row now refers to the last: every total is on a cycle.
    Cell::set_above(&mut heap, &rows[0], Some(last.clone()))?;
    println!(
        "row 1 refers to row {ROWS}: row 500000 shows {}",
        show(&heap, &rows[499_999])
    );
    let err = Cell::total(&heap, &last).unwrap_err();
    println!("the error: {err}");
    if let Error::Cycle { chain } = &err {
        println!("the whole cycle, as data: {} cells", chain.len());
    }

    // Breaking it recovers.
    Cell::set_above(&mut heap, &rows[0], None)?;
    println!("cycle broken: {}", show(&heap, &last));
    Ok(())
}
