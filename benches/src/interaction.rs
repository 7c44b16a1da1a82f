//! The workloads of `Memo` against comemo 0.5, shared by `benches/interaction.rs` and the
//! instruction-count programs `examples/calcprof.rs` and `examples/memoprof.rs`, so that
//! both measure the same code.
//!
//! - `calc`: comemo's calc example at scale: scripts evaluating other scripts, one file
//!   changed per iteration (`string`: contents `String`, as comemo has it; `shared`:
//!   `Arc<str>`, whose clones do not copy).
//! - `many`: comemo's `test_many_with_same_key`: entries under one key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use comemo::Track;
use steadfast::Memo;

/// How many scripts the calc workload evaluates per iteration.
pub const SCRIPTS: usize = 100;

/// Script `i`: its own number, then `eval` of up to five later scripts.
pub fn script(i: usize, version: u32) -> String {
    let mut text = format!("{}", i as u32 + version);
    for k in 1..=5 {
        let j = i + k * k;
        if j < SCRIPTS && (i + k) % 3 != 0 {
            text.push_str(&format!(" + eval f{j}"));
        }
    }
    text
}

/// Reads of either crate's files, to compare the calls each makes.
pub static READS: AtomicUsize = AtomicUsize::new(0);

/// The calc workload with file contents of type `$text`.
macro_rules! calc {
    ($(#[$doc:meta])* $name:ident, $text:ty) => {
        $(#[$doc])*
        pub mod $name {
            use super::*;

            /// What a script reads.
            #[steadfast::interface]
            pub trait Files: Send + Sync {
                /// The text of file `path` (empty if there is none).
                fn read(&self, path: &str) -> $text;
            }

            /// The files, one per script.
            pub struct Disk(HashMap<String, $text>);

            impl Disk {
                /// Every script at version 0.
                pub fn new() -> Self {
                    Disk(
                        (0..SCRIPTS)
                            .map(|i| (format!("f{i}"), script(i, 0).into()))
                            .collect(),
                    )
                }

                /// Changes script `i` to `version`.
                pub fn write(&mut self, i: usize, version: u32) {
                    self.0.insert(format!("f{i}"), script(i, version).into());
                }
            }

            impl Default for Disk {
                fn default() -> Self {
                    Self::new()
                }
            }

            impl Files for Disk {
                fn read(&self, path: &str) -> $text {
                    READS.fetch_add(1, Ordering::Relaxed);
                    self.0
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| String::new().into())
                }
            }

            /// A memo of script results.
            pub type Evals = Memo<String, i64, dyn Files>;

            /// Evaluates a script: the sum of its numbers and of the scripts it `eval`s,
            /// each through the memo.
            pub fn evaluate(memo: &Evals, script: &str, files: &dyn Files) -> i64 {
                memo.get(script, files, |script, files| {
                    script
                        .split('+')
                        .map(str::trim)
                        .map(|part| match part.strip_prefix("eval ") {
                            Some(path) => evaluate(memo, &files.read(path), files),
                            None => part.parse::<i64>().unwrap(),
                        })
                        .sum()
                })
                .expect("deterministic")
            }

            /// The files, tracked by comemo.
            pub struct ComemoDisk(pub Disk);

            #[comemo::track]
            impl ComemoDisk {
                fn read(&self, path: &str) -> $text {
                    Files::read(&self.0, path)
                }
            }

            /// comemo's calc example, as it writes it.
            #[comemo::memoize]
            pub fn comemo_evaluate(script: &str, files: comemo::Tracked<'_, ComemoDisk>) -> i64 {
                script
                    .split('+')
                    .map(str::trim)
                    .map(|part| match part.strip_prefix("eval ") {
                        Some(path) => comemo_evaluate(&files.read(path), files),
                        None => part.parse::<i64>().unwrap(),
                    })
                    .sum()
            }

            /// One iteration: file `round * 37 % SCRIPTS` changes, then every script is
            /// evaluated through `memo`; the sum.
            pub fn round(memo: &Evals, disk: &mut Disk, round: u32) -> i64 {
                disk.write(round as usize * 37 % SCRIPTS, round);
                (0..SCRIPTS)
                    .map(|i| evaluate(memo, &format!("eval f{i}"), disk))
                    .sum()
            }

            /// The same iteration with comemo, evicting what the last ten did not use after
            /// it, as typst does after each compilation.
            pub fn comemo_round(disk: &mut ComemoDisk, round: u32) -> i64 {
                disk.0.write(round as usize * 37 % SCRIPTS, round);
                let sum = (0..SCRIPTS)
                    .map(|i| comemo_evaluate(&format!("eval f{i}"), disk.track()))
                    .sum();
                comemo::evict(10);
                sum
            }
        }
    };
}

calc!(
    /// The calc workload with `String` contents, as comemo's example has them.
    string,
    String
);
calc!(
    /// The calc workload with `Arc<str>` contents.
    shared,
    std::sync::Arc<str>
);

/// comemo's `test_many_with_same_key`: a function of a context's location, memoized for
/// many contexts under one key.
pub mod many {
    /// What the function reads.
    #[steadfast::interface]
    pub trait Context: Send + Sync {
        /// Where the context is.
        fn location(&self) -> Option<u64>;
        /// Its styles.
        fn styles(&self) -> &'static str;
    }

    /// A context at a location.
    pub struct Ctx(pub Option<u64>);

    impl Context for Ctx {
        fn location(&self) -> Option<u64> {
            self.0
        }
        fn styles(&self) -> &'static str {
            "styles"
        }
    }

    /// The function.
    pub fn contextual(context: &dyn Context) -> String {
        match context.location() {
            Some(5) => format!("Twenty has {}", context.styles()),
            Some(loc) => format!("Location: {loc}"),
            None => "No location".into(),
        }
    }

    /// A context, tracked by comemo.
    pub struct ComemoCtx(pub Option<u64>);

    #[comemo::track]
    impl ComemoCtx {
        fn location(&self) -> Option<u64> {
            self.0
        }
        fn styles(&self) -> &'static str {
            "styles"
        }
    }

    /// The function, memoized by comemo.
    #[comemo::memoize]
    pub fn comemo_contextual(context: comemo::Tracked<'_, ComemoCtx>) -> String {
        match context.location() {
            Some(5) => format!("Twenty has {}", context.styles()),
            Some(loc) => format!("Location: {loc}"),
            None => "No location".into(),
        }
    }
}
