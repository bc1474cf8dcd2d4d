//! The binary's readers and their friction (issue 11, "reader friction"): each test here
//! reproduces one reported problem and fails without its fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

mod common;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use common::{path, run, run_ok, stderr, stdout, unlearn};
use parquet::arrow::ArrowWriter;
use serde_json::Value;

fn scratch(name: &str) -> common::Scratch {
    common::scratch("readers", name)
}

/// 40 rows `r0`…`r39`: a text column `name`, features x1, x2 in [0, 1), a yes/no label.
fn rows_csv(scale: f64) -> String {
    let mut text = String::from("name,x1,x2,label\n");
    for i in 0..40 {
        let (a, b) = ((i % 7) as f64 / 7.0 * scale, (i % 5) as f64 / 5.0 * scale);
        let label = if a + b > 0.8 * scale { "yes" } else { "no" };
        text.push_str(&format!("r{i},{a},{b},{label}\n"));
    }
    text
}

/// A certified-free logistic store trained on [`rows_csv`] (ids from `name`).
fn small_store(dir: &Path) -> PathBuf {
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, rows_csv(1.0)).unwrap();
    let store = dir.join("store");
    run_ok(
        "train --data CSV --target label --id name --loss logistic --lambda 0.01 --clip-norm 1 --sigma 0 --out STORE",
        &[("CSV", &csv), ("STORE", &store)],
    );
    store
}

fn json_line(out: &Output) -> Value {
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The first finding: a CSV named `.txt` was read as LIBSVM, `--target` silently
/// ignored (0 features). Now it is sniffed as CSV; a real LIBSVM `.txt` refuses `--target`.
#[test]
fn a_csv_named_txt_trains_on_its_features_and_libsvm_refuses_target() {
    let dir = scratch("txt");
    let txt = dir.join("rows.txt");
    std::fs::write(&txt, rows_csv(1.0)).unwrap();
    let store = dir.join("store");
    let out = run_ok(
        "train --data TXT --target label --id name --loss logistic --lambda 0.01 --clip-norm 1 --sigma 0 --out STORE --json",
        &[("TXT", &txt), ("STORE", &store)],
    );
    let summary = json_line(&out);
    assert_eq!(summary["features"], 2);
    assert!(summary["training_fit"]["accuracy"].as_f64().unwrap() > 0.9);

    let svm = dir.join("rows_svm.txt");
    std::fs::write(&svm, "1 1:0.5 2:0.25\n-1 1:0.1\n1 2:0.9\n-1 1:0.3 2:0.1\n").unwrap();
    let out = run(
        "train --data SVM --target label --loss logistic --lambda 0.1 --sigma 0 --out STORE2",
        &[("SVM", &svm), ("STORE2", &dir.join("store2"))],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("LIBSVM") && stderr(&out).contains("drop --target"),
        "{}",
        stderr(&out)
    );
    let semicolons = dir.join("rows.dat");
    std::fs::write(&semicolons, "x1;label\n1;a\n").unwrap();
    let out = run(
        "train --data DAT --target label --loss logistic --lambda 0.1 --sigma 0 --out STORE3",
        &[("DAT", &semicolons), ("STORE3", &dir.join("store3"))],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));
}

#[test]
fn ignore_skips_a_text_column() {
    let dir = scratch("ignore");
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, rows_csv(1.0)).unwrap();
    let base = "train --data CSV --target label --loss logistic --lambda 0.01 --clip-norm 1 --sigma 0 --out STORE --json";
    let store = dir.join("store");
    let out = run(base, &[("CSV", &csv), ("STORE", &store)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--ignore name"), "{}", stderr(&out));
    let out = run(
        &format!("{base} --ignore name"),
        &[("CSV", &csv), ("STORE", &store)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_line(&out)["features"], 2);
}

/// No warning used to say that rows far outside the clip norm, or unscaled rows, cost
/// accuracy or certificates. The warning reads the data; the preprocessing does not.
#[test]
fn training_warns_about_rows_far_outside_the_clip_norm_and_changes_nothing() {
    let dir = scratch("warn");
    let csv = dir.join("big.csv");
    std::fs::write(&csv, rows_csv(100.0)).unwrap();
    let train = |extra: &str, store: &Path| {
        run(
            &format!(
                "train --data CSV --target label --id name --loss logistic --lambda 0.01 --sigma 0 --out STORE {extra}"
            ),
            &[("CSV", &csv), ("STORE", store)],
        )
    };
    let clipped = dir.join("clipped");
    let out = train("--clip-norm 1", &clipped);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning:") && stderr(&out).contains("--scale"),
        "{}",
        stderr(&out)
    );
    let out = train("--json", &dir.join("unclipped"));
    let warnings = json_line(&out)["warnings"].clone();
    assert_eq!(warnings.as_array().map(Vec::len), Some(1), "{warnings}");
    assert!(warnings[0].as_str().unwrap().contains("--clip-norm"));
    // Scaled into the unit ball: no warning.
    let out = train("--scale 0.005 --clip-norm 1 --json", &dir.join("scaled"));
    assert_eq!(json_line(&out)["warnings"], serde_json::json!([]));
    // The warned-about store keeps exactly the constants given.
    let out = unlearn(&["export", "--store", path(&clipped)]);
    let model = json_line(&out);
    assert_eq!(model["preprocessing"]["clip_norm"], 1.0);
    assert_eq!(model["preprocessing"]["default_scale"], 1.0);
}

/// A 3-vs-8 model on builtin:digits used to predict every digit as 3 or 8 and fail to
/// evaluate ("unknown label"); it now applies to its own classes.
#[test]
fn a_three_versus_eight_model_applies_to_its_own_digits() {
    let dir = scratch("digits");
    let store = dir.join("store");
    run_ok(
        "train --data builtin:digits --labels 3,8 --positive 8 --loss logistic --lambda 1e-3 --regularization per-sample --preprocess recommended --sigma 0 --out STORE",
        &[("STORE", &store)],
    );
    let out = run_ok(
        "evaluate --store STORE --data builtin:digits --json",
        &[("STORE", &store)],
    );
    let metrics = json_line(&out);
    assert_eq!(metrics["rows"], 357);
    assert_eq!(metrics["skipped_rows"], 1797 - 357);
    assert!(metrics["accuracy"].as_f64().unwrap() > 0.9);
    let out = run_ok(
        "predict --store STORE --data builtin:digits --labels 8",
        &[("STORE", &store)],
    );
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), 1 + 174, "the 174 eights");
    let out = run(
        "evaluate --store STORE --data builtin:digits --labels 4",
        &[("STORE", &store)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a class of the model"),
        "{}",
        stderr(&out)
    );
}

/// `predict` gave labels only and could not read `export`'s JSON.
#[test]
fn predict_gives_probabilities_and_reads_exported_models() {
    let dir = scratch("proba");
    let store = small_store(&dir);
    let csv = dir.join("rows.csv");
    let out = run(
        "predict --store STORE --data CSV --id name --proba --json",
        &[("STORE", &store), ("CSV", &csv)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let labels = run(
        "predict --store STORE --data CSV --id name --json",
        &[("STORE", &store), ("CSV", &csv)],
    );
    for (p, l) in stdout(&out).lines().zip(stdout(&labels).lines()) {
        let p: Value = serde_json::from_str(p).unwrap();
        let l: Value = serde_json::from_str(l).unwrap();
        let (no, yes) = (
            p["probabilities"]["no"].as_f64().unwrap(),
            p["probabilities"]["yes"].as_f64().unwrap(),
        );
        // σ(s) + σ(−s) = 1 up to four roundings of at most ε/2.
        assert!((no + yes - 1.0).abs() <= 2.0 * f64::EPSILON);
        assert_eq!(l["prediction"], if yes >= no { "yes" } else { "no" });
    }

    let export = run("export --store STORE", &[("STORE", &store)]);
    assert!(export.status.success(), "{}", stderr(&export));
    let model = dir.join("model.json");
    std::fs::write(&model, &export.stdout).unwrap();
    for command in ["predict", "evaluate"] {
        let line = format!("{command} --store STORE --data CSV --id name --json");
        let from_store = run(&line, &[("STORE", &store), ("CSV", &csv)]);
        let line = format!("{command} --model MODEL --data CSV --id name --json");
        let from_export = run(&line, &[("MODEL", &model), ("CSV", &csv)]);
        assert!(from_export.status.success(), "{}", stderr(&from_export));
        assert_eq!(stdout(&from_export), stdout(&from_store), "{command}");
    }

    let ridge = dir.join("ridge");
    run_ok(
        "train --data builtin:diabetes --loss squared --lambda 1 --preprocess recommended --sigma 0 --out RIDGE",
        &[("RIDGE", &ridge)],
    );
    let out = run(
        "predict --store RIDGE --data builtin:diabetes --proba",
        &[("RIDGE", &ridge)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("logistic"), "{}", stderr(&out));
}

/// `synth --out s.csv` wrote the file, then failed syncing the directory "".
#[test]
fn synth_writes_to_a_bare_file_name() {
    let dir = scratch("synth");
    let out = Command::new(env!("CARGO_BIN_EXE_unlearn"))
        .args(["synth", "--n", "10", "--d", "2", "--out", "s.csv"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.join("s.csv")).unwrap();
    assert_eq!(text.lines().count(), 11);
}

/// A BOM in an ids file made its first id unknown; `--ids ""` said the empty id was unknown.
#[test]
fn ids_files_with_a_bom_and_empty_id_lists() {
    let dir = scratch("ids");
    let store = small_store(&dir);
    let ids = dir.join("ids.txt");
    std::fs::write(&ids, "\u{feff}r3\r\nr4\n").unwrap();
    let out = run_ok(
        "remove --store STORE --ids-file IDS --json",
        &[("STORE", &store), ("IDS", &ids)],
    );
    assert_eq!(
        json_line(&out)["removed_id_tags"].as_array().unwrap().len(),
        2
    );
    let out = unlearn(&["remove", "--store", path(&store), "--ids", ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--ids names no ids") && !stderr(&out).contains("not among"),
        "{}",
        stderr(&out)
    );
}

/// A request line of a megabyte used to come back whole in the refusal (and its error).
#[test]
fn a_huge_request_line_is_echoed_capped() {
    let dir = scratch("huge");
    let store = small_store(&dir);
    let requests = dir.join("requests.txt");
    let huge = "x".repeat(1 << 20);
    std::fs::write(&requests, format!("{huge}\n")).unwrap();
    for json in [false, true] {
        let mut args = vec![
            "serve-requests",
            "--store",
            path(&store),
            "--requests",
            path(&requests),
        ];
        if json {
            args.push("--json");
        }
        let out = unlearn(&args);
        assert_eq!(out.status.code(), Some(1));
        let printed = stdout(&out) + &stderr(&out);
        assert!(printed.len() < 4096, "{} bytes printed", printed.len());
        assert!(printed.contains("… (1048576 bytes)"), "{printed}");
    }
}

/// The subcommands (all take --json).
const COMMANDS: [&str; 17] = [
    "demo",
    "train",
    "export",
    "predict",
    "evaluate",
    "remove",
    "publish",
    "serve-requests",
    "verify",
    "inspect",
    "audit",
    "audit-membership",
    "audit-epsilon",
    "report",
    "reproduce",
    "bench",
    "synth",
];

fn error_object(out: &Output) -> Value {
    let text = stderr(out);
    let value: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(value["error"]["message"].is_string(), "{value}");
    value
}

/// With --json, errors used to be plain text; they are now one JSON object on stderr.
#[test]
fn with_json_every_error_is_a_json_object_on_stderr() {
    let dir = scratch("json-errors");
    let missing = dir.join("missing.store");
    let unwritable = dir.join("no-such-dir").join("x.csv");
    let failing = [
        "train --data DATA --target y --loss logistic --lambda 1 --sigma 0 --out STORE --json",
        "export --store STORE --json",
        "predict --store STORE --data builtin:digits --json",
        "evaluate --store STORE --data builtin:digits --json",
        "remove --store STORE --ids d1 --json",
        "publish --store STORE --json",
        "serve-requests --store STORE --requests - --json",
        "verify --store STORE --json",
        "inspect --store STORE --json",
        "audit --store STORE --against-retrain --json",
        "audit-membership --data DATA --json",
        "report --store STORE --out REPORT --json",
        "synth --n 5 --d 2 --out UNWRITABLE --json",
    ];
    for line in failing {
        let out = run(
            line,
            &[
                ("STORE", &missing),
                ("DATA", &dir.join("missing.csv")),
                ("REPORT", &dir.join("report")),
                ("UNWRITABLE", &unwritable),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{line}: {}", stderr(&out));
        let value = error_object(&out);
        assert_eq!(value["error"]["kind"], "failed", "{line}");
        assert_eq!(value["error"]["exit_code"], 1, "{line}");
        assert!(stdout(&out).is_empty(), "{line}: {}", stdout(&out));
    }
    for command in COMMANDS {
        let out = unlearn(&[command, "--no-such-flag", "--json"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let value = error_object(&out);
        assert_eq!(value["error"]["kind"], "usage", "{command}");
        assert!(
            value["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--no-such-flag"),
            "{command}: {value}"
        );
        let help = stdout(&unlearn(&[command, "--help"]));
        assert!(
            help.contains("--json") && help.contains("\"error\""),
            "{command}"
        );
    }
    // Without --json the messages stay text.
    let out = unlearn(&["export", "--store", path(&missing)]);
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
}

/// Parquet through the binary: the same rows as CSV train to the same published weights.
#[test]
fn training_on_parquet_matches_training_on_the_same_csv() {
    let dir = scratch("parquet");
    let text = rows_csv(1.0);
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, &text).unwrap();
    let mut names = Vec::new();
    let (mut x1, mut x2, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        names.push(cells[0].to_string());
        x1.push(cells[1].parse::<f64>().unwrap());
        x2.push(cells[2].parse::<f64>().unwrap());
        labels.push(cells[3].to_string());
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("name", Arc::new(StringArray::from(names))),
        ("x1", Arc::new(Float64Array::from(x1))),
        ("x2", Arc::new(Float64Array::from(x2))),
        ("label", Arc::new(StringArray::from(labels))),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let parquet = dir.join("rows.parquet");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&parquet).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let digest = |data: &Path, store: &Path| {
        let out = run(
            "train --data DATA --target label --id name --loss logistic --lambda 0.01 --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.05 --seed 4 --out STORE --json",
            &[("DATA", data), ("STORE", store)],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json_line(&out)["digest"].as_str().unwrap().to_string()
    };
    assert_eq!(
        digest(&parquet, &dir.join("from-parquet")),
        digest(&csv, &dir.join("from-csv"))
    );
}
