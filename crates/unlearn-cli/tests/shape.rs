//! Issue 10 item 3, end to end with the `unlearn` binary: after a removal, everything the
//! published model infers from the rows (classes, their spelling and order, the number of
//! class models, the feature columns) is what a retrain on the remaining rows gives, or the
//! certificate says the removal is not certified.
//!
//! Each test compares the store after `unlearn remove` with a store trained from scratch on
//! a file without the removed row: the retrain is the reference the certificate speaks of.

use std::path::{Path, PathBuf};

mod common;

use common::{path, run, stderr, stdout, unlearn};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> common::Scratch {
    common::scratch("shape", name)
}

/// Noise and target of every training here: Gaussian output perturbation, (1, 1e-5).
const PRIVACY: &str =
    "--loss logistic --lambda 1 --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.05";

/// A CSV file `id,x1,x2,label` with the given `(id, label)` rows (features from the index).
fn csv(dir: &Path, name: &str, rows: &[(String, String)]) -> PathBuf {
    let mut text = String::from("id,x1,x2,label\n");
    for (i, (id, label)) in rows.iter().enumerate() {
        let (a, b) = ((i % 7) as f64 / 7.0, (i % 5) as f64 / 5.0 - 0.4);
        text.push_str(&format!("{id},{a},{b},{label}\n"));
    }
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

/// Thirty rows of classes a and b, then one row `rc` of class c.
fn abc_rows() -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = (0..30)
        .map(|i| (format!("r{i}"), ["a", "b"][i % 2].to_string()))
        .collect();
    rows.push(("rc".into(), "c".into()));
    rows
}

/// `unlearn train` on `data` into `store` with `flags`; panics with stderr on failure.
fn train(data: &Path, store: &Path, flags: &str) {
    let line = format!("train --data DATA {flags} {PRIVACY} --out STORE");
    let out = run(&line, &[("DATA", data), ("STORE", store)]);
    assert!(out.status.success(), "{line}: {}", stderr(&out));
}

/// The certificates `unlearn remove --ids IDS --json` prints.
fn remove(store: &Path, ids: &str) -> Vec<serde_json::Value> {
    let out = unlearn(&["remove", "--store", path(store), "--ids", ids, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `unlearn export --json` of a store.
fn export(store: &Path) -> serde_json::Value {
    let out = unlearn(&["export", "--store", path(store), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The published shape of an export: classes, number of weight vectors, feature names.
fn shape(export: &serde_json::Value) -> (serde_json::Value, usize, serde_json::Value) {
    let weights = export["weights"].as_array().unwrap();
    let models = if weights.first().is_some_and(|w| w.is_array()) {
        weights.len()
    } else {
        1
    };
    (
        export["classes"].clone(),
        models,
        export["feature_names"].clone(),
    )
}

/// Removes `id` from `store`, checks the removal is certified, trains a store on `rest` (the
/// remaining rows) with the same `flags`, and checks both publish the same shape; returns the
/// store's export after the removal.
fn remove_then_compare_with_retrain(
    store: &Path,
    id: &str,
    rest: &Path,
    flags: &str,
) -> serde_json::Value {
    let certificates = remove(store, id);
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0]["certified"], true, "{}", certificates[0]);
    let retrained = store.with_extension("retrained");
    train(rest, &retrained, flags);
    let after = export(store);
    assert_eq!(shape(&after), shape(&export(&retrained)));
    after
}

/// The `declared` record of a store's model.json.
fn declared(store: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(store.join("model.json")).unwrap();
    let model: serde_json::Value = serde_json::from_str(&text).unwrap();
    model["declared"].clone()
}

/// (a) With `--classes a,b,c`, removing the only row of class c keeps three classes and three
/// class models, as a retrain with the same declaration on the remaining rows does. (On main
/// there was no `--classes`: the store had to infer [a, b, c] and keep it, while a retrain
/// inferred [a, b] and one weight vector.)
#[test]
fn declared_classes_survive_the_removal_of_a_class() {
    let dir = scratch("declared");
    let store = dir.join("store");
    let rows = abc_rows();
    let data = csv(&dir, "rows.csv", &rows);
    let rest = csv(&dir, "rest.csv", &rows[..rows.len() - 1]);
    let flags = "--target label --id id --classes a,b,c";
    train(&data, &store, flags);
    assert_eq!(declared(&store)["classes"], true);
    let before = std::fs::read_to_string(store.join("model.json")).unwrap();

    let after = remove_then_compare_with_retrain(&store, "rc", &rest, flags);
    assert_eq!(after["classes"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(shape(&after).1, 3);
    let encoding =
        |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["target"].clone();
    let now = std::fs::read_to_string(store.join("model.json")).unwrap();
    assert_eq!(
        encoding(&now),
        encoding(&before),
        "the store keeps its encoding"
    );
}

/// (b) Numeric labels are spelled as a function of their value: removing the first-seen
/// `1.0` row leaves the published classes as a retrain on the remaining rows spells them.
/// (On main the store published "1.0", the spelling of its first row, and kept it after the
/// removal, while the retrain published "1".)
#[test]
fn removing_the_first_seen_spelling_changes_nothing_published() {
    let dir = scratch("spelling");
    let store = dir.join("store");
    let mut rows: Vec<(String, String)> = vec![("first".into(), "1.0".into())];
    rows.extend((0..30).map(|i| (format!("r{i}"), ["1", "2"][i % 2].to_string())));
    let data = csv(&dir, "rows.csv", &rows);
    let rest = csv(&dir, "rest.csv", &rows[1..]);
    train(&data, &store, "--target label --id id");
    assert_eq!(export(&store)["classes"], serde_json::json!(["1", "2"]));

    let after = remove_then_compare_with_retrain(&store, "first", &rest, "--target label --id id");
    assert_eq!(after["classes"], serde_json::json!(["1", "2"]));
}

/// A LIBSVM width declared with `--features` does not depend on the rows: removing the only
/// row that mentions the last index keeps d = 3, as a retrain with the same flag does.
/// Without the flag the width is recorded as inferred.
#[test]
fn a_declared_libsvm_width_survives_the_removal_of_its_last_index() {
    let dir = scratch("libsvm");
    let (store, inferred) = (dir.join("store"), dir.join("inferred"));
    let mut lines: Vec<String> = (0..30)
        .map(|i| format!("{} 1:{} 2:0.5\n", ["-1", "1"][i % 2], (i % 7) as f64 / 10.0))
        .collect();
    let rest: String = lines.concat();
    lines.push("1 1:0.2 3:0.9\n".into()); // row "30", the only one with feature 3
    let (data, rest_file) = (dir.join("rows.svm"), dir.join("rest.svm"));
    std::fs::write(&data, lines.concat()).unwrap();
    std::fs::write(&rest_file, rest).unwrap();

    train(&data, &inferred, "");
    assert_eq!(declared(&inferred)["features"], false);
    train(&data, &store, "--features 3");
    assert_eq!(declared(&store)["features"], true);
    assert_eq!(
        export(&store)["feature_names"],
        serde_json::json!(["f1", "f2", "f3"])
    );
    remove_then_compare_with_retrain(&store, "30", &rest_file, "--features 3");
}

/// Declarations are checked: a row with an undeclared label names file, line and label;
/// `--features` on a CSV file and `--classes` with a real-valued target are refused.
#[test]
fn declarations_that_do_not_fit_are_refused_with_what_to_do() {
    let dir = scratch("refused");
    let data = csv(&dir, "rows.csv", &abc_rows());
    let store = dir.join("store");
    let paths: [(&str, &Path); 2] = [("DATA", &data), ("STORE", &store)];
    let out = run(
        &format!("train --data DATA --target label --id id --classes a,b {PRIVACY} --out STORE"),
        &paths,
    );
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("rows.csv:32:") && message.contains("unknown label \"c\""),
        "{message}"
    );
    let out = run(
        &format!("train --data DATA --target label --id id --features 2 {PRIVACY} --out STORE"),
        &paths,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--features declares the width of a LIBSVM file"));
    let out = run(
        "train --data DATA --target x1 --id id --loss squared --lambda 1 --sigma 0 --classes a,b --out STORE",
        &paths,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("drop it for --loss squared"));
    assert!(
        !store.exists(),
        "nothing is written when training is refused"
    );
}

/// Without a declaration, removing the only row of class c would publish three classes where
/// a retrain has two: the removal is served but not certified, and the certificate says why.
#[test]
fn removing_an_inferred_class_is_not_certified() {
    let dir = scratch("inferred");
    let store = dir.join("store");
    let data = csv(&dir, "rows.csv", &abc_rows());
    train(&data, &store, "--target label --id id");
    let certificates = remove(&store, "rc");
    assert_eq!(certificates[0]["certified"], false, "{}", certificates[0]);
    let reason = certificates[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("class 'c' has no remaining rows")
            && reason.contains("a retrain would have 2 classes, the published model has 3"),
        "{reason}"
    );
}
