//! Compile-fail tests: each misuse the derive rejects, one per file, with its reviewed
//! message in the matching `.stderr`. Regenerate after a deliberate change with
//! `TRYBUILD=overwrite cargo test --test ui`, then review the diff.

#[test]
fn misuses_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
