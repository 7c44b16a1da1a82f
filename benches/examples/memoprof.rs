//! A `Memo` hit in comemo's many-entries-under-one-key shape, for an instruction count:
//! `valgrind --tool=callgrind target/release/examples/memoprof N [comemo]` for two values of
//! N; the difference over the difference in N is one hit (comemo's, with `comemo`).

#![allow(missing_docs)]

use std::hint::black_box;

use comemo::Track;
use steadfast::Memo;
use steadfast_benches::interaction::many::{
    comemo_contextual, contextual, ComemoCtx, Context, Ctx,
};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    if std::env::args().nth(2).as_deref() == Some("comemo") {
        let contexts: Vec<ComemoCtx> = (0..1_000).map(|i| ComemoCtx(Some(i))).collect();
        for c in &contexts {
            comemo_contextual(c.track());
        }
        let mut len = 0;
        for i in 0..n {
            len += black_box(comemo_contextual(contexts[i % 1_000].track())).len();
        }
        println!("{len}");
        return;
    }
    let contexts: Vec<Ctx> = (0..1_000).map(|i| Ctx(Some(i))).collect();
    let memo: Memo<(), String, dyn Context> = Memo::new();
    for c in &contexts {
        memo.get(&(), c, |_, c| contextual(c)).unwrap();
    }
    let mut len = 0;
    for i in 0..n {
        len += black_box(memo.get(&(), &contexts[i % 1_000], |_, _| unreachable!()))
            .unwrap()
            .len();
    }
    println!("{len}");
}
