//! Freezing Rust values (`steadfast::norm::freeze`): the counter-examples of the note on
//! freezing recursive objects, each told apart or found equal as it should be; a value frozen
//! alone and inside a larger one; rings entered anywhere; errors; a million-deep list.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use proptest::prelude::*;
use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};

/// The note's `Struct`: some data and a member, which may point anywhere (cycles included).
struct Obj {
    data: i64,
    member: RefCell<Option<Rc<Obj>>>,
}

impl Freeze for Obj {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Obj"), &[&self.data, &self.member])
    }
}

fn obj(data: i64) -> Rc<Obj> {
    Rc::new(Obj {
        data,
        member: RefCell::new(None),
    })
}

fn point(from: &Rc<Obj>, to: &Rc<Obj>) {
    *from.member.borrow_mut() = Some(to.clone());
}

/// `obj0`: 1 → 2 → back to `obj0`.
fn obj0() -> Rc<Obj> {
    let (a, b) = (obj(1), obj(2));
    point(&a, &b);
    point(&b, &a);
    a
}

#[test]
fn cycles_back_to_different_nodes_are_told_apart() {
    // `obj1`: 1 → 2 → back to the 2.
    let (a, b) = (obj(1), obj(2));
    point(&a, &b);
    point(&b, &b);
    assert_ne!(freeze(&obj0()).unwrap(), freeze(&a).unwrap());
    // The same shapes built again freeze equal.
    assert_eq!(freeze(&obj0()).unwrap(), freeze(&obj0()).unwrap());
}

#[test]
fn a_value_frozen_alone_and_inside_a_larger_one_has_one_form() {
    // `obj2`: 42 → `obj0`'s shape (a new one).
    let inner = obj0();
    let obj2 = obj(42);
    point(&obj2, &inner);
    let alone = freeze(&obj0()).unwrap();
    assert_eq!(freeze(&inner).unwrap(), alone);
    let whole = freeze(&obj2).unwrap();
    assert_ne!(whole, alone);
    // `obj3`: 42 → 1 → 2 → back to the 42: its cycle goes through the 42, `obj2`'s does not.
    let (c, d, e) = (obj(42), obj(1), obj(2));
    point(&c, &d);
    point(&d, &e);
    point(&e, &c);
    assert_ne!(freeze(&c).unwrap(), whole);
}

/// A node with several members: the note's `a → b1, b2; c → b1` against `c → b2`.
struct Fan {
    name: &'static str,
    members: RefCell<Vec<Rc<Fan>>>,
}

impl Freeze for Fan {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Fan"), &[&self.name, &self.members])
    }
}

fn fan(name: &'static str) -> Rc<Fan> {
    Rc::new(Fan {
        name,
        members: RefCell::new(Vec::new()),
    })
}

fn link(from: &Rc<Fan>, to: &Rc<Fan>) {
    from.members.borrow_mut().push(to.clone());
}

#[test]
fn a_cycle_to_a_sibling_and_to_a_cousin_is_told_apart() {
    // a → b1, b2; b1 → c; c → b1 (or → b2).
    let build = |back_to_first: bool| {
        let (a, b1, b2, c) = (fan("a"), fan("b1"), fan("b2"), fan("c"));
        link(&a, &b1);
        link(&a, &b2);
        link(&b1, &c);
        link(&c, if back_to_first { &b1 } else { &b2 });
        a
    };
    assert_ne!(
        freeze(&build(true)).unwrap(),
        freeze(&build(false)).unwrap()
    );
    // Cousins: a → b1 → c1, a → b2 → c2, a → b3 → c3; c3 → c1 (or → c2).
    let cousins = |to_first: bool| {
        let a = fan("a");
        let bs = [fan("b1"), fan("b2"), fan("b3")];
        let cs = [fan("c1"), fan("c2"), fan("c3")];
        for (b, c) in bs.iter().zip(&cs) {
            link(&a, b);
            link(b, c);
        }
        link(&cs[2], &cs[if to_first { 0 } else { 1 }]);
        a
    };
    assert_ne!(
        freeze(&cousins(true)).unwrap(),
        freeze(&cousins(false)).unwrap()
    );
}

/// A ring of `Obj`s holding `values` around, each pointing to the next, the last to the
/// first.
fn ring(values: &[i64]) -> Vec<Rc<Obj>> {
    let nodes: Vec<_> = values.iter().map(|&v| obj(v)).collect();
    for (i, node) in nodes.iter().enumerate() {
        point(node, &nodes[(i + 1) % nodes.len()]);
    }
    nodes
}

#[test]
fn a_ring_entered_at_any_node_is_equal() {
    // Three nodes holding 1, 2, 3 around; a rotation of it entered at its 1.
    let a = ring(&[1, 2, 3]);
    let b = ring(&[2, 3, 1]);
    assert_eq!(freeze(&a[0]).unwrap(), freeze(&b[2]).unwrap());
    assert_ne!(freeze(&a[0]).unwrap(), freeze(&b[0]).unwrap());
    // A ring of one value, however many nodes: one form.
    let same = ring(&[7, 7, 7]);
    let single = obj(7);
    point(&single, &single);
    for node in &same {
        assert_eq!(freeze(node).unwrap(), freeze(&single).unwrap());
    }
}

/// The note's `Struct` in an arena: its member a reference, which may point anywhere
/// (cycles included). Labelled as `Obj` is: `&x` freezes as `x`, as `Rc::new(x)` does.
struct Linked<'a> {
    data: i64,
    member: Cell<Option<&'a Linked<'a>>>,
}

impl Freeze for Linked<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Obj"), &[&self.data, &self.member])
    }
}

/// A ring of `Linked` values holding `data` around, in an arena.
fn linked_ring<'a>(data: impl IntoIterator<Item = i64>) -> Vec<Linked<'a>> {
    data.into_iter()
        .map(|data| Linked {
            data,
            member: Cell::new(None),
        })
        .collect()
}

/// Links each value of `arena` to the next, the last to the first.
fn close<'a>(arena: &'a [Linked<'a>]) {
    for (i, value) in arena.iter().enumerate() {
        value.member.set(Some(&arena[(i + 1) % arena.len()]));
    }
}

#[test]
fn a_cycle_of_references_closes_and_freezes_as_the_same_cycle_of_rcs() {
    let arena = linked_ring([1, 2, 3]);
    close(&arena);
    let (one_two_three, two_three_one) = (ring(&[1, 2, 3]), ring(&[2, 3, 1]));
    let form = freeze(&arena[0]).unwrap();
    assert_eq!(form, freeze(&one_two_three[0]).unwrap());
    assert_eq!(
        freeze(&arena[1]).unwrap(),
        freeze(&two_three_one[0]).unwrap()
    );
    assert_ne!(form, freeze(&arena[1]).unwrap());
    // A few references more in front change nothing.
    assert_eq!(freeze(&&&arena[0]).unwrap(), form);
    // A ring of one value, however many links: the ring of one `Rc`.
    let sevens = linked_ring([7; 5]);
    close(&sevens);
    let single = obj(7);
    point(&single, &single);
    assert_eq!(freeze(&sevens[3]).unwrap(), freeze(&single).unwrap());
    // Unlink the `Rc` rings so that they are freed.
    for nodes in [&one_two_three, &two_three_one] {
        nodes[0].member.borrow_mut().take();
    }
    single.member.borrow_mut().take();
}

#[test]
fn a_million_long_cycle_of_references_freezes_in_one_call() {
    // 0, 1, 2 around 999,999 links: it unfolds as the ring of three does.
    let arena = linked_ring((0..999_999).map(|i| i % 3));
    close(&arena);
    let three = linked_ring([0, 1, 2]);
    close(&three);
    assert_eq!(freeze(&arena[0]).unwrap(), freeze(&three[0]).unwrap());
    // One value more, and every link differs from every other: a million of them.
    let arena = linked_ring((0..1_000_000).map(|i| i % 3));
    close(&arena);
    assert!(freeze(&arena[0]).unwrap().len() >= 1_000_000);
}

/// A link of a chain of diamonds: both its references to the next link.
struct Diamond<'a> {
    left: Cell<Option<&'a Diamond<'a>>>,
    right: Cell<Option<&'a Diamond<'a>>>,
}

impl Freeze for Diamond<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Diamond"), &[&self.left, &self.right])
    }
}

#[test]
fn a_value_reached_by_many_references_is_walked_once() {
    // 2^300 paths from the last link to the first: walked once a path, this would not end.
    let chain: Vec<Diamond<'_>> = (0..301)
        .map(|_| Diamond {
            left: Cell::new(None),
            right: Cell::new(None),
        })
        .collect();
    for i in 1..chain.len() {
        chain[i].left.set(Some(&chain[i - 1]));
        chain[i].right.set(Some(&chain[i - 1]));
    }
    let form = freeze(&chain[300]).unwrap();
    // Each link, its `Some`s and the `None`s at the end: the chain, not the paths.
    assert!(form.len() <= 3 * 301, "{}", form.len());
}

/// A struct whose one field is at its own address, with its size.
struct Wrap(u32);

impl Freeze for Wrap {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Wrap"), &[&self.0])
    }
}

#[test]
fn a_struct_and_its_first_field_are_two_values_at_one_address() {
    let wrap = Wrap(5);
    let bytes = [1u8, 2, 3];
    assert_eq!(
        freeze(&(&wrap, &wrap.0, &bytes[..], &bytes[..2])).unwrap(),
        freeze(&(Wrap(5), 5u32, vec![1u8, 2, 3], vec![1u8, 2])).unwrap()
    );
}

#[test]
fn a_ring_held_by_one_node_freezes_as_one_held_node_by_node() {
    // Held only by its head, every other node is pointed to once: `freeze` keeps no address
    // for those, and the ring closes on the head, which it does keep.
    let ring = |n: i64| {
        let nodes: Vec<_> = (0..n).map(|i| obj(i % 3)).collect();
        for i in 0..nodes.len() {
            point(&nodes[i], &nodes[(i + 1) % nodes.len()]);
        }
        nodes
    };
    let held = ring(999);
    let head = ring(999).swap_remove(0);
    assert_eq!(Rc::strong_count(head.member.borrow().as_ref().unwrap()), 1);
    assert_eq!(freeze(&head).unwrap(), freeze(&held[0]).unwrap());
    // The same ring three nodes round, unfolded: equal too; and a ring of 998: not.
    assert_eq!(freeze(&head).unwrap(), freeze(&ring(3)[0]).unwrap());
    assert_ne!(freeze(&head).unwrap(), freeze(&ring(998)[0]).unwrap());
    // A value held once, reached twice through references: one form, as if shared.
    let once = obj(1);
    point(&once, &obj(2));
    let shared = obj(1);
    point(&shared, &obj(2));
    let kept = shared.member.borrow().clone();
    assert_eq!(
        freeze(&(&*once, &*once)).unwrap(),
        freeze(&(&shared, &shared)).unwrap()
    );
    drop(kept);
    for node in held.iter().chain([&head]) {
        node.member.borrow_mut().take();
    }
}

/// An `Obj` shared across threads.
struct SyncObj {
    data: i64,
    member: std::sync::Mutex<Option<std::sync::Arc<SyncObj>>>,
}

impl Freeze for SyncObj {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Obj"), &[&self.data, &self.member])
    }
}

#[test]
fn an_arc_ring_held_by_its_head_is_the_rc_ring() {
    use std::sync::{Arc, Mutex};
    let nodes: Vec<_> = (0..99)
        .map(|i| {
            Arc::new(SyncObj {
                data: i % 3,
                member: Mutex::new(None),
            })
        })
        .collect();
    for i in 0..nodes.len() {
        *nodes[i].member.lock().unwrap() = Some(nodes[(i + 1) % nodes.len()].clone());
    }
    let head = nodes[0].clone();
    drop(nodes);
    let rc = [0, 1, 2].map(obj);
    for i in 0..3 {
        point(&rc[i], &rc[(i + 1) % 3]);
    }
    assert_eq!(freeze(&head).unwrap(), freeze(&rc[0]).unwrap());
    let mut next = head.member.lock().unwrap().take();
    while let Some(node) = next {
        next = node.member.lock().unwrap().take();
    }
    for node in &rc {
        node.member.borrow_mut().take();
    }
}

#[test]
fn a_cycle_of_pointers_only_freezes_to_itself() {
    // A `dyn Freeze` can close a cycle with no value on it: `a` points to a cell that points
    // to `a`. It unfolds to nothing but itself, however long the cycle.
    type Loop = RefCell<Rc<dyn Freeze>>;
    let unit: Rc<dyn Freeze> = Rc::new(());
    let one: Rc<Loop> = Rc::new(RefCell::new(unit.clone()));
    *one.borrow_mut() = one.clone();
    let (a, b): (Rc<Loop>, Rc<Loop>) = (
        Rc::new(RefCell::new(unit.clone())),
        Rc::new(RefCell::new(unit.clone())),
    );
    *a.borrow_mut() = b.clone();
    *b.borrow_mut() = a.clone();
    assert_eq!(freeze(&one).unwrap(), freeze(&a).unwrap());
    assert_ne!(freeze(&one).unwrap(), freeze(&()).unwrap());
    assert_eq!(freeze(&(&one, &a)).unwrap(), freeze(&(&b, &b)).unwrap());
    for cell in [&one, &a, &b] {
        *cell.borrow_mut() = unit.clone();
    }
}

#[test]
fn a_weak_pointer_is_an_edge_while_its_value_lives() {
    let target = Rc::new(5i32);
    let weak: Weak<i32> = Rc::downgrade(&target);
    assert_eq!(freeze(&weak).unwrap(), freeze(&5i32).unwrap());
    drop(target);
    assert_ne!(freeze(&weak).unwrap(), freeze(&5i32).unwrap());
}

/// Nodes of two types pointing to each other, and the same graph with one type.
struct Even {
    data: u8,
    next: RefCell<Vec<Rc<Odd>>>,
}

struct Odd {
    data: u8,
    next: RefCell<Vec<Rc<Even>>>,
}

struct Either {
    even: bool,
    data: u8,
    next: RefCell<Vec<Rc<Either>>>,
}

impl Freeze for Even {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Even"), &[&self.data, &self.next])
    }
}

impl Freeze for Odd {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Odd"), &[&self.data, &self.next])
    }
}

impl Freeze for Either {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let path = if self.even { "Even" } else { "Odd" };
        f.node(Label::Struct(path), &[&self.data, &self.next])
    }
}

#[test]
fn values_of_several_types_waiting_at_once_are_each_walked_through_their_own_pointer() {
    // Every value is shared, so each waits in the line of its pointer's type; two types
    // interleave in the walk. The same graph with one type waits in one line.
    let n = 2_000;
    let next = |i: usize| [(2 * i + 1) % n, (3 * i + 2) % n, (7 * i + 3) % n];
    let data = |i: usize| ((i.wrapping_mul(2_654_435_761) >> 7) % 4) as u8;
    let even: Vec<Rc<Even>> = (0..n)
        .step_by(2)
        .map(|i| {
            Rc::new(Even {
                data: data(i),
                next: RefCell::default(),
            })
        })
        .collect();
    let odd: Vec<Rc<Odd>> = (1..n)
        .step_by(2)
        .map(|i| {
            Rc::new(Odd {
                data: data(i),
                next: RefCell::default(),
            })
        })
        .collect();
    let either: Vec<Rc<Either>> = (0..n)
        .map(|i| {
            Rc::new(Either {
                even: i % 2 == 0,
                data: data(i),
                next: RefCell::default(),
            })
        })
        .collect();
    for i in 0..n {
        // Odd targets from even nodes and even targets from odd ones: `next` gives both.
        let kids: Vec<usize> = next(i).into_iter().filter(|k| k % 2 != i % 2).collect();
        *either[i].next.borrow_mut() = kids.iter().map(|&k| either[k].clone()).collect();
        match i % 2 {
            0 => {
                *even[i / 2].next.borrow_mut() = kids.iter().map(|&k| odd[k / 2].clone()).collect()
            }
            _ => {
                *odd[i / 2].next.borrow_mut() = kids.iter().map(|&k| even[k / 2].clone()).collect()
            }
        }
    }
    for i in [0, 1, 2, 501, 1998] {
        let one_type = freeze(&either[i]).unwrap();
        let two_types = match i % 2 {
            0 => freeze(&even[i / 2]).unwrap(),
            _ => freeze(&odd[i / 2]).unwrap(),
        };
        assert_eq!(one_type, two_types, "entered at {i}");
        assert!(
            one_type.len() > 100,
            "the graph is not trivial: {}",
            one_type.len()
        );
    }
    assert_ne!(freeze(&either[0]).unwrap(), freeze(&either[2]).unwrap());
    for node in &either {
        node.next.borrow_mut().clear();
    }
    for node in &even {
        node.next.borrow_mut().clear();
    }
    for node in &odd {
        node.next.borrow_mut().clear();
    }
}

/// A struct of many scalars beside a sequence: all of them drawn into its label.
struct Wide {
    a: u8,
    b: i32,
    c: &'static str,
    d: bool,
    next: Vec<Rc<Wide>>,
}

impl Freeze for Wide {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(
            Label::Struct("Wide"),
            &[&self.a, &self.b, &self.c, &self.d, &self.next],
        )
    }
}

#[test]
fn a_struct_of_many_scalars_is_told_apart_by_each_of_them() {
    let wide = |d: bool, next: Vec<Rc<Wide>>| Wide {
        a: 1,
        b: -2,
        c: "c",
        d,
        next,
    };
    let leaf = || Rc::new(wide(true, Vec::new()));
    let (one, other) = (wide(true, vec![leaf()]), wide(false, vec![leaf()]));
    let again = wide(true, vec![leaf()]);
    assert_eq!(freeze(&one).unwrap(), freeze(&again).unwrap());
    assert_ne!(freeze(&one).unwrap(), freeze(&other).unwrap());
    // In one value: equal structs share a label, unequal ones do not.
    let alike = freeze(&(&one, &one)).unwrap();
    assert_eq!(freeze(&(&one, &again)).unwrap(), alike);
    assert_ne!(freeze(&(&one, &other)).unwrap(), alike);
}

/// Two values of any types as one node's parts.
struct Pair<'a>(&'a dyn Freeze, &'a dyn Freeze);

impl Freeze for Pair<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Tuple, &[self.0, self.1])
    }
}

#[test]
fn scalars_on_either_side_of_the_small_ones_keep_their_labels() {
    // Small numbers and booleans are interned apart from other scalars: two scalars in one
    // value are one label exactly when their labels are equal, whatever their types.
    let scalars: Vec<(Box<dyn Freeze>, Label)> = vec![
        (Box::new(0u8), Label::Uint(0)),
        (Box::new(0u128), Label::Uint(0)),
        (Box::new(0i8), Label::Int(0)),
        (Box::new(1u8), Label::Uint(1)),
        (Box::new(1i64), Label::Int(1)),
        (Box::new(true), Label::Bool(true)),
        (Box::new(false), Label::Bool(false)),
        (Box::new(255u32), Label::Uint(255)),
        (Box::new(256u32), Label::Uint(256)),
        (Box::new(255i64), Label::Int(255)),
        (Box::new(127i8), Label::Int(127)),
        (Box::new(128i16), Label::Int(128)),
        (Box::new(-128i8), Label::Int(-128)),
        (Box::new(-129i32), Label::Int(-129)),
        (Box::new(u128::MAX), Label::Uint(u128::MAX)),
        (Box::new('a'), Label::Char('a')),
    ];
    for (a, la) in &scalars {
        let alike = freeze(&Pair(&**a, &**a)).unwrap();
        for (b, lb) in &scalars {
            let pair = freeze(&Pair(&**a, &**b)).unwrap();
            assert_eq!(pair == alike, la == lb, "{la:?} and {lb:?}");
        }
    }
}

#[test]
fn a_value_borrowed_mutably_during_the_freeze_is_an_error() {
    let cell = RefCell::new(vec![1, 2]);
    let _writing = cell.borrow_mut();
    assert!(matches!(freeze(&cell), Err(Error::Borrowed { .. })));
}

#[test]
fn a_million_deep_list_freezes_in_one_call() {
    let n = 1_000_000;
    let mut head = obj(0);
    for i in 1..n {
        let next = obj(i);
        point(&next, &head);
        head = next;
    }
    let form = freeze(&head).unwrap();
    // Every node differs (its data), plus the `None` at the end and the `Some`s between.
    assert!(form.len() >= n as usize);
    // Every node also held: each value then waits in line instead of being walked at once,
    // a million of them, with the same form.
    let mut held = Vec::with_capacity(n as usize);
    let mut node = Some(head.clone());
    while let Some(n) = node {
        node = n.member.borrow().clone();
        held.push(n);
    }
    assert_eq!(freeze(&head).unwrap(), form);
    drop(held);
    // Dropping a million-deep chain of `Rc`s recurses as deep: unlink it first.
    let mut node = Some(head);
    while let Some(n) = node {
        node = n.member.borrow_mut().take();
    }
}

/// A node of a random graph of `Rc`s: a label and children, ordered or a set.
struct GNode {
    label: u8,
    set: bool,
    children: RefCell<Vec<Rc<GNode>>>,
}

impl Freeze for GNode {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let children = self.children.borrow();
        match self.set {
            true => f.set(Label::Variant(label(self.label)), children.iter()),
            false => f.seq(Label::Struct(label(self.label)), children.iter()),
        }
    }
}

fn label(l: u8) -> &'static str {
    ["a", "b", "c"][l as usize]
}

use common::naive::naive_classes;

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random graphs of `Rc`s (labels from a small alphabet, up to four children anywhere,
    /// ordered or a set, cycles of every shape): two nodes freeze equal exactly when the naive
    /// fixpoint relates them — sets with the same members in any order and repeated included.
    #[test]
    fn freezing_matches_the_naive_fixpoint(
        nodes in (1usize..16).prop_flat_map(|n| {
            proptest::collection::vec((0u8..3, any::<bool>(), proptest::collection::vec(0..n, 0..5)), n)
        })
    ) {
        let built = build_graph(&nodes);
        let naive = naive_classes(&nodes);
        let forms: Vec<_> = built.iter().map(|n| freeze(n).unwrap()).collect();
        for i in 0..nodes.len() {
            for j in 0..nodes.len() {
                prop_assert_eq!(forms[i] == forms[j], naive[i] == naive[j], "nodes {} and {}", i, j);
            }
        }
        // The same graph in an arena, linked by references: the same forms.
        let arena = arena_graph(&nodes);
        for (node, (_, _, children)) in arena.iter().zip(&nodes) {
            *node.children.borrow_mut() = children.iter().map(|&c| &arena[c]).collect();
        }
        for (i, form) in forms.iter().enumerate() {
            prop_assert_eq!(&freeze(&arena[i]).unwrap(), form, "node {} by references", i);
        }
        // Unlink the cycles so that the nodes are freed.
        for node in &built {
            node.children.borrow_mut().clear();
        }
        // Held by the root alone, most nodes are pointed to once, and `freeze` keeps no
        // address for them: the forms are the same.
        for (i, form) in forms.iter().enumerate() {
            let root = held_by(build_graph(&nodes), i);
            prop_assert_eq!(&freeze(&root).unwrap(), form, "node {} held alone", i);
            unlink(root);
        }
    }
}

fn build_graph(nodes: &[(u8, bool, Vec<usize>)]) -> Vec<Rc<GNode>> {
    let built: Vec<Rc<GNode>> = nodes
        .iter()
        .map(|(label, set, _)| {
            Rc::new(GNode {
                label: *label,
                set: *set,
                children: RefCell::new(Vec::new()),
            })
        })
        .collect();
    for (node, (_, _, children)) in built.iter().zip(nodes) {
        *node.children.borrow_mut() = children.iter().map(|&c| built[c].clone()).collect();
    }
    built
}

/// `GNode` in an arena: its children references (labelled as `GNode` is).
struct RNode<'a> {
    label: u8,
    set: bool,
    children: RefCell<Vec<&'a RNode<'a>>>,
}

impl Freeze for RNode<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let children = self.children.borrow();
        match self.set {
            true => f.set(Label::Variant(label(self.label)), children.iter()),
            false => f.seq(Label::Struct(label(self.label)), children.iter()),
        }
    }
}

/// The nodes of a graph in an arena, not linked yet.
fn arena_graph<'a>(nodes: &[(u8, bool, Vec<usize>)]) -> Vec<RNode<'a>> {
    nodes
        .iter()
        .map(|(label, set, _)| RNode {
            label: *label,
            set: *set,
            children: RefCell::new(Vec::new()),
        })
        .collect()
}

/// Node `root` of `built`, the rest of `built` let go of: what `root` does not reach is
/// unlinked (and freed), what it reaches is held by the graph's own pointers only.
fn held_by(built: Vec<Rc<GNode>>, root: usize) -> Rc<GNode> {
    let address = |n: &Rc<GNode>| Rc::as_ptr(n) as usize;
    let mut reached = std::collections::HashSet::from([address(&built[root])]);
    let mut stack = vec![built[root].clone()];
    while let Some(node) = stack.pop() {
        for child in node.children.borrow().iter() {
            if reached.insert(address(child)) {
                stack.push(child.clone());
            }
        }
    }
    for node in built.iter().filter(|n| !reached.contains(&address(n))) {
        node.children.borrow_mut().clear();
    }
    built[root].clone()
}

/// Frees a graph held by `root` alone, cycles included.
fn unlink(root: Rc<GNode>) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        stack.extend(node.children.take());
    }
}

/// A node of a random graph in which structs hold their children in a `Vec` of their own
/// (which `freeze` folds into the struct's node) or through a pointer to a node that may be
/// a plain sequence (shared, and folded into every struct pointing to it).
enum Shaped {
    /// A struct with one field, a `Vec` of its children.
    Owning(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A struct with its fields: a leaf and, if it has children, a pointer to its first.
    Pointing(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A struct with its fields: a leaf and a `Vec` of its children — equal to a pointing
    /// struct whose pointer is to an equal sequence.
    Holding(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A struct with its fields: a leaf and an `Option` of a pointer to its first child.
    Optional(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A plain sequence of its children.
    Seq(RefCell<Vec<Rc<Shaped>>>),
    /// A set of its children.
    Set(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A struct with its fields: a leaf and a set of its children (which `freeze` makes a set
    /// node of the struct's, the leaf drawn into its label).
    Grouping(u8, RefCell<Vec<Rc<Shaped>>>),
    /// A struct with its fields: a leaf, a set of its children and a `Vec` of them (the
    /// `Vec` drawn in, the set a child).
    Mixed(u8, RefCell<Vec<Rc<Shaped>>>),
}

/// A set field of a struct.
struct Members<'a>(&'a RefCell<Vec<Rc<Shaped>>>);

impl Freeze for Members<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let members = self.0.borrow();
        f.set(Label::Set, members.iter())
    }
}

impl Freeze for Shaped {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self {
            Shaped::Owning(l, kids) => f.node(Label::Struct(label(*l)), &[kids]),
            Shaped::Pointing(l, to) => match to.borrow().first() {
                Some(to) => f.node(Label::Struct(label(*l)), &[l, to]),
                None => f.node(Label::Struct(label(*l)), &[l]),
            },
            Shaped::Holding(l, kids) => f.node(Label::Struct(label(*l)), &[l, kids]),
            Shaped::Optional(l, kids) => {
                let first = kids.borrow().first().cloned();
                f.node(Label::Struct(label(*l)), &[l, &first])
            }
            Shaped::Seq(kids) => kids.freeze(f),
            Shaped::Set(l, kids) => f.set(Label::Variant(label(*l)), kids.borrow().iter()),
            Shaped::Grouping(l, kids) => f.node(Label::Struct(label(*l)), &[l, &Members(kids)]),
            Shaped::Mixed(l, kids) => f.node(Label::Struct(label(*l)), &[l, &Members(kids), kids]),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Structs whose sequence or `Option` field `freeze` folds into their node are compared
    /// as if it were not: against the naive fixpoint of the graph drawn with every sequence,
    /// option, struct and pointer as a node — an owned `Vec` and a shared one equal, cycles
    /// through sequences included.
    #[test]
    fn folding_sequences_into_structs_matches_the_naive_fixpoint(
        nodes in (1usize..14).prop_flat_map(|n| {
            proptest::collection::vec((0u8..8, 0u8..2, proptest::collection::vec(0..n, 0..4)), n)
        })
    ) {
        let n = nodes.len();
        let built: Vec<Rc<Shaped>> = nodes
            .iter()
            .map(|&(kind, l, _)| Rc::new(match kind {
                0 => Shaped::Owning(l, RefCell::default()),
                1 => Shaped::Pointing(l, RefCell::default()),
                2 => Shaped::Holding(l, RefCell::default()),
                3 => Shaped::Seq(RefCell::default()),
                4 => Shaped::Optional(l, RefCell::default()),
                5 => Shaped::Set(l, RefCell::default()),
                6 => Shaped::Grouping(l, RefCell::default()),
                _ => Shaped::Mixed(l, RefCell::default()),
            }))
            .collect();
        // The oracle's graph: the nodes, then a struct's leaf, `Vec`, `Some` or `None`
        // (labels: 0..2 structs, 2..4 sets, 4 a sequence, 5..7 a leaf, 7 `Some`, 8 `None`,
        // 9 a set field).
        let mut oracle: Vec<(u8, bool, Vec<usize>)> = Vec::new();
        let mut extra: Vec<(u8, bool, Vec<usize>)> = Vec::new();
        for (node, &(_, l, ref kids)) in built.iter().zip(&nodes) {
            let rcs = kids.iter().map(|&c| built[c].clone());
            match &**node {
                Shaped::Owning(_, v) => {
                    *v.borrow_mut() = rcs.collect();
                    extra.push((4, false, kids.clone()));
                    oracle.push((l, false, vec![n + extra.len() - 1]));
                }
                Shaped::Pointing(_, to) => {
                    *to.borrow_mut() = rcs.take(1).collect();
                    extra.push((5 + l, false, Vec::new()));
                    let leaf = n + extra.len() - 1;
                    oracle.push((l, false, [leaf].into_iter().chain(kids.first().copied()).collect()));
                }
                Shaped::Holding(_, v) => {
                    *v.borrow_mut() = rcs.collect();
                    extra.push((5 + l, false, Vec::new()));
                    extra.push((4, false, kids.clone()));
                    oracle.push((l, false, vec![n + extra.len() - 2, n + extra.len() - 1]));
                }
                Shaped::Optional(_, v) => {
                    *v.borrow_mut() = rcs.take(1).collect();
                    extra.push((5 + l, false, Vec::new()));
                    extra.push(match kids.first() {
                        Some(&c) => (7, false, vec![c]),
                        None => (8, false, Vec::new()),
                    });
                    oracle.push((l, false, vec![n + extra.len() - 2, n + extra.len() - 1]));
                }
                Shaped::Seq(v) => {
                    *v.borrow_mut() = rcs.collect();
                    oracle.push((4, false, kids.clone()));
                }
                Shaped::Set(_, v) => {
                    *v.borrow_mut() = rcs.collect();
                    oracle.push((2 + l, true, kids.clone()));
                }
                Shaped::Grouping(_, v) => {
                    *v.borrow_mut() = rcs.collect();
                    extra.push((5 + l, false, Vec::new()));
                    extra.push((9, true, kids.clone()));
                    oracle.push((l, false, vec![n + extra.len() - 2, n + extra.len() - 1]));
                }
                Shaped::Mixed(_, v) => {
                    *v.borrow_mut() = rcs.collect();
                    extra.push((5 + l, false, Vec::new()));
                    extra.push((9, true, kids.clone()));
                    extra.push((4, false, kids.clone()));
                    let at = n + extra.len() - 3;
                    oracle.push((l, false, vec![at, at + 1, at + 2]));
                }
            }
        }
        oracle.extend(extra);
        let naive = naive_classes(&oracle);
        let forms: Vec<_> = built.iter().map(|n| freeze(n).unwrap()).collect();
        for i in 0..n {
            for j in 0..n {
                prop_assert_eq!(forms[i] == forms[j], naive[i] == naive[j], "nodes {} and {}", i, j);
            }
        }
        for node in &built {
            match &**node {
                Shaped::Owning(_, v)
                | Shaped::Pointing(_, v)
                | Shaped::Holding(_, v)
                | Shaped::Optional(_, v)
                | Shaped::Seq(v)
                | Shaped::Set(_, v)
                | Shaped::Grouping(_, v)
                | Shaped::Mixed(_, v) => v.borrow_mut().clear(),
            }
        }
    }
}

#[test]
fn a_struct_drawn_into_a_set_node_compares_its_set_as_a_multiset() {
    // A struct of a leaf and a set is one set node labelled with the leaf: its members in
    // any order, each counted, the leaf told apart.
    let member = |l| Rc::new(Shaped::Pointing(l, RefCell::default()));
    let group = |l, kids: Vec<u8>| {
        Rc::new(Shaped::Grouping(
            l,
            RefCell::new(kids.into_iter().map(member).collect()),
        ))
    };
    let form = |g: Rc<Shaped>| freeze(&g).unwrap();
    assert_eq!(form(group(0, vec![0, 1])), form(group(0, vec![1, 0])));
    assert_ne!(form(group(0, vec![0, 1])), form(group(1, vec![0, 1])));
    assert_ne!(form(group(0, vec![0, 0])), form(group(0, vec![0])));
    assert_ne!(form(group(0, vec![0, 1])), form(group(0, vec![0, 0])));
    // With a `Vec` beside it, the set is a child of its own, still a multiset.
    let mixed = |kids: Vec<u8>| {
        Rc::new(Shaped::Mixed(
            0,
            RefCell::new(kids.into_iter().map(member).collect()),
        ))
    };
    let (a, b) = (mixed(vec![0, 1]), mixed(vec![1, 0]));
    assert_ne!(form(a.clone()), form(b.clone()), "the Vec is in order");
    let set_only = |m: &Rc<Shaped>| match &**m {
        Shaped::Mixed(_, v) => freeze(&Members(v)).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(set_only(&a), set_only(&b));
}

#[test]
fn sets_and_maps_built_in_other_orders_are_equal() {
    use std::collections::{BTreeSet, HashMap, HashSet};
    let a: HashSet<i32> = (0..100).collect();
    let b: HashSet<i32> = (0..100).rev().collect();
    let c: BTreeSet<i32> = (0..100).collect();
    assert_eq!(freeze(&a).unwrap(), freeze(&b).unwrap());
    assert_eq!(freeze(&a).unwrap(), freeze(&c).unwrap());
    let fewer: HashSet<i32> = (0..99).collect();
    assert_ne!(freeze(&a).unwrap(), freeze(&fewer).unwrap());
    let m: HashMap<String, Vec<i32>> = (0..50).map(|i| (i.to_string(), vec![i; 3])).collect();
    let n: HashMap<String, Vec<i32>> = (0..50).rev().map(|i| (i.to_string(), vec![i; 3])).collect();
    assert_eq!(freeze(&m).unwrap(), freeze(&n).unwrap());
    // A set is not the sequence of its members.
    assert_ne!(
        freeze(&c).unwrap(),
        freeze(&(0..100).collect::<Vec<i32>>()).unwrap()
    );
}

/// A set member identified by a number but frozen as the cycle it holds.
struct Numbered(u32, Rc<Obj>);

impl PartialEq for Numbered {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Numbered {}

impl std::hash::Hash for Numbered {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Freeze for Numbered {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        self.1.freeze(f)
    }
}

#[test]
// A `Numbered` hashes by its number alone, which never changes.
#[allow(clippy::mutable_key_type)]
fn a_set_counts_its_members() {
    use std::collections::HashSet;
    // Two distinct but equal cycles are two members, as `len` says: not a set of one.
    let two: HashSet<Numbered> = [Numbered(1, obj0()), Numbered(2, obj0())].into();
    let one: HashSet<Numbered> = [Numbered(1, obj0())].into();
    assert_ne!(freeze(&two).unwrap(), freeze(&one).unwrap());
    // Which cycles, and whether they are one `Rc` twice, does not count.
    let shared = obj0();
    let twice: HashSet<Numbered> = [Numbered(5, shared.clone()), Numbered(9, shared)].into();
    assert_eq!(freeze(&two).unwrap(), freeze(&twice).unwrap());
}

#[test]
fn sets_of_long_sequences_are_equal_in_any_order() {
    use std::collections::HashSet;
    // Sequences of 70 items (more than 64 positions) that differ only far along: the
    // canonical order of a set's members tells them apart by their last positions too.
    let seq = |i: u8| -> Vec<u8> {
        let mut v = vec![0u8; 70];
        v[66] = i;
        v[3] = i % 2;
        v
    };
    let forwards: HashSet<Vec<u8>> = (0..20).map(seq).collect();
    let backwards: HashSet<Vec<u8>> = (0..20).rev().map(seq).collect();
    assert_eq!(freeze(&forwards).unwrap(), freeze(&backwards).unwrap());
    let other: HashSet<Vec<u8>> = (1..21).map(seq).collect();
    assert_ne!(freeze(&forwards).unwrap(), freeze(&other).unwrap());
    // Inside a list of sets, members shared between sets.
    let nested = |order: &[u8]| -> Vec<HashSet<Vec<u8>>> {
        order
            .chunks(5)
            .map(|c| c.iter().map(|&i| seq(i)).collect())
            .collect()
    };
    let a: Vec<u8> = (0..20).collect();
    let mut b = a.clone();
    for chunk in b.chunks_mut(5) {
        chunk.reverse();
    }
    assert_eq!(freeze(&nested(&a)).unwrap(), freeze(&nested(&b)).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// A node's canonical form, set nodes included, is the same in its whole graph and in the
    /// graph of what it reaches alone (built in another order): a value frozen alone and
    /// inside a larger one gets one form.
    #[test]
    fn a_form_does_not_depend_on_the_graph_around_it(
        nodes in (1usize..16).prop_flat_map(|n| {
            proptest::collection::vec((0u8..3, any::<bool>(), proptest::collection::vec(0..n, 0..5)), n)
        }),
        root in 0usize..16,
    ) {
        use steadfast::norm::Graph;
        let root = root % nodes.len();
        let add = |g: &mut Graph<u8>, (label, set, children): &(u8, bool, Vec<usize>), map: &dyn Fn(usize) -> usize| {
            let kids: Vec<usize> = children.iter().map(|&c| map(c)).collect();
            match set {
                true => g.add_set_node(*label, kids.into_iter().rev()),
                false => g.add_node(*label, kids),
            };
        };
        let mut whole = Graph::new();
        for node in &nodes {
            add(&mut whole, node, &|c| c);
        }
        // What the root reaches, numbered from the last reached.
        let mut reached = vec![root];
        let mut i = 0;
        while i < reached.len() {
            for &c in &nodes[reached[i]].2 {
                if !reached.contains(&c) {
                    reached.push(c);
                }
            }
            i += 1;
        }
        reached.reverse();
        let at = |c: usize| reached.iter().position(|&r| r == c).unwrap();
        let mut alone = Graph::new();
        for &r in &reached {
            add(&mut alone, &nodes[r], &at);
        }
        let (w, a) = (whole.normalize().unwrap(), alone.normalize().unwrap());
        prop_assert_eq!(w.canonical(root), a.canonical(at(root)));
    }
}

/// A link of a list whose every link holds a set: the set of the two next links' tags.
struct Tagged {
    tag: u8,
    around: RefCell<std::collections::HashSet<Rc<Tagged>, std::hash::RandomState>>,
    next: RefCell<Option<Rc<Tagged>>>,
}

impl std::hash::Hash for Tagged {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self, state);
    }
}

impl PartialEq for Tagged {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Tagged {}

impl Freeze for Tagged {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(
            Label::Struct("Tagged"),
            &[&self.tag, &self.around, &self.next],
        )
    }
}

#[test]
fn a_million_deep_list_of_sets_freezes_in_one_call() {
    // Every link's tag is 0, so links differ only by how far the end is: the classes need
    // the whole depth to tell apart, and every set orders two of them.
    let n = 1_000_000;
    let mut links: Vec<Rc<Tagged>> = Vec::with_capacity(n);
    let end = Rc::new(Tagged {
        tag: 1,
        around: RefCell::default(),
        next: RefCell::new(None),
    });
    links.push(end);
    for i in 1..n {
        let link = Rc::new(Tagged {
            tag: 0,
            around: RefCell::default(),
            next: RefCell::new(Some(links[i - 1].clone())),
        });
        link.around.borrow_mut().insert(links[i - 1].clone());
        if i >= 2 {
            link.around.borrow_mut().insert(links[i - 2].clone());
        }
        links.push(link);
    }
    let form = freeze(&links[n - 1]).unwrap();
    assert!(form.len() >= n);
    // Entered one link later it is a different value (the million-link check is the form's
    // size above; one freeze of a million links is what this test is for).
    assert_ne!(freeze(&links[1000]).unwrap(), freeze(&links[999]).unwrap());
    // Unlink before dropping: a million-deep chain of `Rc`s drops as deep.
    for link in &links {
        link.around.borrow_mut().clear();
        link.next.borrow_mut().take();
    }
}

mod derived {
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use steadfast::norm::{freeze, Freeze};

    #[derive(Freeze)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[derive(Freeze)]
    struct Pair(Point, Point);

    #[derive(Freeze)]
    struct Marker;

    #[derive(Freeze)]
    enum Shape {
        Empty,
        Dot(Point),
        Poly {
            points: Vec<Point>,
            tags: BTreeMap<String, u8>,
        },
    }

    #[derive(Freeze)]
    struct Boxed<T> {
        value: T,
    }

    #[derive(Freeze)]
    struct Other {
        x: i32,
        y: i32,
    }

    /// A name and a map: one set node of the map's entries, labelled with the name.
    #[derive(Freeze)]
    struct Tagged {
        name: String,
        tags: std::collections::HashMap<String, u8>,
    }

    #[test]
    fn derived_structs_and_enums_freeze_field_by_field() {
        let p = |x, y| Point { x, y };
        assert_eq!(freeze(&p(1, 2)).unwrap(), freeze(&p(1, 2)).unwrap());
        assert_ne!(freeze(&p(1, 2)).unwrap(), freeze(&p(2, 1)).unwrap());
        assert_eq!(
            freeze(&Pair(p(0, 0), p(1, 1))).unwrap(),
            freeze(&Pair(p(0, 0), p(1, 1))).unwrap()
        );
        assert_eq!(freeze(&Marker).unwrap(), freeze(&Marker).unwrap());
        // A type's name is part of its label: the same fields in another type differ.
        assert_ne!(
            freeze(&p(1, 2)).unwrap(),
            freeze(&Other { x: 1, y: 2 }).unwrap()
        );
        // Variants differ by name, even with the same fields.
        assert_ne!(
            freeze(&Shape::Empty).unwrap(),
            freeze(&Shape::Dot(p(0, 0))).unwrap()
        );
        let poly = |order: &[u8]| Shape::Poly {
            points: vec![p(0, 0), p(1, 0)],
            tags: order.iter().map(|&t| (t.to_string(), t)).collect(),
        };
        assert_eq!(
            freeze(&poly(&[1, 2, 3])).unwrap(),
            freeze(&poly(&[3, 2, 1])).unwrap()
        );
        assert_ne!(
            freeze(&poly(&[1, 2])).unwrap(),
            freeze(&poly(&[1, 2, 3])).unwrap()
        );
        let tagged = |name: &str, tags: &[(&str, u8)]| Tagged {
            name: name.into(),
            tags: tags.iter().map(|&(k, v)| (k.into(), v)).collect(),
        };
        let (ab, ba) = (
            tagged("t", &[("a", 1), ("b", 2)]),
            tagged("t", &[("b", 2), ("a", 1)]),
        );
        assert_eq!(freeze(&ab).unwrap(), freeze(&ba).unwrap());
        assert_ne!(
            freeze(&ab).unwrap(),
            freeze(&tagged("u", &[("a", 1), ("b", 2)])).unwrap()
        );
        assert_ne!(
            freeze(&ab).unwrap(),
            freeze(&tagged("t", &[("a", 2), ("b", 1)])).unwrap()
        );
        assert_ne!(
            freeze(&ab).unwrap(),
            freeze(&tagged("t", &[("a", 1)])).unwrap()
        );
        // A generic parameter is bounded by `Freeze`; a shared value is compared by what
        // it is.
        let shared = Rc::new(p(5, 5));
        assert_eq!(
            freeze(&Boxed {
                value: (shared.clone(), shared)
            })
            .unwrap(),
            freeze(&Boxed {
                value: (Rc::new(p(5, 5)), Rc::new(p(5, 5)))
            })
            .unwrap()
        );
    }
}

/// A hand-written impl that returns a node number it did not get from the freezer.
struct Forged;

impl Freeze for Forged {
    fn freeze(&self, _: &mut Freezer) -> Result<usize, Error> {
        Ok(usize::MAX)
    }
}

#[test]
fn locks_held_poisoned_or_forged_nodes_are_typed_errors() {
    use std::sync::{Arc, Mutex, RwLock};
    let held = Mutex::new(1);
    let guard = held.lock().unwrap();
    assert!(matches!(freeze(&held), Err(Error::Locked { .. })));
    drop(guard);
    assert!(freeze(&held).is_ok());
    let written = RwLock::new(1);
    let guard = written.write().unwrap();
    assert!(matches!(freeze(&written), Err(Error::Locked { .. })));
    drop(guard);
    let poisoned = Arc::new(Mutex::new(1));
    let p = poisoned.clone();
    let _ = std::thread::spawn(move || {
        let _guard = p.lock().unwrap();
        panic!("poison the lock");
    })
    .join();
    assert!(matches!(freeze(&poisoned), Err(Error::Poisoned { .. })));
    assert!(matches!(
        freeze(&Forged),
        Err(Error::UnknownNode {
            node: usize::MAX,
            nodes: 0
        })
    ));
    assert!(matches!(
        freeze(&vec![Forged]),
        Err(Error::UnknownNode { nodes: 1, .. })
    ));
    // The messages say what happened.
    assert_eq!(
        Error::UnknownNode { node: 7, nodes: 3 }.to_string(),
        "a Freeze impl returned node 7, but the freezer has made 3 nodes"
    );
}

/// A node of parts given as `dyn Freeze`, as many as asked.
struct Parts<'a>(Vec<&'a dyn Freeze>);

impl Freeze for Parts<'_> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Tuple, &self.0)
    }
}

#[test]
fn long_runs_of_shared_parts_keep_their_order_on_every_path() {
    use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
    // Runs shorter and longer than the walk reads ahead at once: each path that walks a run
    // (a slice, an iterator, a node's parts, a set, a map) walks it whole and in order.
    for n in [2, 7, 8, 9, 16, 17, 40] {
        let rcs: Vec<Rc<Obj>> = (0..n).map(obj).collect();
        let fresh: Vec<Rc<Obj>> = (0..n).map(obj).collect();
        let mut swapped = fresh.clone();
        swapped.swap(n as usize - 2, n as usize - 1);
        let frozen = freeze(&rcs).unwrap();
        assert_eq!(freeze(&fresh).unwrap(), frozen, "{n}: a Vec");
        assert_ne!(freeze(&swapped).unwrap(), frozen, "{n}: a Vec, swapped");
        assert_eq!(freeze(&rcs[..]).unwrap(), frozen, "{n}: a slice");
        let deque: VecDeque<Rc<Obj>> = rcs.iter().cloned().collect();
        assert_eq!(freeze(&deque).unwrap(), frozen, "{n}: an iterator");
        let parts =
            |rcs: &[Rc<Obj>]| freeze(&Parts(rcs.iter().map(|r| r as &dyn Freeze).collect()));
        assert_eq!(parts(&rcs).unwrap(), parts(&fresh).unwrap(), "{n}: parts");
        assert_ne!(
            parts(&rcs).unwrap(),
            parts(&swapped).unwrap(),
            "{n}: parts, swapped"
        );
        let set: BTreeSet<i64> = (0..n).collect();
        let backwards: BTreeSet<i64> = (0..n).rev().collect();
        assert_eq!(
            freeze(&set).unwrap(),
            freeze(&backwards).unwrap(),
            "{n}: a set"
        );
        let map: BTreeMap<i64, Rc<Obj>> = (0..n).zip(rcs.iter().cloned()).collect();
        let hashed: HashMap<i64, Rc<Obj>> = (0..n).rev().zip(fresh.iter().rev().cloned()).collect();
        let fewer: HashMap<i64, Rc<Obj>> = (1..n).zip(fresh.iter().skip(1).cloned()).collect();
        assert_eq!(
            freeze(&map).unwrap(),
            freeze(&hashed).unwrap(),
            "{n}: a map"
        );
        assert_ne!(
            freeze(&map).unwrap(),
            freeze(&fewer).unwrap(),
            "{n}: a map, fewer"
        );
    }
}

/// A value whose freeze recovers from its parts' error by freezing as a string instead.
struct Recovering(RefCell<i64>);

impl Freeze for Recovering {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let one = Rc::new(1);
        match f.node(Label::Struct("Recovering"), &[&one, &self.0, &one]) {
            Ok(node) => Ok(node),
            Err(_) => Ok(f.leaf(Label::Str("recovered".into()))),
        }
    }
}

#[test]
fn a_freeze_impl_may_recover_from_a_part_that_fails() {
    // The node whose part failed is left half made: nothing refers to it, and the freeze
    // is the freeze of what the impl returned instead.
    let value = Recovering(RefCell::new(5));
    let borrowed = value.0.borrow_mut();
    let recovered = freeze(&(&value, 7)).unwrap();
    drop(borrowed);
    assert_eq!(recovered, freeze(&("recovered", 7)).unwrap());
    assert_ne!(freeze(&(&value, 7)).unwrap(), recovered);
}
