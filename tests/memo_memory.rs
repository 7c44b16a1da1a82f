//! What a memo allocates: nothing on a hit, and at most 48 bytes per recorded call beyond
//! the call's and the answer's own size. Counted by `allocation-counter`, whose allocator
//! tallies the current thread's allocations.

use steadfast::Memo;

#[steadfast::interface]
trait Table: Send + Sync {
    fn get(&self, i: u32) -> u64;
}

/// Equal to every other table except at `differs`, where it answers `value`.
struct Numbers {
    differs: u32,
    value: u64,
}

impl Table for Numbers {
    fn get(&self, i: u32) -> u64 {
        if i == self.differs {
            self.value
        } else {
            u64::from(i)
        }
    }
}

fn sum(calls: u32, t: &dyn Table) -> u64 {
    (0..calls).map(|i| t.get(i)).sum()
}

/// The size of one recorded (call, answer) pair.
const PAIR: usize = std::mem::size_of::<(TableCall, TableAnswer)>();

#[test]
fn a_hit_allocates_nothing() {
    // 1,000 entries of 1,000 calls sharing their first 999 (the long-hit bench's shape),
    // and a tree of many forks: both walked without an allocation.
    let memo: Memo<(), u64, dyn Table> = Memo::new();
    for v in 0..1_000 {
        let t = Numbers {
            differs: 999,
            value: v,
        };
        memo.get(&(), &t, |_, t| sum(1_000, t)).unwrap();
    }
    let forks: Memo<(), u64, dyn Table> = Memo::new();
    for d in 0..64 {
        let t = Numbers {
            differs: d,
            value: 1_000,
        };
        forks.get(&(), &t, |_, t| sum(64, t)).unwrap();
    }
    let t = Numbers {
        differs: 999,
        value: 500,
    };
    let deep = Numbers {
        differs: 63,
        value: 1_000,
    };
    let (mut hit, mut hit_deep) = (0, 0);
    let info = allocation_counter::measure(|| {
        hit = memo.get(&(), &t, |_, _| unreachable!()).unwrap();
        hit_deep = forks.get(&(), &deep, |_, _| unreachable!()).unwrap();
    });
    assert_eq!(info.count_total, 0, "allocations on a hit");
    assert_eq!(hit, (0..999).sum::<u64>() + 500);
    assert_eq!(hit_deep, (0..63).sum::<u64>() + 1_000);
}

/// Bytes held per recorded call beyond the pair itself, after recording `runs` runs of
/// `calls` calls that part at call `at`.
fn overhead(runs: u64, calls: u32, at: u32) -> f64 {
    let mut memo = None;
    let info = allocation_counter::measure(|| {
        let m: Memo<(), u64, dyn Table> = Memo::with_budget(usize::MAX);
        for v in 0..runs {
            let t = Numbers {
                differs: at,
                value: 1_000 + v,
            };
            m.get(&(), &t, |_, t| sum(calls, t)).unwrap();
        }
        memo = Some(m);
    });
    // Recorded calls: the shared prefix once, then each run's own part.
    let recorded = u64::from(at) + runs * u64::from(calls - at);
    info.bytes_current as f64 / recorded as f64 - PAIR as f64
}

#[test]
fn bytes_per_recorded_call_beyond_its_own_size() {
    // Runs whose own part is long (100 or 500 calls each after the shared prefix): a
    // node's cost is spread over its run, and a recorded call costs its own size and
    // little more.
    for (runs, calls, at) in [(1_000, 100, 0), (100, 1_000, 500)] {
        let extra = overhead(runs, calls, at);
        println!("{runs} runs of {calls} calls parting at {at}: {extra:.1} B per stored call beyond {PAIR}");
        assert!(extra <= 48.0, "{extra:.1} bytes per call");
    }
    // The worst case: every run's own part is one call, so each run is a result held in
    // its fork's table, and each such call carries a whole entry (its result and its mark;
    // the eviction queue holds the fork once). The table's entries grow a quarter at a
    // time, so the cost stays near the entry's size wherever the count falls.
    for runs in [100, 897, 1_000, 1_025, 1_793, 2_049, 4_000, 10_000] {
        let extra = overhead(runs, 1_000, 999);
        println!(
            "{runs} runs of 1000 calls parting at 999: {extra:.1} B per stored call beyond {PAIR}"
        );
        assert!(extra <= 48.0, "{extra:.1} bytes per call");
    }
}
