//! The naive oracle of structural equality: refine (label, kind, arity) by the children's
//! classes — a set node's as a multiset — until nothing changes. Quadratic and obviously
//! right.

/// Each node's class, for nodes given as (label, is a set, children).
pub fn naive_classes(nodes: &[(u8, bool, Vec<usize>)]) -> Vec<usize> {
    let renumber = |keys: Vec<(usize, Vec<usize>)>| -> Vec<usize> {
        let mut seen = std::collections::HashMap::new();
        keys.into_iter()
            .map(|k| {
                let next = seen.len();
                *seen.entry(k).or_insert(next)
            })
            .collect()
    };
    let mut class = renumber(
        nodes
            .iter()
            .map(|(l, set, c)| (*l as usize, vec![usize::from(*set), c.len()]))
            .collect(),
    );
    loop {
        let next = renumber(
            nodes
                .iter()
                .enumerate()
                .map(|(i, (_, set, c))| {
                    let mut kids: Vec<usize> = c.iter().map(|&x| class[x]).collect();
                    if *set {
                        kids.sort_unstable();
                    }
                    (class[i], kids)
                })
                .collect(),
        );
        let count = |v: &[usize]| v.iter().max().map_or(0, |m| m + 1);
        if count(&next) == count(&class) {
            return next;
        }
        class = next;
    }
}
