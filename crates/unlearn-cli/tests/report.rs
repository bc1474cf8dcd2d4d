//! `unlearn report` end to end: a store with retrainings, the plots and report.md it
//! writes, its JSON output, and the error for a missing store.

use std::path::{Path, PathBuf};

mod common;

use common::{path, run_ok, stderr, stdout, unlearn};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> common::Scratch {
    common::scratch("report", name)
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "a PNG is longer than its header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// A store on builtin:breast_cancer with a budget tight enough that some of 15 sequential
/// removals retrain.
fn store_with_retrainings(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    run_ok(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.0005 --out STORE",
        &[("STORE", &store)],
    );
    let ids: Vec<String> = (0..15).map(|i| format!("b{i:03}")).collect();
    let out = unlearn(&[
        "remove",
        "--store",
        path(&store),
        "--ids",
        &ids.join(","),
        "--sequential",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let certificates: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(certificates.len(), 15);
    assert!(
        certificates.iter().any(|c| c["retrained"] == true),
        "some removal retrains under this budget"
    );
    store
}

#[test]
fn report_writes_plots_and_a_summary_matching_inspect() {
    let dir = scratch("full");
    let store = store_with_retrainings(&dir);
    let report = dir.join("nested").join("report");

    let out = unlearn(&["inspect", "--store", path(&store), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inspect: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let removals = inspect["removals"].as_u64().unwrap();
    let retrainings = inspect["retrainings"].as_u64().unwrap();
    assert_eq!(removals, 15);
    assert!(retrainings >= 1);

    let out = unlearn(&["report", "--store", path(&store), "--out", path(&report)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(path(&report)), "{text}");

    let names = [
        "budget.svg",
        "budget.png",
        "residuals.svg",
        "residuals.png",
        "rows.svg",
        "rows.png",
        "report.md",
    ];
    for name in names {
        let bytes = std::fs::read(report.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!bytes.is_empty(), "{name} is empty");
        assert!(text.contains(name), "{name} listed: {text}");
        if name.ends_with(".png") {
            assert_eq!(png_size(&bytes), unlearn_cli::report::PLOT_SIZE, "{name}");
        }
    }
    let titles = [
        (
            "budget.svg",
            "Budget used per step (output-perturbation, unit: weight-distance)",
        ),
        ("residuals.svg", "Residuals per step (output-perturbation)"),
        ("rows.svg", "Rows left per step (output-perturbation)"),
    ];
    for (name, title) in titles {
        let svg = std::fs::read_to_string(report.join(name)).unwrap();
        assert!(svg.contains("<svg"), "{name}");
        assert!(svg.trim_end().ends_with("</svg>"), "{name}");
        assert!(svg.contains(title), "{name} has its title {title:?}");
    }
    let budget_svg = std::fs::read_to_string(report.join("budget.svg")).unwrap();
    assert!(budget_svg.contains(&format!("retrained ({retrainings})")));
    assert!(budget_svg.contains("total budget 5.00e-4"));

    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| mechanism | output-perturbation |"), "{md}");
    assert!(
        md.contains(&format!("| removals | {removals} steps, 15 rows |")),
        "{md}"
    );
    assert!(
        md.contains(&format!("| retrainings | {retrainings} |")),
        "{md}"
    );
    assert!(md.contains(path(&store)), "{md}");
    assert!(md.contains("weight-distance"));
    assert!(md.contains("](budget.png)") && md.contains("](residuals.svg)"));
    assert!(md.contains("do not publish"));
    assert!(md.contains("unlearn bench"));
    // The table: 16 ledger entries, all listed (fewer than 20), the last removal one row
    // (the ledger keeps keyed tags, so the report names no id).
    assert!(md.contains("| 15 | 1 |"), "{md}");
    assert!(!md.contains("b014"), "{md}");
    assert!(md.contains("| 0 | (training) |"), "{md}");
    let retrained_rows = md.lines().filter(|l| l.contains("| yes | yes |")).count();
    assert_eq!(retrained_rows as u64, retrainings, "{md}");

    // --json: one object with the files and the summary numbers; rewriting is fine.
    let out = run_ok(
        "report --store STORE --out REPORT --json",
        &[("STORE", &store), ("REPORT", &report)],
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let files: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), names.len());
    for name in names {
        assert!(files.iter().any(|f| f.ends_with(name)), "{name}: {files:?}");
    }
    assert_eq!(json["summary"]["removals"].as_u64(), Some(removals));
    assert_eq!(json["summary"]["retrainings"].as_u64(), Some(retrainings));
    assert_eq!(json["summary"]["mechanism"], inspect["mechanism"]);
    assert_eq!(json["summary"]["budget"], inspect["budget"]);
    assert_eq!(json["summary"]["budget_used"], inspect["budget_used"]);
    // No temporary files are left behind.
    for entry in std::fs::read_dir(&report).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(names.contains(&name.as_str()), "unexpected file {name}");
    }
}

#[test]
fn a_missing_store_fails_with_its_path() {
    let dir = scratch("missing");
    let missing = dir.join("no-such-store");
    let out = unlearn(&[
        "report",
        "--store",
        path(&missing),
        "--out",
        path(&dir.join("out")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(path(&missing)), "{}", stderr(&out));
    assert!(
        !dir.join("out").exists(),
        "nothing is written for a missing store"
    );
}

#[test]
fn an_output_directory_that_cannot_be_created_is_a_clear_error() {
    let dir = scratch("blocked");
    let store = dir.join("store");
    run_ok(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --sigma 0 --preprocess recommended --out STORE",
        &[("STORE", &store)],
    );
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let blocked = file.join("report");
    let out = unlearn(&["report", "--store", path(&store), "--out", path(&blocked)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(path(&blocked)), "{err}");
    assert!(err.contains("cannot create the report directory"), "{err}");
}

/// Without a privacy target there is no budget line and no ε; a batch removal's ids are
/// shortened in the table.
#[test]
fn a_store_without_budget_and_a_batch_removal() {
    let dir = scratch("nobudget");
    let store = dir.join("store");
    run_ok(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --sigma 0 --preprocess recommended --out STORE",
        &[("STORE", &store)],
    );
    let ids: Vec<String> = (0..10).map(|i| format!("b{i:03}")).collect();
    let out = unlearn(&["remove", "--store", path(&store), "--ids", &ids.join(",")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = dir.join("report");
    let out = run_ok(
        "report --store STORE --out REPORT --json",
        &[("STORE", &store), ("REPORT", &report)],
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(json["summary"]["budget"], serde_json::Value::Null);
    assert_eq!(json["summary"]["removals"], 1);
    assert_eq!(json["summary"]["removed_rows"], 10);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| ε | none |"), "{md}");
    assert!(md.contains("| budget | none (weight-distance) |"), "{md}");
    assert!(md.contains("| 1 | 10 |"), "{md}");
    let svg = std::fs::read_to_string(report.join("budget.svg")).unwrap();
    assert!(!svg.contains("total budget"));
    let png = std::fs::read(report.join("budget.png")).unwrap();
    assert_eq!(png_size(&png), unlearn_cli::report::PLOT_SIZE);
}

/// The report holds data-dependent numbers about the secret rows: it is operator-only, its
/// directory 0700 and its files 0600 (the review found it world-readable).
#[cfg(unix)]
#[test]
fn the_report_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("report-mode");
    let store = dir.join("store");
    run_ok(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --preprocess recommended --sigma 0 --out STORE",
        &[("STORE", &store)],
    );
    let report = dir.join("report");
    run_ok(
        "report --store STORE --out REPORT",
        &[("STORE", &store), ("REPORT", &report)],
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&report), 0o700);
    for entry in std::fs::read_dir(&report).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
