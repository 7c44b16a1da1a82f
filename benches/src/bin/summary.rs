//! Writes the figures of the last criterion run as one small JSON file that can be
//! committed and compared later (criterion's own output is a tree of HTML and JSON under
//! `target/criterion`).
//!
//! `cargo run -p steadfast-benches --bin summary -- [CRITERION_DIR] [OUT]`
//! (defaults: `target/criterion` and `benches/results/summary.json`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "target/criterion".into()));
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "benches/results/summary.json".into()),
    );
    let mut rows = BTreeMap::new();
    collect(&root, &mut rows)?;
    if rows.is_empty() {
        return Err(format!("no criterion results under {}", root.display()).into());
    }
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&out, serde_json::to_string_pretty(&rows)? + "\n")?;
    println!("{} benchmarks -> {}", rows.len(), out.display());
    Ok(())
}

/// Every `new/` result below `dir`: its id, and its mean and median in nanoseconds with
/// the mean's 95% confidence interval.
fn collect(dir: &Path, rows: &mut BTreeMap<String, Value>) -> Result<(), Box<dyn Error>> {
    let new = dir.join("new");
    if new.join("estimates.json").is_file() && new.join("benchmark.json").is_file() {
        let bench: Value = serde_json::from_str(&fs::read_to_string(new.join("benchmark.json"))?)?;
        let est: Value = serde_json::from_str(&fs::read_to_string(new.join("estimates.json"))?)?;
        let id = bench["full_id"].as_str().unwrap_or("?").to_owned();
        rows.insert(
            id,
            json!({
                "mean_ns": est["mean"]["point_estimate"],
                "mean_low_ns": est["mean"]["confidence_interval"]["lower_bound"],
                "mean_high_ns": est["mean"]["confidence_interval"]["upper_bound"],
                "median_ns": est["median"]["point_estimate"],
            }),
        );
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir()
            && path
                .file_name()
                .is_some_and(|n| n != "new" && n != "base" && n != "report")
        {
            collect(&path, rows)?;
        }
    }
    Ok(())
}
