//! The runtime's layout keeps the rules it is read by (see `docs/semantics.md`,
//! "Layout"): no runtime module imports a module that imports it back, every public method
//! of `Heap` is declared in `runtime/heap/mod.rs`, and the declarations a type makes do
//! not name the heap.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Every runtime module: its path from the crate root (`heap::parts`) and its file.
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, PathBuf>, root: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out, root);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime");
    let mut out = BTreeMap::new();
    walk(&root, &mut out, &root);
    out
}

fn parse(path: &Path) -> syn::File {
    syn::parse_file(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `crate::` paths a file names, in `use` items and in code.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.push(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.push(prefix, &r.ident),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.tree(prefix, t)),
            syn::UseTree::Glob(_) => self.0.push(prefix.clone()),
        }
    }

    fn push(&mut self, prefix: &[String], ident: &syn::Ident) {
        let mut path = prefix.to_vec();
        path.push(ident.to_string());
        self.0.push(path);
    }
}

impl<'a> Visit<'a> for Paths {
    fn visit_item_use(&mut self, item: &'a syn::ItemUse) {
        // Re-exports are the crate's public face, not dependencies.
        if matches!(item.vis, syn::Visibility::Inherited) {
            self.tree(&mut Vec::new(), &item.tree);
        }
    }

    fn visit_path(&mut self, path: &'a syn::Path) {
        self.0
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
}

/// The module a `crate::` path names an item of, if it names one in the runtime.
fn target(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    if path.first().map(String::as_str) != Some("crate") {
        return None;
    }
    (2..=path.len())
        .rev()
        .map(|n| path[1..n].join("::"))
        .find(|m| modules.contains_key(m))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let mut paths = Paths::default();
        paths.visit_file(&parse(file));
        let to = paths
            .0
            .iter()
            .filter_map(|p| target(p, &modules))
            .filter(|t| t != module && !t.is_empty())
            .collect();
        edges.insert(module.clone(), to);
    }
    // Depth-first search for a cycle; report it as a chain of modules.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in &edges[m] {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(cycle) = visit(m, &edges, &mut done, &mut Vec::new()) {
            panic!("runtime modules import each other: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn every_public_heap_method_is_declared_in_heap_mod() {
    for (module, file) in modules() {
        for item in parse(&file).items {
            let syn::Item::Impl(imp) = item else { continue };
            let syn::Type::Path(ty) = &*imp.self_ty else {
                continue;
            };
            if imp.trait_.is_some() || !ty.path.is_ident("Heap") {
                continue;
            }
            assert_eq!(module, "heap", "an `impl Heap` block in {}", file.display());
            for item in &imp.items {
                if let syn::ImplItem::Fn(f) = item {
                    if matches!(f.vis, syn::Visibility::Public(_)) {
                        let documented = f.attrs.iter().any(|a| a.path().is_ident("doc"));
                        assert!(documented, "`Heap::{}` has no documentation", f.sig.ident);
                    }
                }
            }
        }
    }
}

#[test]
fn declarations_do_not_name_the_heap() {
    #[derive(Default)]
    struct Idents(BTreeSet<String>);
    impl<'a> Visit<'a> for Idents {
        fn visit_ident(&mut self, ident: &'a syn::Ident) {
            self.0.insert(ident.to_string());
        }
    }
    let modules = modules();
    for module in ["decl::field", "decl::cache", "decl::object"] {
        let mut idents = Idents::default();
        idents.visit_file(&parse(&modules[module]));
        for heap in ["Heap", "Core", "parts"] {
            assert!(
                !idents.0.contains(heap),
                "`{module}` names `{heap}`: a declaration reaches the heap only through a `Ctx`"
            );
        }
    }
}
