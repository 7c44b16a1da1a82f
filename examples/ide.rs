//! An editor's unsaved edits as an overlay over the saved project: the environment stack of
//! a type checker — module sources → parsed classes → each class's parents → grandparents →
//! errors — with the use cases an editor has (Pyre's notes on overlays):
//!
//! 1. An unsaved edit shows its errors as it is typed.
//! 2. Edit after edit, each shows the current state.
//! 3. Unsaved edits to `a` and `b`, then `b` is saved: `a` shows errors against the saved `b`.
//! 4. Hover and completion read the unsaved state.
//!
//! Only the caches that read an unsaved module are computed in the overlay; the rest of the
//! project is read from the heap, and each save is pushed into the overlay.
//!
//! `cargo run --example ide`

use std::collections::BTreeMap;

use steadfast::{cached, mutable, Ctx, Error, Heap, Mutable};

/// A class as the parser sees it: its name and the names of its bases (`module.Class`, or
/// `Class` for one of the same module).
#[derive(Clone, Debug, PartialEq)]
struct Class {
    name: String,
    bases: Vec<String>,
}

/// One source file.
#[mutable]
#[derive(Clone)]
struct Module {
    name: String,
    source: String,
    imports: Vec<Mutable<Module>>,
}

/// Parses `class Name` and `class Name(Base, other.Base)` lines.
fn parse(source: &str) -> Result<Vec<Class>, String> {
    let mut classes = Vec::new();
    for (n, line) in source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || format!("line {}: syntax error: {line:?}", n + 1);
        let rest = line.trim().strip_prefix("class ").ok_or_else(bad)?;
        let (name, bases) = match rest.split_once('(') {
            None => (rest, Vec::new()),
            Some((name, bases)) => {
                let bases = bases.strip_suffix(')').ok_or_else(bad)?;
                let bases = bases.split(',').map(|b| b.trim().to_owned()).collect();
                (name, bases)
            }
        };
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '.');
        if !ok(name) || !bases.iter().all(|b: &String| ok(b)) {
            return Err(bad());
        }
        classes.push(Class {
            name: name.to_owned(),
            bases,
        });
    }
    Ok(classes)
}

#[cached]
impl Module {
    /// The module's classes, or its syntax error.
    #[cache(lazy_read)]
    fn classes(source: &String) -> Result<Vec<Class>, String> {
        parse(source)
    }

    /// Each class's parents, fully qualified; a base found nowhere is `None`.
    #[cache(lazy_read)]
    fn parents(
        name: &String,
        imports: &Vec<Mutable<Module>>,
        ctx: &Ctx<'_, Self>,
    ) -> BTreeMap<String, Vec<Option<String>>> {
        let Ok(Ok(classes)) = ctx.own(&Module::CLASSES) else {
            return BTreeMap::new();
        };
        let defines = |module: &str, class: &str| -> bool {
            if module == name {
                return classes.iter().any(|c| c.name == class);
            }
            imports.iter().any(|m| {
                ctx.field_of(m, &Module::NAME).is_ok_and(|n| n == module)
                    && matches!(ctx.cached(m, &Module::CLASSES),
                        Ok(Ok(cs)) if cs.iter().any(|c| c.name == class))
            })
        };
        classes
            .iter()
            .map(|c| {
                let parents = c
                    .bases
                    .iter()
                    .map(|b| {
                        let (module, class) = b.rsplit_once('.').unwrap_or((name, b));
                        defines(module, class).then(|| format!("{module}.{class}"))
                    })
                    .collect();
                (format!("{name}.{}", c.name), parents)
            })
            .collect()
    }

    /// Each class's grandparents: the parents of its parents.
    #[cache(lazy_read)]
    fn grandparents(
        imports: &Vec<Mutable<Module>>,
        ctx: &Ctx<'_, Self>,
    ) -> BTreeMap<String, Vec<String>> {
        let Ok(parents) = ctx.own(&Module::PARENTS) else {
            return BTreeMap::new();
        };
        let mut tables = vec![parents];
        tables.extend(
            imports
                .iter()
                .filter_map(|m| ctx.cached(m, &Module::PARENTS).ok()),
        );
        let parents_of = |class: &str| -> Vec<String> {
            tables
                .iter()
                .find_map(|t| t.get(class))
                .map(|ps| ps.iter().flatten().cloned().collect())
                .unwrap_or_default()
        };
        parents
            .iter()
            .map(|(class, ps)| {
                let grand = ps.iter().flatten().flat_map(|p| parents_of(p)).collect();
                (class.clone(), grand)
            })
            .collect()
    }

    /// What the editor shows: a syntax error, or each base found nowhere.
    #[cache(lazy_read)]
    fn errors(name: &String, ctx: &Ctx<'_, Self>) -> Vec<String> {
        if let Ok(Err(syntax)) = ctx.own(&Module::CLASSES) {
            return vec![syntax.clone()];
        }
        let Ok(parents) = ctx.own(&Module::PARENTS) else {
            return Vec::new();
        };
        let Ok(Ok(classes)) = ctx.own(&Module::CLASSES) else {
            return Vec::new();
        };
        classes
            .iter()
            .flat_map(|c| {
                let ps = &parents[&format!("{name}.{}", c.name)];
                ps.iter()
                    .zip(&c.bases)
                    .filter(|(p, _)| p.is_none())
                    .map(move |(_, b)| format!("class {}: unknown base {b}", c.name))
            })
            .collect()
    }
}

pub(crate) fn main() -> Result<(), Error> {
    let mut heap = Heap::new();
    let module = |name: &str, source: &str, imports: Vec<Mutable<Module>>| Module {
        name: name.into(),
        source: source.into(),
        imports,
    };
    // The saved project: `a` imports `b`.
    let b = heap.mutable(module("b", "class Base\nclass Mixin", vec![]))?;
    let a = heap.mutable(module("a", "class Foo(b.Base)", vec![b.clone()]))?;
    let saved_errors = |heap: &Heap, m: &Mutable<Module>| heap.cached(m, &Module::ERRORS).cloned();
    assert!(saved_errors(&heap, &a)?.is_empty());
    println!("saved: a has no errors");

    let unsaved = heap.overlay();
    let errors = |heap: &Heap, m: &Mutable<Module>| -> Result<Vec<String>, Error> {
        heap.layer(&unsaved)?.cached(m, &Module::ERRORS).cloned()
    };

    // 1. An unsaved edit shows its errors; the saved project has none.
    Module::set_source(
        &mut heap.layer_mut(&unsaved)?,
        &a,
        "class Foo(b.Missing)".into(),
    )?;
    println!("unsaved a: {:?}", errors(&heap, &a)?);
    assert_eq!(errors(&heap, &a)?, ["class Foo: unknown base b.Missing"]);
    assert!(saved_errors(&heap, &a)?.is_empty());

    // 2. Typing on: each state shows its own errors.
    for (text, expected) in [
        (
            "class Foo(b.",
            vec!["line 1: syntax error: \"class Foo(b.\"".to_owned()],
        ),
        ("class Foo(b.Base)\nclass Bar(Foo, b.Mixin)", vec![]),
    ] {
        Module::set_source(&mut heap.layer_mut(&unsaved)?, &a, text.into())?;
        println!("unsaved a, {text:?}: {:?}", errors(&heap, &a)?);
        assert_eq!(errors(&heap, &a)?, expected);
    }

    // 4. Hover over `Bar`: its grandparents, from the unsaved state.
    let hover = |heap: &Heap| -> Result<Vec<String>, Error> {
        let layer = heap.layer(&unsaved)?;
        Ok(layer.cached(&a, &Module::GRANDPARENTS)?["a.Bar"].clone())
    };
    println!("hover a.Bar: grandparents {:?}", hover(&heap)?);
    assert_eq!(hover(&heap)?, ["b.Base"]);

    // 3. An unsaved edit to `b` too (renaming `Base`): `a` shows it.
    Module::set_source(
        &mut heap.layer_mut(&unsaved)?,
        &b,
        "class Root\nclass Mixin".into(),
    )?;
    println!("unsaved a and b: {:?}", errors(&heap, &a)?);
    assert_eq!(errors(&heap, &a)?, ["class Foo: unknown base b.Base"]);
    // Then `b` is saved with a `Base` kept after all: the save is a write of the heap, and
    // the overlay drops its copy of `b`. `a` shows errors against the saved `b`.
    Module::set_source(
        &mut heap,
        &b,
        "class Root\nclass Base(Root)\nclass Mixin".into(),
    )?;
    heap.layer_mut(&unsaved)?.revert(&b)?;
    println!("b saved: a {:?}", errors(&heap, &a)?);
    assert!(errors(&heap, &a)?.is_empty());
    assert_eq!(
        heap.layer(&unsaved)?.cached(&a, &Module::GRANDPARENTS)?["a.Foo"],
        ["b.Root"]
    );

    // `a` saved too: the overlay's last edit committed as one operation of the heap.
    heap.commit(unsaved)?;
    assert!(saved_errors(&heap, &a)?.is_empty());
    assert_eq!(
        heap[&a].source,
        "class Foo(b.Base)\nclass Bar(Foo, b.Mixin)"
    );
    println!("a saved: the project has no errors");
    Ok(())
}
