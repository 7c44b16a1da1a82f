//! Writes the figures of the last criterion run as one small JSON file that can be
//! committed and compared later (criterion's own output is a tree of HTML and JSON under
//! `target/criterion`), with the build they came from (the commit, whether the tree had
//! uncommitted changes, the compiler) and the bytes per object the `footprint` bench wrote.
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
    let footprint = root
        .with_file_name("steadfast-bench")
        .join("footprint.json");
    let footprint: Value = match fs::read_to_string(&footprint) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => Value::Null,
    };
    let summary = json!({
        "build": {
            "commit": command("git", &["rev-parse", "HEAD"]),
            // Of the code that was measured: the summary itself does not count.
            "uncommitted_changes": command(
                "git",
                &["status", "--porcelain", "--untracked-files=no", "--", ".", ":!benches/results"],
            )
            .is_some_and(|s| !s.is_empty()),
            "rustc": command("rustc", &["--version"]),
        },
        "command": "cargo bench -p steadfast-benches",
        "criterion_ns": rows,
        "footprint_bytes_per_object": footprint,
    });
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&out, serde_json::to_string_pretty(&summary)? + "\n")?;
    println!("{} benchmarks -> {}", rows.len(), out.display());
    Ok(())
}

/// The trimmed output of a command, if it ran.
fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
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
