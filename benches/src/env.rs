//! The environment stack of an editor, at scale: module sources → parsed classes → each
//! class's parents → grandparents → errors. Module `i` imports modules `i + 1` and `i + 2`,
//! so an edit to one module reaches its class, the parents of its two importers, the
//! grandparents of four modules and their errors: a few cells, whatever the number of
//! modules.

use steadfast::{Ctx, Heap, Mutable, Overlay};

/// One module: its source (a version number standing for the text) and what it imports.
#[steadfast::mutable]
#[derive(Clone, Debug)]
pub struct Module {
    /// The source, as a version of its text.
    pub source: u64,
    /// The modules it imports: their classes are its class's parents.
    pub imports: Vec<Mutable<Module>>,
}

/// Parsing a source: some work per call, as a parser does.
fn parse(source: u64) -> u64 {
    let mut h = source ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..64 {
        h = h.rotate_left(5).wrapping_mul(0x100_0000_01b3) ^ source;
    }
    h
}

#[steadfast::cached]
impl Module {
    /// The parsed class.
    #[cache(lazy_read)]
    pub fn class(source: &u64) -> u64 {
        parse(*source)
    }

    /// Its parents' classes.
    #[cache(lazy_read)]
    pub fn parents(imports: &Vec<Mutable<Module>>, ctx: &Ctx<'_, Self>) -> Vec<u64> {
        imports
            .iter()
            .map(|m| *ctx.cached(m, &Module::CLASS).unwrap_or(&0))
            .collect()
    }

    /// Its grandparents' classes.
    #[cache(lazy_read)]
    pub fn grandparents(imports: &Vec<Mutable<Module>>, ctx: &Ctx<'_, Self>) -> Vec<u64> {
        imports
            .iter()
            .flat_map(|m| ctx.cached(m, &Module::PARENTS).cloned().unwrap_or_default())
            .collect()
    }

    /// Its errors: ancestors whose class clashes with its own.
    #[cache(lazy_read)]
    pub fn errors(ctx: &Ctx<'_, Self>) -> usize {
        let own = *ctx.own(&Module::CLASS).unwrap_or(&0);
        let parents = ctx
            .own(&Module::PARENTS)
            .map_or(0, |p| p.iter().filter(|&&c| c % 7 == own % 7).count());
        let grandparents = ctx
            .own(&Module::GRANDPARENTS)
            .map_or(0, |g| g.iter().filter(|&&c| c % 7 == own % 7).count());
        parents + grandparents
    }
}

/// An environment of modules in a heap.
pub struct Env {
    /// The heap: the saved state.
    pub heap: Heap,
    /// The modules, by number.
    pub modules: Vec<Mutable<Module>>,
}

impl Env {
    /// `n` modules, module `i` with source `i`.
    pub fn new(n: usize) -> Self {
        Self::with_sources((0..n as u64).collect())
    }

    /// One module per source.
    pub fn with_sources(sources: Vec<u64>) -> Self {
        let mut heap = Heap::new();
        let n = sources.len();
        let mut modules: Vec<Mutable<Module>> = Vec::with_capacity(n);
        for i in (0..n).rev() {
            // Made from the last: module i imports i + 1 and i + 2, made before it.
            let made = modules.len();
            let imports = (1..=2)
                .filter(|d| i + d < n)
                .map(|d| modules[made - d].clone())
                .collect();
            let module = Module {
                source: sources[i],
                imports,
            };
            modules.push(heap.mutable(module).unwrap());
        }
        modules.reverse();
        Env { heap, modules }
    }

    /// Checks every module (the saved state's errors, as an editor shows them).
    pub fn check_all(&self) -> usize {
        self.modules
            .iter()
            .map(|m| *self.heap.cached(m, &Module::ERRORS).unwrap())
            .sum()
    }

    /// What an editor asks after an edit to module `i` in `overlay`: its errors and those
    /// of the modules that import it.
    pub fn query(&self, overlay: &Overlay, i: usize) -> usize {
        let layer = self.heap.layer(overlay).unwrap();
        (i.saturating_sub(2)..=i)
            .map(|j| *layer.cached(&self.modules[j], &Module::ERRORS).unwrap())
            .sum()
    }

    /// The same question asked of the base.
    pub fn query_base(&mut self, i: usize) -> usize {
        (i.saturating_sub(2)..=i)
            .map(|j| *self.heap.cached(&self.modules[j], &Module::ERRORS).unwrap())
            .sum()
    }

    /// A new environment with this one's saved sources and the given edits (module,
    /// source): the overlay rebuilt from its parent.
    pub fn rebuilt(&self, edits: &[(usize, u64)]) -> Env {
        let mut sources: Vec<u64> = self
            .modules
            .iter()
            .map(|m| self.heap.get(m).unwrap().source)
            .collect();
        for &(i, source) in edits {
            sources[i] = source;
        }
        Env::with_sources(sources)
    }
}
