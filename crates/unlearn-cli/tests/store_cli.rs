//! The store through `unlearn remove`: refused requests leave it byte for byte, and the
//! removed rows' values leave every file of it.

mod common;

use common::{path, run, scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unlearn::store::Store;
use unlearn::verify::verify;

/// 80 rows `s0`..`s79` of four features in [−0.4, 0.4] (row norm ≤ 0.8, inside the clip
/// norm 1, so the stored rows are the written ones) and a 0/1 label, from a fixed LCG.
fn write_rows(dir: &Path) -> PathBuf {
    let mut state: u64 = 0x5eed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("id,a,b,c,d,y\n");
    for i in 0..80 {
        let x: Vec<f64> = (0..4).map(|_| (next() - 0.5) * 0.8).collect();
        let y = u8::from(x[0] + 0.5 * x[1] + 0.1 * (next() - 0.5) > 0.0);
        let cells: Vec<String> = x.iter().map(|v| format!("{v}")).collect();
        csv.push_str(&format!("s{i},{},{y}\n", cells.join(",")));
    }
    let file = dir.join("rows.csv");
    std::fs::write(&file, csv).unwrap();
    file
}

/// Trains a certified logistic store on [`write_rows`]' rows.
fn train_store(dir: &Path, intercept: bool) -> PathBuf {
    let csv = write_rows(dir);
    let store = dir.join("store");
    let mut line = String::from(
        "train --data CSV --id id --target y --positive 1 --loss logistic --lambda 0.1 \
         --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.1 --out STORE",
    );
    if !intercept {
        line.push_str(" --no-intercept");
    }
    let out = run(&line, &[("CSV", &csv), ("STORE", &store)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn cli_remove(store: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["remove", "--store", path(store)];
    full.extend_from_slice(args);
    common::unlearn(&full)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Refused requests through `unlearn remove` exit with status 1, name the problem, and
/// leave every file of the store byte for byte as it was (the store is written only after
/// every step succeeded).
#[test]
fn refused_cli_removals_leave_the_store_byte_for_byte() {
    let dir = scratch("store-cli", "refused");
    let store = train_store(&dir, true);
    assert!(cli_remove(&store, &["--ids", "s0"]).status.success());
    let before = snapshot(&store);
    let comments_only = dir.join("ids.txt");
    std::fs::write(&comments_only, "# nothing\n\n").unwrap();
    let every_id: Vec<String> = (1..80).map(|i| format!("s{i}")).collect();
    let every_id = every_id.join(",");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--ids", "no-such-id"], "no-such-id"),
        (vec!["--ids", "s1,s2,s1"], "more than once"),
        (vec!["--ids", "s3,s4,s3", "--sequential"], "more than once"),
        (vec!["--ids", "s0"], "'s0'"),
        (vec!["--ids", "s5,s0", "--sequential"], "'s0'"),
        (vec!["--ids", &every_id, "--sequential"], "no training rows"),
        (vec!["--ids-file", path(&comments_only)], "no ids"),
    ];
    for (args, needle) in &cases {
        let out = cli_remove(&store, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(snapshot(&store) == before, "{args:?} changed the store");
    }
    // A valid request does change it (the comparison above can fail).
    let out = cli_remove(&store, &["--ids", "s1"]);
    assert!(out.status.success());
    assert!(snapshot(&store) != before);
}

/// After `unlearn remove`, the removed rows' feature values are nowhere in the store: not
/// as the row's bytes (its f64 little-endian values, contiguous as the container stores
/// them) nor as any single value that no remaining row shares, in `secret/state.bin`; and
/// not as JSON text in any file; and no file names the removed ids (the ledger keeps keyed
/// tags, not ids).
#[test]
fn removed_rows_are_gone_from_every_file_of_the_store() {
    for (intercept, sequential) in [(true, false), (false, true)] {
        let dir = scratch("store-cli", &format!("forgotten-{intercept}"));
        let store = train_store(&dir, intercept);
        let trained = Store::at(&store).load().unwrap();
        let design = trained.model.secret.design.clone();
        let state_before = std::fs::read(store.join("secret").join("state.bin")).unwrap();
        let removed = ["s7", "s12", "s40"];
        let mut args = vec!["--ids", "s7,s12,s40"];
        if sequential {
            args.push("--sequential");
        }
        let out = cli_remove(&store, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let files = snapshot(&store);
        let state = &files[&store.join("secret").join("state.bin")];
        let after = Store::at(&store).load().unwrap();
        assert!(verify(&after).passed());
        let kept: Vec<u64> = after
            .model
            .secret
            .design
            .features()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let mut checked_values = 0;
        for id in removed {
            let row = design.row(design.position(id).unwrap());
            let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
            // The check can fail: before the removal the row bytes are there.
            assert!(contains(&state_before, &bytes), "{id} not stored before");
            assert!(!contains(state, &bytes), "row {id} survives in state.bin");
            for v in row {
                if kept.contains(&v.to_bits()) {
                    continue; // e.g. the intercept's 1.0, shared by every row
                }
                checked_values += 1;
                assert!(!contains(state, &v.to_le_bytes()), "{id}: {v} in state.bin");
                let text = serde_json::to_string(v).unwrap();
                for (path, content) in &files {
                    assert!(
                        !contains(content, text.as_bytes()),
                        "{id}: {text} in {}",
                        path.display()
                    );
                }
            }
            let quoted = format!("\"{id}\"");
            for (path, content) in &files {
                assert!(
                    !contains(content, quoted.as_bytes()),
                    "{id} in {}",
                    path.display()
                );
            }
        }
        assert!(checked_values >= 3 * 4);
    }
}
