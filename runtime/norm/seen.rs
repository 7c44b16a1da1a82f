//! The table of the shared values a freeze has seen: each value's address, with its pointer.
//!
//! A walk looks an address up for every `Rc` it meets, and on a large graph the table is far
//! larger than the cache, so that the lookups are what the walk waits for. Two choices make
//! them cheap:
//!
//! - an address and its pointer lie side by side in one 12-byte slot, found by linear
//!   probing: a lookup misses the cache once, not twice as in a table that keeps its control
//!   bytes apart from its entries;
//! - values allocated near one another get slots near one another: an address's first slot is
//!   its 256-byte region's place, scattered over the table by a multiplicative hash, plus its
//!   offset in the region. A graph walked roughly in the order it was allocated (a list, a
//!   ring, a tree built top-down) then reads the table nearly in order.
//!
//! The hash is fixed, as `FxHashMap`'s is: addresses are not chosen by an adversary, and the
//! patterns allocators make (dense runs, strides of a power of two) are tested below.

/// Addresses and their pointers, by open addressing with linear probing.
pub(super) struct Seen {
    /// Each slot: an address's low and high halves (`[0, 0]` in an empty slot: no value lives
    /// at address 0), and its pointer.
    slots: Vec<[u32; 3]>,
    len: usize,
    /// `64 - log2(slots.len())`: a hash's top bits give a region's place.
    shift: u32,
}

/// The log2 of a region's bytes: a region spans 16 slots, one per 16 bytes (the least an `Rc`'s
/// or `Arc`'s allocation takes on a 64-bit target, its two counts).
const REGION: u32 = 8;

/// Slots in a new table: few, as most values frozen are small.
const FIRST: usize = 16;

/// The first slot to look for `address` in.
fn start(address: u64, shift: u32, mask: usize) -> usize {
    // Fibonacci hashing: consecutive regions land evenly apart.
    let region = (address >> REGION).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift;
    let offset = (address >> 4) & ((1 << (REGION - 4)) - 1);
    (region + offset) as usize & mask
}

fn key(address: u64) -> [u32; 2] {
    [address as u32, (address >> 32) as u32]
}

fn is_empty(slot: &[u32; 3]) -> bool {
    slot[0] == 0 && slot[1] == 0
}

impl Seen {
    pub(super) fn new() -> Self {
        Seen {
            slots: Vec::new(),
            len: 0,
            shift: 64,
        }
    }

    /// The pointer kept for `address` (not 0), or the place to keep one.
    pub(super) fn find(&mut self, address: usize) -> Result<u32, Vacant<'_>> {
        debug_assert_ne!(address, 0, "no value lives at address 0");
        if self.slots.is_empty() {
            self.grow();
        }
        let address = address as u64;
        let key = key(address);
        let mask = self.slots.len() - 1;
        let mut at = start(address, self.shift, mask);
        loop {
            let slot = &self.slots[at];
            if [slot[0], slot[1]] == key {
                return Ok(slot[2]);
            }
            if is_empty(slot) {
                return Err(Vacant {
                    seen: self,
                    at,
                    key,
                });
            }
            at = (at + 1) & mask;
        }
    }

    /// Reads `address`'s first slot, so that a lookup soon after finds it in the cache.
    #[inline]
    pub(super) fn touch(&self, address: usize) {
        if !self.slots.is_empty() {
            let first = start(address as u64, self.shift, self.slots.len() - 1);
            std::hint::black_box(self.slots[first][0]);
        }
    }

    /// Doubles the table (or makes the first one) and puts every address back.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(FIRST);
        let old = std::mem::replace(&mut self.slots, vec![[0; 3]; size]);
        self.shift = 64 - size.trailing_zeros();
        let mask = size - 1;
        for slot in old.iter().filter(|s| !is_empty(s)) {
            let address = u64::from(slot[0]) | u64::from(slot[1]) << 32;
            let mut at = start(address, self.shift, mask);
            while !is_empty(&self.slots[at]) {
                at = (at + 1) & mask;
            }
            self.slots[at] = *slot;
        }
    }
}

/// The empty slot an address not seen would take.
pub(super) struct Vacant<'a> {
    seen: &'a mut Seen,
    at: usize,
    key: [u32; 2],
}

impl Vacant<'_> {
    /// Keeps `pointer` for the address.
    pub(super) fn insert(self, pointer: u32) {
        let Vacant { seen, at, key } = self;
        seen.slots[at] = [key[0], key[1], pointer];
        seen.len += 1;
        // At most three quarters full, so that probes stay short.
        if seen.len * 4 > seen.slots.len() * 3 {
            seen.grow();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Random lookups and insertions, past a few growths, against a `HashMap`: addresses
        /// from families that crowd a region, share a low half, have a low half of zero, or
        /// lie a megabyte apart.
        #[test]
        fn agrees_with_a_map(
            ops in vec((0..4u64, 0..2048u64, any::<u32>(), any::<bool>()), 0..4000)
        ) {
            let mut seen = Seen::new();
            let mut model: HashMap<usize, u32> = HashMap::new();
            for (family, k, pointer, insert) in ops {
                let address = match family {
                    0 => 0x5555_0000_0000 + 16 * k,
                    1 => (k << 32) | 16,
                    2 => (k + 1) << 32,
                    _ => 0x7000_0000_0000 + (k << 20),
                } as usize;
                match seen.find(address) {
                    Ok(kept) => prop_assert_eq!(Some(&kept), model.get(&address)),
                    Err(vacant) => {
                        prop_assert!(!model.contains_key(&address));
                        if insert {
                            vacant.insert(pointer);
                            model.insert(address, pointer);
                        }
                    }
                }
            }
            prop_assert_eq!(seen.len, model.len());
            for (&address, &pointer) in &model {
                prop_assert_eq!(seen.find(address).ok(), Some(pointer));
            }
        }
    }

    /// Keeps pointer `i` for `address`, not seen before.
    fn insert(seen: &mut Seen, address: usize, i: usize) {
        match seen.find(address) {
            Ok(_) => panic!("{address:#x} seen twice"),
            Err(vacant) => vacant.insert(i as u32),
        }
    }

    /// How many slots a lookup of `address` reads.
    fn probes(seen: &Seen, address: usize) -> usize {
        let key = key(address as u64);
        let mask = seen.slots.len() - 1;
        let mut at = start(address as u64, seen.shift, mask);
        let mut read = 1;
        while [seen.slots[at][0], seen.slots[at][1]] != key {
            assert!(
                !is_empty(&seen.slots[at]),
                "{address:#x} is not in the table"
            );
            at = (at + 1) & mask;
            read += 1;
        }
        read
    }

    /// The table's largest load: three quarters of 2^20 slots.
    const FULL: usize = 3 << 18;

    /// Addresses as allocators lay them out: dense runs of values of several sizes, strides
    /// of powers of two up to a megabyte (which no allocator makes of this many values), and a
    /// scatter; every address with a high half.
    fn patterns() -> Vec<(&'static str, Vec<usize>)> {
        let base: usize = 0x5555_0000_0000;
        let run = |stride: usize| (0..FULL).map(move |i| base + 16 + stride * i).collect();
        vec![
            ("16-byte run", run(16)),
            ("24-byte run", run(24)),
            ("56-byte run", run(56)),
            ("64-byte run", run(64)),
            ("128-byte stride", run(128)),
            ("256-byte stride", run(256)),
            ("512-byte stride", run(512)),
            ("1-KiB stride", run(1024)),
            ("2-KiB stride", run(2048)),
            ("page stride", run(4096)),
            ("64-KiB stride", run(1 << 16)),
            ("megabyte stride", run(1 << 20)),
            (
                "scatter",
                // Odd multiples modulo 2^32 are distinct: 16-byte places over 64 GiB.
                (0..FULL as u64)
                    .map(|i| base + 16 * (i.wrapping_mul(0x2545_F491) & 0xFFFF_FFFF) as usize)
                    .collect(),
            ),
        ]
    }

    #[test]
    fn each_address_keeps_its_pointer() {
        let mut seen = Seen::new();
        // Low halves of zero, high halves of zero, and both halves set.
        let addresses = [1 << 32, 5 << 32, 16, 32, 0xFFFF_FFF0, 0x7FFF_FFFF_FFF0];
        for (i, &a) in addresses.iter().enumerate() {
            insert(&mut seen, a, i);
        }
        for (i, &a) in addresses.iter().enumerate() {
            assert_eq!(seen.find(a).ok(), Some(i as u32));
        }
        // Not kept until inserted.
        assert!(seen.find(48).is_err());
        assert!(seen.find(48).is_err());
        assert_eq!(seen.len, addresses.len());
    }

    #[test]
    fn lookups_stay_short_at_the_largest_load() {
        for (name, addresses) in patterns() {
            let mut seen = Seen::new();
            for (i, &a) in addresses.iter().enumerate() {
                insert(&mut seen, a, i);
            }
            assert_eq!(seen.slots.len(), 1 << 20, "{name}: full, not grown");
            let mut total = 0;
            for (i, &a) in addresses.iter().enumerate() {
                assert_eq!(seen.find(a).ok(), Some(i as u32), "{name}");
                total += probes(&seen, a);
            }
            let mean = total as f64 / addresses.len() as f64;
            // Linear probing over random slots reads 2.5 at this load; a megabyte's stride,
            // the worst pattern here, reads 3.5.
            assert!(mean < 4.0, "{name}: {mean:.2} slots read on average");
        }
    }
}
