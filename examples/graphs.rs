//! Structural equality of immutable graphs, cycles included: the same cyclic structure built
//! from different starting points, in different orders, or unrolled, has one canonical form;
//! a structure that differs in one label does not.
//!
//! `cargo run --example graphs`

use steadfast::norm::Error;
use steadfast::norm::Graph;

fn main() -> Result<(), Error> {
    // A ring of three shapes, square → circle → triangle → square, drawn three ways:
    let mut g = Graph::new();
    // 1. as a ring, entered at the square;
    let ring = g.add_node("square", [1]);
    g.add_node("circle", [2]);
    g.add_node("triangle", [0]);
    // 2. as a ring whose nodes were added in another order;
    g.add_node("triangle", [5]);
    let circle = g.add_node("circle", [3]);
    let reordered = g.add_node("square", [4]);
    // 3. unrolled once: six nodes going round twice before closing.
    let unrolled = g.add_node("square", [7]);
    g.add_node("circle", [8]);
    g.add_node("triangle", [9]);
    g.add_node("square", [10]);
    g.add_node("circle", [11]);
    g.add_node("triangle", [6]);
    // And a ring that differs in one label.
    let other = g.add_node("square", [13]);
    g.add_node("circle", [14]);
    g.add_node("hexagon", [12]);

    let normal = g.normalize()?;
    println!(
        "{} nodes, {} distinct up to structure",
        g.len(),
        normal.classes()
    );
    for (name, node) in [
        ("ring", ring),
        ("reordered", reordered),
        ("unrolled", unrolled),
        ("other", other),
    ] {
        let form = normal.canonical(node);
        println!(
            "{name:>9}: {} nodes in its canonical form, hash {:016x}",
            form.len(),
            form.stable_hash()
        );
    }
    println!(
        "ring = reordered: {}, ring = unrolled: {}, ring = other: {}",
        normal.canonical(ring) == normal.canonical(reordered),
        normal.canonical(ring) == normal.canonical(unrolled),
        normal.canonical(ring) == normal.canonical(other),
    );
    println!(
        "entered elsewhere, the same ring is another root: circle = square: {}, circle = circle: {}",
        normal.equivalent(circle, ring),
        normal.equivalent(circle, 1),
    );

    // A child that was never added is an error, not a panic.
    let mut broken = Graph::new();
    broken.add_node("square", [7]);
    match broken.normalize() {
        Err(e) => println!("a broken graph: {e}"),
        Ok(_) => unreachable!("node 7 does not exist"),
    }
    Ok(())
}
