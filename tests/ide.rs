//! The editor's use cases of overlays (`examples/ide.rs`, which checks each with an
//! assertion) run as a test: an unsaved edit shows its errors; edit after edit, each shows the
//! current state; unsaved edits to `a` and `b`, then `b` saved: `a` sees the saved `b`; hover
//! reads the unsaved state.

#[path = "../examples/ide.rs"]
mod ide;

#[test]
fn the_editor_s_use_cases() {
    ide::main().unwrap();
}
