//! The `unlearn` binary end to end: train, export, predict, evaluate, and error paths.

use std::path::Path;
use std::process::Command;

mod common;

use common::{path, run, run_ok, stderr, stdout, unlearn};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> common::Scratch {
    common::scratch("cli", name)
}

#[test]
fn train_export_predict_evaluate_on_builtin_digits() {
    let dir = scratch("digits");
    let store = dir.join("store");
    let out = run_ok(
        "train --data builtin:digits --labels 3,8 --positive 8 --loss logistic --lambda 1e-3 --regularization per-sample --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out STORE --json",
        &[("STORE", &store)],
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["rows"], 357);
    assert_eq!(summary["certifiable"], true);
    assert!(summary["training_gradient_norms"][0].as_f64().unwrap() <= 1e-10);

    let out = unlearn(&["export", "--store", path(&store)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let model: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(model["weights"].as_array().unwrap().len(), 64);
    assert!(model["intercept"].is_number());
    assert_eq!(model["classes"], serde_json::json!(["3", "8"]));
    assert_eq!(model["loss"], "logistic");
    assert_eq!(model["lambda"], 1e-3);
    assert_eq!(model["regularization"], "per-sample");

    // Predictions for the rows of the model's own classes: the 3s and 8s (tests/readers.rs
    // covers --labels and the rows skipped).
    let out = run_ok(
        "predict --store STORE --data builtin:digits",
        &[("STORE", &store)],
    );
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines[0], "id,prediction");
    assert_eq!(lines.len(), 1 + 357);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.ends_with(",3") || l.ends_with(",8"))
    );
    let out = run_ok(
        "evaluate --store STORE --data builtin:digits",
        &[("STORE", &store)],
    );
    assert!(
        stdout(&out).contains("on 357 rows (1440 rows with other labels skipped)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn train_and_evaluate_on_a_user_csv_with_sigma_zero() {
    let dir = scratch("csv");
    let csv = dir.join("rows.csv");
    let mut text = String::from("name,x1,x2,label\n");
    for i in 0..40 {
        let (a, b) = ((i % 7) as f64 / 7.0, (i % 5) as f64 / 5.0);
        let label = if a + b > 0.8 { "yes" } else { "no" };
        text.push_str(&format!("r{i},{a},{b},{label}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let store = dir.join("store");
    let out = run_ok(
        "train --data CSV --target label --id name --loss logistic --positive yes --lambda 0.01 --clip-norm 1 --sigma 0 --out STORE",
        &[("CSV", &csv), ("STORE", &store)],
    );
    assert!(stdout(&out).contains("NOT certifiable"), "{}", stdout(&out));

    let out = run_ok(
        "evaluate --store STORE --data CSV --json",
        &[("STORE", &store), ("CSV", &csv)],
    );
    let metrics: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(metrics["rows"], 40);
    // The data are separable by a + b > 0.8 and the model is barely regularised.
    assert!(metrics["accuracy"].as_f64().unwrap() >= 0.9);

    let out = run_ok(
        "predict --store STORE --data CSV --id name",
        &[("STORE", &store), ("CSV", &csv)],
    );
    assert!(stdout(&out).lines().nth(1).unwrap().starts_with("r0,"));
}

#[test]
fn ridge_on_builtin_diabetes_reports_rmse_and_r2() {
    let dir = scratch("ridge");
    let store = dir.join("store");
    run_ok(
        "train --data builtin:diabetes --loss squared --lambda 1 --preprocess recommended --sigma 0.5 --seed 1 --out STORE",
        &[("STORE", &store)],
    );
    let out = run_ok(
        "evaluate --store STORE --data builtin:diabetes --json",
        &[("STORE", &store)],
    );
    let metrics: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(metrics["rmse"].as_f64().unwrap() > 0.0);
    assert!(metrics["r2"].as_f64().unwrap() > 0.0);
}

#[test]
fn errors_name_what_is_wrong_and_exit_with_status_1() {
    let dir = scratch("errors");
    let store = dir.join("store");
    let missing = dir.join("missing");
    // Each case: the command line (split on spaces; `STORE` is the store path) and a piece
    // of the message that says what is wrong.
    let cases = [
        (
            "train --data /nonexistent/x.csv --target y --loss logistic --lambda 1 --sigma 0 --out STORE",
            "/nonexistent/x.csv",
        ),
        (
            "train --data builtin:digits --target nope --loss logistic --lambda 1 --sigma 0 --out STORE",
            "nope",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 0 --sigma 0 --out STORE",
            "lambda",
        ),
        (
            "train --data builtin:breast_cancer --loss logistic --positive nope --lambda 1 --sigma 0 --out STORE",
            "nope",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 1 --out STORE",
            "--sigma",
        ),
        (
            "train --data builtin:nosuch --loss logistic --lambda 1 --sigma 0 --out STORE",
            "nosuch",
        ),
    ];
    for (line, needle) in cases {
        let out = run(line, &[("STORE", &store)]);
        assert_eq!(out.status.code(), Some(1), "{line}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{line}: {}", stderr(&out));
    }
    let out = unlearn(&["export", "--store", path(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not an unlearn store"),
        "{}",
        stderr(&out)
    );
    assert!(
        !store.exists(),
        "a failed training run must not leave a store behind"
    );
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = unlearn(&["train", "--data"]);
    assert_eq!(out.status.code(), Some(2));
    let out = unlearn(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_damaged_store_is_refused() {
    let dir = scratch("damaged");
    let store = dir.join("store");
    let out = run(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --preprocess recommended --sigma 0 --out STORE",
        &[("STORE", &store)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let model_file = store.join("model.json");
    let text = std::fs::read_to_string(&model_file).unwrap();
    let mut model: serde_json::Value = serde_json::from_str(&text).unwrap();
    model["weights"][0][0] = serde_json::json!(123.0);
    std::fs::write(&model_file, model.to_string()).unwrap();
    let out = unlearn(&["export", "--store", path(&store)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("digest"), "{}", stderr(&out));
}

/// A reader that stops early (`unlearn predict … | head`) ends the command quietly with
/// status 0, not with a panic.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let dir = scratch("pipe");
    let store = dir.join("store");
    let csv = dir.join("rows.csv");
    // 20,000 predictions (≈ 160 KB) are more than a pipe buffers (64 KiB), so the writer is
    // still writing when the reader goes away.
    let out = unlearn(&["synth", "--n", "20000", "--d", "2", "--out", path(&csv)]);
    assert!(out.status.success(), "{}", stderr(&out));
    run_ok(
        "train --data CSV --target y --loss logistic --lambda 1 --sigma 0 --out STORE",
        &[("CSV", &csv), ("STORE", &store)],
    );
    // A real shell pipeline: `head` exits after one line and closes the pipe.
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$0" predict --store "$1" --data "$2" | head -n 1; exit "${PIPESTATUS[0]}""#)
        .args([env!("CARGO_BIN_EXE_unlearn"), path(&store), path(&csv)])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "id,prediction");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// Killing `unlearn remove` at any moment leaves a store that recovers to the old or the
/// new state: `unlearn verify` passes afterwards and the rows are all there or the removed
/// one is gone. The kill times sweep the whole life of the command (startup, load, the
/// step, the transaction, the checkpoint, the rewrite of model.json).
#[test]
fn killing_a_removal_at_any_moment_leaves_the_old_or_the_new_store() {
    let dir = scratch("kill");
    let base = dir.join("base");
    run_ok(
        "train --data builtin:digits --loss logistic --lambda 1 --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out BASE",
        &[("BASE", &base)],
    );
    let rows_of = |store: &Path| -> u64 {
        let out = unlearn(&["inspect", "--store", path(store), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["rows"].as_u64().unwrap()
    };
    let n = rows_of(&base);
    let (mut saw_old, mut saw_new) = (false, false);
    // Fine steps first; then coarser ones until a run has completed (a slow machine).
    let delays = (0..60).step_by(3).chain((60..3000).step_by(100));
    for delay_ms in delays {
        if delay_ms >= 60 && saw_new {
            break;
        }
        let store = dir.join(format!("s{delay_ms}"));
        let _ = std::fs::remove_dir_all(&store);
        std::fs::create_dir_all(&store).unwrap();
        for entry in std::fs::read_dir(&base).unwrap() {
            let file = entry.unwrap().path();
            std::fs::copy(&file, store.join(file.file_name().unwrap())).unwrap();
        }
        // The command's output, kept: a printed certificate is an acknowledged removal.
        let acknowledged = dir.join(format!("out{delay_ms}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_unlearn"))
            .args(["remove", "--store", path(&store), "--ids", "d0007"])
            .stdout(std::fs::File::create(&acknowledged).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let acknowledged = std::fs::read_to_string(&acknowledged)
            .unwrap()
            .contains("removed 1 row");
        let out = unlearn(&["verify", "--store", path(&store)]);
        assert!(
            out.status.success(),
            "killed after {delay_ms} ms: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let rows = rows_of(&store);
        assert!(
            rows == n || rows == n - 1,
            "killed after {delay_ms} ms: {rows} rows"
        );
        assert!(
            !acknowledged || rows == n - 1,
            "killed after {delay_ms} ms: an acknowledged removal was lost"
        );
        saw_old |= rows == n;
        saw_new |= rows == n - 1;
    }
    // The sweep covers both outcomes, or it tested nothing.
    assert!(
        saw_old && saw_new,
        "old seen: {saw_old}, new seen: {saw_new}"
    );
}

/// A certified logistic store on breast_cancer (budget 0.05) in `dir`/store, for the
/// request-serving tests.
fn breast_cancer_store(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("store");
    run_ok(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out STORE",
        &[("STORE", &store)],
    );
    store
}

/// `serve-requests` applies the requests, reports bad lines and unknown ids without
/// stopping, and, run again on the same input (a resume after an interruption), skips what it
/// already served. The lines of a file are read in together, so its requests are served as
/// one group: one step whose certificate holds both ids' tags, one receipt per line.
#[test]
fn serve_requests_serves_reports_and_resumes() {
    let dir = scratch("serve");
    let store = breast_cancer_store(&dir);
    let requests = dir.join("requests.txt");
    std::fs::write(
        &requests,
        "b010\n# a comment\n\n{\"id\": \"b011\", \"ref\": \"ticket-7\"}\nno-such-row\n{\"ident\": 1}\n",
    )
    .unwrap();
    let serve = || {
        let out = run(
            "serve-requests --store STORE --requests REQUESTS --json",
            &[("STORE", &store), ("REQUESTS", &requests)],
        );
        let lines: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, lines)
    };
    let (out, lines) = serve();
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused requests make the run fail at the end"
    );
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["removed", "removed", "refused", "refused"]);
    assert_eq!(lines[1]["ref"], "ticket-7");
    assert_eq!(
        lines[1]["certificate"]["removed_id_tags"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "one step for the group"
    );
    assert_eq!(
        lines[0]["receipt"]["ledger_entry"],
        lines[1]["receipt"]["ledger_entry"]
    );
    assert_eq!(lines[0]["receipt"]["ref"], serde_json::Value::Null);
    let receipt = &lines[1]["receipt"];
    assert_eq!(receipt["id"], "b011");
    assert_eq!(receipt["certified"], true);
    assert_eq!(receipt["published"], true);
    for secret_number in ["distance", "budget_used", "transcript", "bounds"] {
        assert!(
            receipt.get(secret_number).is_none(),
            "{secret_number} in a receipt"
        );
    }
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[3]["line"], 6);
    // Resume: the same input again changes nothing and says so.
    let model_before = std::fs::read(store.join("model.json")).unwrap();
    let (_, lines) = serve();
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["already-removed", "already-removed", "refused", "refused"]
    );
    assert_eq!(
        std::fs::read(store.join("model.json")).unwrap(),
        model_before
    );
    let out = unlearn(&["verify", "--store", path(&store)]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// LIBSVM files carry their label first: no --target is needed, and training works.
#[test]
fn train_on_a_libsvm_file() {
    let dir = scratch("libsvm");
    let file = dir.join("rows.svm");
    std::fs::write(
        &file,
        "1 1:0.5 2:0.1\n-1 1:-0.5\n1 2:0.9\n-1 1:-0.2 2:-0.4\n",
    )
    .unwrap();
    let store = dir.join("store");
    let out = run(
        "train --data FILE --loss logistic --lambda 1 --sigma 0 --out STORE",
        &[("FILE", &file), ("STORE", &store)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    run_ok(
        "evaluate --store STORE --data FILE --json",
        &[("STORE", &store), ("FILE", &file)],
    );
    let out = unlearn(&["predict", "--store", path(&store), "--data", path(&file)]);
    assert_eq!(stdout(&out).lines().count(), 5, "{}", stderr(&out));
}

/// The README's first command: the demo runs on the embedded data, writes a store and a
/// report per task, and every store verifies.
#[test]
fn the_demo_runs_and_leaves_verifiable_stores_and_reports() {
    let dir = scratch("demo");
    let out = unlearn(&["demo", "--out", path(&dir)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("digits 3 vs 8"), "{}", stdout(&out));
    for task in [
        "digits-3v8",
        "digits-ovr",
        "breast-cancer",
        "diabetes-ridge",
    ] {
        let store = dir.join(task).join("store");
        let out = unlearn(&["verify", "--store", path(&store)]);
        assert!(out.status.success(), "{task}: {}", stdout(&out));
        for file in [
            "report.md",
            "budget.png",
            "budget.svg",
            "residuals.png",
            "rows.png",
        ] {
            let len = std::fs::metadata(dir.join(task).join("report").join(file)).map(|m| m.len());
            assert!(len.is_ok_and(|l| l > 0), "{task}: {file}");
        }
    }
}

/// The subcommands, for the checks that every one of them documents itself alike.
const COMMANDS: [&str; 13] = [
    "demo",
    "train",
    "export",
    "predict",
    "evaluate",
    "remove",
    "serve-requests",
    "verify",
    "inspect",
    "audit",
    "report",
    "bench",
    "synth",
];

/// Every subcommand's help shows examples, the exit codes and a --json flag; the top-level
/// help shows the exit codes too.
#[test]
fn every_help_has_examples_exit_codes_and_json() {
    let out = unlearn(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Exit codes:"), "{}", stdout(&out));
    for command in COMMANDS {
        let out = unlearn(&[command, "--help"]);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        let help = stdout(&out);
        assert!(help.contains("Example"), "{command} --help has no examples");
        assert!(
            help.contains(&format!("unlearn {command} ")),
            "{command} --help has no example of itself"
        );
        assert!(help.contains("Exit codes:"), "{command}: no exit codes");
        assert!(help.contains("--json"), "{command}: no --json");
    }
}

/// A store path that is not a store: every command that reads one fails with status 1,
/// names the path and says how to make a store.
#[test]
fn every_store_command_names_a_missing_store_and_how_to_make_one() {
    let dir = scratch("no-store");
    let missing = dir.join("missing.store");
    let requests = dir.join("requests.txt");
    std::fs::write(&requests, "b001\n").unwrap();
    let lines = [
        "export --store STORE",
        "predict --store STORE --data builtin:digits",
        "evaluate --store STORE --data builtin:digits",
        "remove --store STORE --ids d0001",
        "serve-requests --store STORE --requests REQUESTS",
        "verify --store STORE",
        "inspect --store STORE --json",
        "audit --store STORE --against-retrain",
        "report --store STORE --out REPORT",
    ];
    let report = dir.join("report");
    for line in lines {
        let out = run(
            line,
            &[
                ("STORE", &missing),
                ("REQUESTS", &requests),
                ("REPORT", &report),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{line}: {}", stderr(&out));
        let message = stderr(&out);
        assert!(
            message.contains(path(&missing)) && message.contains("unlearn train --out"),
            "{line}: {message}"
        );
        assert!(stdout(&out).is_empty(), "{line}: printed {}", stdout(&out));
    }
    assert!(
        !missing.exists(),
        "no command creates a store it only reads"
    );
    assert!(!report.exists(), "no report without a store");
}

/// Malformed flag values and missing required flags are usage errors (status 2) that name
/// the flag.
#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    let cases = [
        (
            "train --data builtin:digits --loss logistic --lambda abc --sigma 0 --out x",
            "--lambda",
        ),
        (
            "train --data builtin:digits --loss hinge --lambda 1 --sigma 0 --out x",
            "--loss",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 1 --regularization mean --sigma 0 --out x",
            "--regularization",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 1 --step-solver lu --sigma 0 --out x",
            "--step-solver",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 1 --feature-scale p0 --sigma 0 --out x",
            "--feature-scale",
        ),
        (
            "train --data builtin:digits --loss logistic --lambda 1 --sigma 1 --budget 0.1 --epsilon 1 --out x",
            "--budget",
        ),
        ("remove --store x", "--ids"),
        ("remove --store x --ids a --ids-file f", "--ids-file"),
        ("audit --store x", "--against-retrain"),
        ("synth --n many --out x.csv", "--n"),
        ("demo --seed x", "--seed"),
    ];
    for (line, flag) in cases {
        let out = run(line, &[]);
        assert_eq!(out.status.code(), Some(2), "{line}: {}", stderr(&out));
        assert!(stderr(&out).contains(flag), "{line}: {}", stderr(&out));
    }
}

/// A malformed data file is refused with its name and line (and column where there is
/// one), by training and by the commands that read rows for a stored model.
#[test]
fn bad_data_files_are_named_with_their_line() {
    let dir = scratch("bad-data");
    let bad_cell = dir.join("cell.csv");
    std::fs::write(&bad_cell, "x1,x2,y\n0.1,0.2,1\n0.3,abc,0\n").unwrap();
    let short_row = dir.join("short.csv");
    std::fs::write(&short_row, "x1,x2,y\n0.1,0.2,1\n0.3,0\n").unwrap();
    let store = dir.join("store");
    for (file, needle) in [(&bad_cell, "x2"), (&short_row, "expected 3 fields")] {
        let out = run(
            "train --data FILE --target y --loss logistic --lambda 1 --sigma 0 --out STORE",
            &[("FILE", file), ("STORE", &store)],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let message = stderr(&out);
        assert!(
            message.contains(&format!("{}:3", path(file))) && message.contains(needle),
            "{message}"
        );
    }
    assert!(!store.exists(), "a failed training run leaves no store");

    let good = dir.join("good.csv");
    std::fs::write(&good, "x1,x2,y\n0.1,0.2,1\n0.3,0.1,0\n0.2,0.4,1\n").unwrap();
    let out = run(
        "train --data FILE --target y --loss logistic --lambda 1 --sigma 0 --out STORE",
        &[("FILE", &good), ("STORE", &store)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for command in ["predict", "evaluate"] {
        let out = run(
            &format!("{command} --store STORE --data FILE"),
            &[("FILE", &bad_cell), ("STORE", &store)],
        );
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{}:3", path(&bad_cell))),
            "{command}: {}",
            stderr(&out)
        );
        // A data-subject column means something only to training: elsewhere the flag is
        // refused, not silently ignored.
        let out = run(
            &format!("{command} --store STORE --data FILE --subject x1"),
            &[("FILE", &good), ("STORE", &store)],
        );
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("--subject"), "{}", stderr(&out));
    }
}

/// The --json output of every store command has its documented shape, nothing else is
/// printed (no progress bar when standard output is not a terminal), and a refused removal
/// says the store is unchanged and leaves it so.
#[test]
fn json_output_shapes_and_refused_removals() {
    let dir = scratch("json");
    let store = dir.join("store");
    let (report_dir, synth_csv) = (dir.join("report"), dir.join("synth.csv"));
    let paths: [(&str, &Path); 3] = [
        ("STORE", &store),
        ("REPORT", &report_dir),
        ("SYNTH", &synth_csv),
    ];
    let json_of = |line: &str| -> serde_json::Value {
        let out = run(line, &paths);
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{line}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let trained = json_of(
        "train --data builtin:breast_cancer --loss logistic --lambda 0.1 --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out STORE --json",
    );
    assert_eq!(trained["rows"], 569);

    let model_before = std::fs::read(store.join("model.json")).unwrap();
    let out = run(
        "remove --store STORE --ids b001,no-such-row --sequential",
        &paths,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no-such-row") && stderr(&out).contains("store is unchanged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(store.join("model.json")).unwrap(),
        model_before
    );

    let out = run(
        "remove --store STORE --ids b001,b002 --sequential --json",
        &paths,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let certificates: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(certificates.len(), 2, "one certificate per sequential step");
    assert_eq!(
        certificates[1]["removed_id_tags"].as_array().unwrap().len(),
        1
    );
    assert_eq!(certificates[1]["certified"], true);
    assert_eq!(
        certificates[0]["published"], false,
        "intermediate steps publish nothing"
    );
    assert_eq!(certificates[1]["published"], true);

    let inspect = json_of("inspect --store STORE --json");
    assert_eq!(inspect["rows"], 567);
    assert_eq!(inspect["removals"], 2);
    let verify = json_of("verify --store STORE --json");
    assert_eq!(verify["passed"], true);
    assert!(verify["report"]["checks"].as_array().unwrap().len() >= 3);
    let export = json_of("export --store STORE --json");
    assert_eq!(export["classes"].as_array().unwrap().len(), 2);
    let audit = json_of("audit --store STORE --against-retrain --json");
    // The certificate charges an upper bound on the secret weights' distance to retraining.
    assert!(
        audit["secret_weight_distance"].as_f64().unwrap()
            <= audit["certified_distance"].as_f64().unwrap()
    );
    let report = json_of("report --store STORE --out REPORT --json");
    assert!(!report["files"].as_array().unwrap().is_empty());
    assert!(report_dir.join("report.md").exists());
    let synth = json_of("synth --n 10 --d 3 --out SYNTH --json");
    assert_eq!(
        (synth["rows"].as_u64(), synth["features"].as_u64()),
        (Some(10), Some(3))
    );

    let out = run_ok(
        "predict --store STORE --data builtin:breast_cancer --json",
        &paths,
    );
    let predictions: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        predictions.len(),
        569,
        "every row of the file, removed ones too"
    );
    assert_eq!(predictions[0]["id"], "b000");
    let classes = export["classes"].as_array().unwrap();
    assert!(
        predictions
            .iter()
            .all(|p| classes.contains(&p["prediction"]))
    );
}

/// The text output of serve-requests says per line what happened, in words.
#[test]
fn serve_requests_prints_text_without_json() {
    let dir = scratch("serve-text");
    let store = breast_cancer_store(&dir);
    let requests = dir.join("requests.txt");
    std::fs::write(
        &requests,
        "b010\n{\"id\": \"b010\", \"ref\": \"t-1\"}\nnope\n",
    )
    .unwrap();
    let out = run(
        "serve-requests --store STORE --requests REQUESTS",
        &[("STORE", &store), ("REQUESTS", &requests)],
    );
    assert_eq!(out.status.code(), Some(1), "one request is refused");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("line 1: b010 removed: certified"),
        "{text}"
    );
    assert_eq!(lines[1], "line 2: b010 (ref t-1) already removed");
    assert!(lines[2].starts_with("line 3: refused: id 'nope'"), "{text}");
    assert!(
        stderr(&out).contains("1 request(s) refused"),
        "{}",
        stderr(&out)
    );
}
/// The figures issue 4 asks `unlearn bench` for, at the top level (logistic) and under
/// "ridge".
const BENCH_FIELDS: [&str; 12] = [
    "n",
    "d",
    "train_seconds",
    "retrain_seconds",
    "removal_seconds_median",
    "removal_seconds_p95",
    "removals",
    "budget_used_fraction",
    "retrainings",
    "test_accuracy_unlearned",
    "test_accuracy_retrained",
    "peak_rss_bytes",
];

#[test]
fn bench_reports_the_issue_fields_a_series_per_removal_and_plots() {
    let dir = scratch("bench");
    let plots = dir.join("plots");
    let out = run(
        "bench --n 300 --d 10 --removals 6 --ridge-removals 4 --series --plot PLOTS --json",
        &[("PLOTS", &plots)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for (family, r, removals) in [("logistic", &report, 6), ("ridge", &report["ridge"], 4)] {
        for field in BENCH_FIELDS {
            assert!(!r[field].is_null(), "{family}: {field} missing in {r}");
        }
        assert_eq!(r["n"], 300, "{family}");
        assert_eq!(r["removals"], removals, "{family}");
        assert_eq!(r["test_rows"], 60, "{family}: n/5 held-out rows");
        // The floor and the batch of 10 are measured in the same run.
        for field in ["floor_seconds", "batch_seconds_per_row"] {
            let v = r[field].as_f64().unwrap_or(f64::NAN);
            assert!(v > 0.0 && v.is_finite(), "{family}: {field} = {}", r[field]);
        }
        // Five batches of fresh rows, the median between the fastest and the slowest.
        assert_eq!(r["batches"], 5, "{family}");
        let batch = |f: &str| r[f].as_f64().unwrap_or(f64::NAN);
        assert!(
            batch("batch_seconds_per_row_min") <= batch("batch_seconds_per_row")
                && batch("batch_seconds_per_row") <= batch("batch_seconds_per_row_max"),
            "{family}: {r}"
        );
        // One point per batch; its linear algebra and its wait for a CPU (Linux) are parts
        // of its wall time; the refactorisations add up to the summary's.
        let points = r["batch_series"].as_array().unwrap();
        assert_eq!(points.len(), 5, "{family}");
        let mut refactorisations = 0;
        for p in points {
            let wall = p["seconds_per_row"].as_f64().unwrap() * 10.0;
            assert!(
                p["arithmetic_seconds"].as_f64().unwrap() <= wall,
                "{family}: {p}"
            );
            if cfg!(target_os = "linux") {
                let waited = p["waiting_seconds"].as_f64().unwrap();
                assert!((0.0..=wall).contains(&waited), "{family}: {p}");
            }
            refactorisations += p["cache_events"]["refactorisations"].as_u64().unwrap();
        }
        assert_eq!(r["batch_refactorisations"], refactorisations, "{family}");
        let series = r["series"].as_array().unwrap();
        assert_eq!(series.len(), removals, "{family}: one point per removal");
        for (k, p) in series.iter().enumerate() {
            assert_eq!(p["removal"], k + 1, "{family}");
            assert!(p["seconds"].as_f64().unwrap() > 0.0, "{family}: {p}");
            assert!(p["retrained"].is_boolean(), "{family}: {p}");
        }
        // The series and the summary are read from the same certificates.
        assert_eq!(
            series.last().unwrap()["budget_used_fraction"],
            r["budget_used_fraction"],
            "{family}"
        );
        let retrained = series.iter().filter(|p| p["retrained"] == true).count();
        assert_eq!(r["retrainings"], retrained, "{family}");
        // Under output perturbation the certificate's charged distance budget_used bounds
        // the distance of the secret weights to the minimiser on the remaining rows, and
        // the retraining stops within the solver tolerance of that minimiser, which
        // budget_used already includes (proofs/output_perturbation_certificate.md). The
        // slack 1e-12 covers budget_used = fraction × budget being rounded twice.
        let budget_used =
            r["budget_used_fraction"].as_f64().unwrap() * r["budget"].as_f64().unwrap();
        let distance = r["max_weight_difference_vs_retrain"].as_f64().unwrap();
        assert!(
            distance <= budget_used * (1.0 + 1e-12),
            "{family}: {distance} > {budget_used}"
        );
        assert!(r["speedup_vs_retrain"].as_f64().unwrap() > 0.0, "{family}");
    }
    assert_eq!(report["ridge"]["loss"], "squared");
    for stem in ["removals-logistic", "removals-ridge"] {
        let png = std::fs::read(plots.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is a PNG");
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        for text in [
            "per removal",
            "retrain from scratch",
            "budget used after the removal",
        ] {
            assert!(svg.contains(text), "{stem}.svg lacks '{text}'");
        }
    }

    // Without --series the object stays small.
    let out = unlearn(&[
        "bench",
        "--n",
        "50",
        "--d",
        "3",
        "--removals",
        "2",
        "--no-ridge",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report.get("series").is_none(), "{report}");
    assert!(report["ridge"].is_null());

    // --tol reaches the solver: a tolerance below the gradient's certified rounding bound
    // is refused by training, which names the flag to raise.
    let out = run(
        "bench --n 50 --d 3 --removals 2 --no-ridge --tol 1e-300",
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tol"), "{}", stderr(&out));
}

#[test]
fn bench_curve_writes_a_csv_a_plot_and_the_fit_of_its_points() {
    let dir = scratch("bench-curve");
    let plots = dir.join("curve");
    let out = run_ok(
        "bench --curve 200,400 --d 5 --plot PLOTS --json",
        &[("PLOTS", &plots)],
    );
    let curve: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let points = curve["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let t: Vec<f64> = points
        .iter()
        .map(|p| p["train_seconds"].as_f64().unwrap())
        .collect();
    // Two points lie on their least-squares line: slope (t₂ − t₁)/(n₂ − n₁), R² = 1, up
    // to rounding of the sums (relative 1e-9 is far above it).
    let slope = curve["fit"]["seconds_per_row"].as_f64().unwrap();
    assert!((slope - (t[1] - t[0]) / 200.0).abs() <= 1e-9 * slope.abs().max(1e-12));
    assert!((curve["fit"]["r_squared"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let csv = std::fs::read_to_string(plots.join("training_curve.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("200,5,") && lines[2].starts_with("400,5,"),
        "{csv}"
    );
    let png = std::fs::read(plots.join("training_curve.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(plots.join("training_curve.svg").exists());
}

#[test]
fn bench_refuses_impossible_sizes_with_usage_errors() {
    for (line, names) in [
        (
            "bench --n 10 --d 3 --removals 10 --no-ridge",
            ["--removals", "--n"],
        ),
        (
            "bench --n 10 --d 3 --removals 2 --ridge-n 5 --ridge-removals 5",
            ["--ridge-removals", "--ridge-n"],
        ),
        ("bench --n 10 --d 0", ["--d", "≥ 1"]),
        ("bench --curve 100,1 --d 3", ["--curve", "≥ 2"]),
    ] {
        let out = run(line, &[]);
        assert_eq!(out.status.code(), Some(2), "{line}: {}", stderr(&out));
        for name in names {
            assert!(stderr(&out).contains(name), "{line}: {}", stderr(&out));
        }
    }
}
