//! The store through `unlearn remove`: refused requests leave it byte for byte, and the
//! removed rows' values leave every file of it.

mod common;

use common::{path, run, scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unlearn::store::{Access, Store};
use unlearn::verify::verify;

/// 80 rows `s0`..`s79` of four features in [−0.4, 0.4] (row norm ≤ 0.8, inside the clip
/// norm 1, so the stored rows are the written ones) and a 0/1 label: [`lcg_rows`].
fn write_rows(dir: &Path) -> PathBuf {
    lcg_rows(&dir.join("rows.csv"), 80, &["a", "b", "c", "d"], 0.8)
}

/// Writes `rows` rows `s0`, `s1`, … with the features `names`, each uniform in
/// [−scale/2, scale/2], and a 0/1 label from the first two and a little noise, from a fixed
/// LCG; returns `file`.
fn lcg_rows(file: &Path, rows: usize, names: &[&str], scale: f64) -> PathBuf {
    let mut state: u64 = 0x5eed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = format!("id,{},y\n", names.join(","));
    for i in 0..rows {
        let x: Vec<f64> = (0..names.len()).map(|_| (next() - 0.5) * scale).collect();
        let y = u8::from(x[0] + 0.5 * x[1] + 0.1 * (next() - 0.5) > 0.0);
        let cells: Vec<String> = x.iter().map(|v| format!("{v}")).collect();
        csv.push_str(&format!("s{i},{},{y}\n", cells.join(",")));
    }
    std::fs::write(file, csv).unwrap();
    file.to_path_buf()
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

/// Every file of the store concatenated (the database, its WAL and index if present,
/// model.json, the lock): what a search of the disk would see.
fn all_bytes(files: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<u8> {
    files.values().flatten().copied().collect()
}

/// After `unlearn remove`, the removed rows' feature values are nowhere in the store: not
/// as the row's bytes (its f64 little-endian values, contiguous as the database stores
/// them) nor as any single value that no remaining row shares, in any file (the database,
/// its WAL, model.json); not as JSON text in any file; and no file holds the removed ids
/// (the database deleted them, securely; the ledger keeps keyed tags, not ids).
#[test]
fn removed_rows_are_gone_from_every_file_of_the_store() {
    for (intercept, sequential) in [(true, false), (false, true)] {
        let dir = scratch("store-cli", &format!("forgotten-{intercept}"));
        let store = train_store(&dir, intercept);
        let trained = Store::open(&store, Access::Read).unwrap().load().unwrap();
        let design = trained.model.secret.design().clone();
        let before = all_bytes(&snapshot(&store));
        // Ids that are no prefix of another id (s17, not s7 of s70…s79).
        let removed = ["s17", "s12", "s40"];
        let mut args = vec!["--ids", "s17,s12,s40"];
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
        let everything = all_bytes(&files);
        let after = Store::open(&store, Access::Read).unwrap().load().unwrap();
        assert!(verify(&after).passed());
        let kept: Vec<u64> = after
            .model
            .secret
            .design()
            .features()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let mut checked_values = 0;
        for id in removed {
            let row = design.row(design.position(id).unwrap());
            let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
            // The checks can fail: before the removal the row and its id are there.
            assert!(contains(&before, &bytes), "{id} not stored before");
            assert!(contains(&before, id.as_bytes()), "{id} not stored before");
            assert!(
                !contains(&everything, &bytes),
                "row {id} survives in the store"
            );
            assert!(
                !contains(&everything, id.as_bytes()),
                "id {id} survives in the store"
            );
            for v in row {
                if kept.contains(&v.to_bits()) {
                    continue; // e.g. the intercept's 1.0, shared by every row
                }
                checked_values += 1;
                assert!(
                    !contains(&everything, &v.to_le_bytes()),
                    "{id}: {v} in the store"
                );
                let text = serde_json::to_string(v).unwrap();
                for (path, content) in &files {
                    assert!(
                        !contains(content, text.as_bytes()),
                        "{id}: {text} in {}",
                        path.display()
                    );
                }
            }
        }
        assert!(checked_values >= 3 * 4);
    }
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
}

fn inspect(store: &Path) -> serde_json::Value {
    let out = common::unlearn(&["inspect", "--store", path(store), "--json"]);
    serde_json::from_str(&ok(&out)).unwrap()
}

/// The data-loss scenario of issue 11: `train --out` over a store with removals in it used
/// to replace it silently (its ledger went from 2 entries to 1 and a removed row came back).
/// Now it is refused, the store is untouched, and only `--force` replaces it.
#[test]
fn training_over_an_existing_store_is_refused_unless_forced() {
    let dir = scratch("store-cli", "overwrite");
    let store = train_store(&dir, true);
    ok(&cli_remove(&store, &["--ids", "s3"]));
    let before = snapshot(&store);
    let retrain = |extra: &str| {
        run(
            &format!(
                "train --data CSV --id id --target y --positive 1 --loss logistic --lambda 0.1 \
                 --clip-norm 1 --sigma 0 --out STORE{extra}"
            ),
            &[("CSV", &dir.join("rows.csv")), ("STORE", &store)],
        )
    };
    failed(&retrain(""), "--force");
    assert!(
        snapshot(&store) == before,
        "a refused train changed the store"
    );
    assert_eq!(inspect(&store)["removals"], 1);
    ok(&retrain(" --force"));
    assert_eq!(inspect(&store)["removals"], 0);
    assert_eq!(inspect(&store)["rows"], 80);
}

/// One writer at a time: while another process holds the store, a writing command is
/// refused at once (saying how to wait), or waits with --wait; readers (verify, inspect,
/// export) run meanwhile. SQLite's fcntl locks are not inherited by children that other test
/// threads fork, so the test is not at the mercy of their timing.
#[test]
fn a_second_writer_is_refused_or_waits_while_readers_read() {
    use std::time::Duration;
    let dir = scratch("store-cli", "writers");
    let store = train_store(&dir, true);
    let writer = Store::open(
        &store,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap();
    failed(&cli_remove(&store, &["--ids", "s1"]), "--wait");
    for reader in ["verify", "inspect", "export"] {
        ok(&common::unlearn(&[reader, "--store", path(&store)]));
    }
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(writer);
    });
    ok(&cli_remove(&store, &["--ids", "s1", "--wait", "60"]));
    release.join().unwrap();
    assert_eq!(inspect(&store)["rows"], 79);
}

/// A long writer — `serve-requests` reading requests from a pipe — does not keep readers
/// out: verify, inspect and export succeed while it runs and see its commits; a second
/// writer waits for it with --wait and then goes through.
#[test]
fn readers_run_while_serve_requests_holds_the_store() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let dir = scratch("store-cli", "long-writer");
    let store = train_store(&dir, true);
    let mut server = Command::new(env!("CARGO_BIN_EXE_unlearn"))
        .args([
            "serve-requests",
            "--store",
            path(&store),
            "--requests",
            "-",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = server.stdin.take().unwrap();
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let mut serve = move |id: &str| {
        writeln!(input, "{id}").unwrap();
        input.flush().unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        let outcome: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(outcome["status"], "removed", "{line}");
    };
    serve("s1");
    for _ in 0..3 {
        ok(&common::unlearn(&["verify", "--store", path(&store)]));
        assert_eq!(
            inspect(&store)["rows"],
            79,
            "a reader sees the committed request"
        );
        ok(&common::unlearn(&["export", "--store", path(&store)]));
    }
    failed(&cli_remove(&store, &["--ids", "s2"]), "in use by another");
    let waiting = Command::new(env!("CARGO_BIN_EXE_unlearn"))
        .args([
            "remove",
            "--store",
            path(&store),
            "--ids",
            "s2",
            "--wait",
            "120",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serve("s3");
    drop(serve); // closes the server's input: it ends
    assert!(server.wait().unwrap().success());
    let waited = waiting.wait_with_output().unwrap();
    ok(&waited);
    assert_eq!(inspect(&store)["rows"], 77);
    ok(&common::unlearn(&["verify", "--store", path(&store)]));
}

/// `unlearn remove --store STORE --ids ID` with files limited to `kib` KiB (`ulimit -f`):
/// writes past the limit fail with EFBIG, as a full disk fails them with ENOSPC. `trap ''
/// XFSZ` ignores the signal (and exec keeps it ignored), so the write fails with an error
/// instead of killing the process.
#[cfg(unix)]
fn remove_under_file_limit(store: &Path, kib: u32, id: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            r#"ulimit -f {kib}; trap '' XFSZ; exec "$0" remove --store "$1" --ids "$2""#
        ))
        .args([env!("CARGO_BIN_EXE_unlearn"), path(store), id])
        .output()
        .unwrap()
}

/// A removal that cannot be written (the file-size limit stands in for a full disk: writes
/// past it fail with EFBIG, as a full disk fails them with ENOSPC) fails with a message,
/// leaves the store verifiable and unchanged, and succeeds once space is back.
#[cfg(unix)]
#[test]
fn a_full_disk_fails_the_removal_and_changes_nothing() {
    let dir = scratch("store-cli", "full");
    let store = train_store(&dir, true);
    let before = inspect(&store);
    // 8 KiB: less than the WAL index (`unlearn.db-shm`, 32 KiB), so the command fails as it
    // opens the store; a failure of the commit itself is
    // `a_commit_that_fails_after_its_record_is_abandoned_not_applied_later`.
    let out = remove_under_file_limit(&store, 8, "s5");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("full") || stderr.contains("disk") || stderr.contains("I/O"),
        "{stderr}"
    );
    ok(&common::unlearn(&["verify", "--store", path(&store)]));
    let after = inspect(&store);
    assert_eq!(after["rows"], before["rows"]);
    assert_eq!(after["removals"], before["removals"]);
    ok(&cli_remove(&store, &["--ids", "s5"]));
    assert_eq!(inspect(&store)["rows"], 79);
}

/// Review finding 4: a removal whose record reached the release log but whose commit then
/// failed was reported as failed (not acknowledged), yet the next writer took the record
/// for a branch lost by a restore: it re-applied the removal and charged its release
/// (before the fix the removal of s6 below also removed s5, certified 4 releases, and
/// `inspect` listed a reconciliation). Now the failed writer marks the record abandoned and
/// every later reader skips it. The failure is injected as in
/// [`a_full_disk_fails_the_removal_and_changes_nothing`] ([`remove_under_file_limit`]),
/// with a limit of 32 KiB: the WAL
/// index (`unlearn.db-shm`, 32 KiB) fits, so the store opens and the record (a few hundred
/// bytes) is appended, but a removal's WAL frames for this 50-feature model do not, so the
/// commit fails; the test checks that the failure fell in that window.
#[cfg(unix)]
#[test]
fn a_commit_that_fails_after_its_record_is_abandoned_not_applied_later() {
    let dir = scratch("store-cli", "abandoned");
    // 60 rows of 50 features in [−0.1, 0.1] (row norm ≤ 0.71): a state row of several pages.
    let names: Vec<String> = (0..50).map(|j| format!("f{j}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let csv = lcg_rows(&dir.join("wide.csv"), 60, &names, 0.2);
    let store = dir.join("store");
    ok(&run(
        "train --data CSV --id id --target y --positive 1 --loss logistic --lambda 0.1 \
         --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.1 --out STORE",
        &[("CSV", &csv), ("STORE", &store)],
    ));
    let out = remove_under_file_limit(&store, 32, "s5");
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let log = std::fs::read_to_string(store.join("releases.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "training, s5's record, its abandonment: {log}"
    );
    assert!(lines[2].starts_with("{\"abandoned\":"), "{log}");
    assert_eq!(inspect(&store)["rows"], 60, "the commit did not happen");

    let out = cli_remove(&store, &["--ids", "s6", "--json"]);
    let served: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert!(
        !common::stderr(&out).contains("charged to the transcript"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(served["transcript"]["releases"], 2, "{served}");
    let summary = inspect(&store);
    assert_eq!(summary["rows"], 59);
    assert_eq!(
        summary["restores_reconciled"],
        serde_json::json!([]),
        "{summary}"
    );
    let s5 = ok(&common::unlearn(&[
        "ids",
        "--store",
        path(&store),
        "--check",
        "s5",
        "--json",
    ]));
    assert!(s5.contains("\"as_id\":\"remaining\""), "{s5}");
    let verified = ok(&common::unlearn(&["verify", "--store", path(&store)]));
    assert!(verified.contains("1 abandoned"), "{verified}");
}

/// Review finding 2 through the binary: back up, retrain in place (`train --force`),
/// acknowledge the removal of s40, restore the backup. Before, the next `remove` served the
/// older database (s40 back, the check passed); now every writing command refuses it with
/// what happened and what to do, and `verify` fails naming it.
#[test]
fn a_backup_restored_across_a_retrain_is_refused_and_fails_verify() {
    let dir = scratch("store-cli", "across-retrain");
    let store = train_store(&dir, true);
    let backup = dir.join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    for f in ["unlearn.db", "model.json"] {
        std::fs::copy(store.join(f), backup.join(f)).unwrap();
    }
    ok(&run(
        "train --data CSV --id id --target y --positive 1 --loss logistic --lambda 0.1 \
         --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.1 --out STORE --force",
        &[("CSV", &dir.join("rows.csv")), ("STORE", &store)],
    ));
    ok(&cli_remove(&store, &["--ids", "s40"]));
    let newer = inspect(&store)["lineage"].as_str().unwrap().to_string();
    for f in ["unlearn.db", "model.json"] {
        std::fs::copy(backup.join(f), store.join(f)).unwrap();
    }
    assert_ne!(inspect(&store)["lineage"], newer.as_str());
    for f in ["unlearn.db-wal", "unlearn.db-shm"] {
        let _ = std::fs::remove_file(store.join(f));
    }
    let refused = cli_remove(&store, &["--ids", "s41"]);
    failed(&refused, "was replaced by an older database");
    failed(&refused, "1 erasure(s) it acknowledged");
    failed(&refused, "train --force");
    failed(
        &refused,
        &format!(
            "Put back the newer run's unlearn.db and model.json (lineage {}",
            &newer[..12]
        ),
    );
    let verified = common::unlearn(&["verify", "--store", path(&store)]);
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        common::stdout(&verified)
            .contains("FAIL release log: releases.jsonl holds 2 record(s) of another training run"),
        "{}",
        common::stdout(&verified)
    );
}

/// Writes `dir/rows.csv`: 60 rows `r0`, `r1`, … of subject `person-{i % 6}` (column `owner`),
/// features `a`, `b` and a 0/1 label `y`, and trains `dir/store` on them (lifetime budget
/// `budget`); returns the store and the rows' text.
fn train_subjects(dir: &Path, budget: &str) -> (PathBuf, String) {
    let mut csv = String::from("id,owner,a,b,y\n");
    for i in 0..60 {
        let a = ((i * 37) % 19) as f64 / 19.0 - 0.5;
        let b = ((i * 11) % 23) as f64 / 23.0 - 0.5;
        let y = u8::from(a + 0.3 * b > 0.0);
        csv.push_str(&format!("r{i},person-{},{a},{b},{y}\n", i % 6));
    }
    let file = dir.join("rows.csv");
    std::fs::write(&file, &csv).unwrap();
    let store = dir.join("store");
    ok(&run(
        &format!(
            "train --data CSV --id id --subject owner --target y --positive 1 --loss logistic \
             --lambda 0.1 --clip-norm 1 --epsilon 1 --delta 1e-5 --budget {budget} --out STORE"
        ),
        &[("CSV", &file), ("STORE", &store)],
    ));
    (store, csv)
}

/// Per-subject erasure through the command line: `train --subject COL`, `remove --subject`,
/// `serve-requests` lines `{"subject": …}`, and `unlearn ids`, which lists remaining
/// subjects and the tags of erased ones and never names a removed one in clear.
#[test]
fn subjects_are_erased_whole_through_the_cli() {
    let dir = scratch("store-cli", "subjects");
    let (store, _) = train_subjects(&dir, "0.1");
    let subjects: serde_json::Value = serde_json::from_str(&ok(&common::unlearn(&[
        "ids",
        "--store",
        path(&store),
        "--subjects",
        "--json",
    ])))
    .unwrap();
    assert_eq!(subjects["subjects"]["person-2"], 10);
    assert_eq!(
        inspect(&store)["features"],
        2,
        "the subject column is not a feature"
    );
    let out = ok(&common::unlearn(&[
        "remove",
        "--store",
        path(&store),
        "--subject",
        "person-2",
        "--json",
    ]));
    let certificates: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        certificates.len(),
        1,
        "one step for all of the subject's rows"
    );
    assert_eq!(
        certificates[0]["removed_id_tags"].as_array().unwrap().len(),
        10
    );
    assert_eq!(
        certificates[0]["erased_subject_tags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(!out.contains("person-2"));
    failed(
        &common::unlearn(&["remove", "--store", path(&store), "--subject", "person-2"]),
        "already removed",
    );
    failed(
        &common::unlearn(&["remove", "--store", path(&store), "--subject", "nobody"]),
        "owns none",
    );
    let requests = dir.join("requests.jsonl");
    std::fs::write(
        &requests,
        "{\"subject\": \"person-4\", \"ref\": \"t1\"}\n{\"subject\": \"person-2\"}\n",
    )
    .unwrap();
    let out = ok(&run(
        "serve-requests --store STORE --requests REQ --json",
        &[("STORE", &store), ("REQ", &requests)],
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], "removed");
    assert_eq!(lines[0]["subject"], "person-4");
    assert_eq!(lines[0]["receipt"]["ref"], "t1");
    assert_eq!(lines[1]["status"], "already-removed");
    assert_eq!(inspect(&store)["rows"], 40);
    let listed = ok(&common::unlearn(&[
        "ids",
        "--store",
        path(&store),
        "--subjects",
    ]));
    assert!(
        !listed.contains("person-2") && listed.contains("person-3"),
        "{listed}"
    );
    let removed = ok(&common::unlearn(&[
        "ids",
        "--store",
        path(&store),
        "--removed",
        "--subjects",
    ]));
    assert_eq!(removed.lines().count(), 2);
    assert!(!removed.contains("person"), "{removed}");
    let check: serde_json::Value = serde_json::from_str(&ok(&common::unlearn(&[
        "ids",
        "--store",
        path(&store),
        "--check",
        "person-4",
        "--json",
    ])))
    .unwrap();
    assert_eq!(check["as_subject"], "removed");
    // No file of the store names an erased subject.
    for (path, content) in snapshot(&store) {
        assert!(!contains(&content, b"person-2"), "{}", path.display());
    }
    ok(&common::unlearn(&["verify", "--store", path(&store)]));
    // LIBSVM has no subject column.
    let svm = dir.join("rows.svm");
    std::fs::write(&svm, "1 1:0.5\n-1 1:-0.5\n").unwrap();
    failed(
        &run(
            "train --data SVM --subject owner --loss logistic --lambda 1 --sigma 0 --out OUT",
            &[("SVM", &svm), ("OUT", &dir.join("svm.store"))],
        ),
        "no subject column",
    );
}

/// A store of the previous format (a directory with secret/state.bin) is refused by every
/// command with how to convert it.
#[test]
fn a_store_of_the_previous_format_is_refused_with_how_to_migrate() {
    let dir = scratch("store-cli", "old-format");
    let store = dir.join("old");
    std::fs::create_dir_all(store.join("secret")).unwrap();
    std::fs::write(store.join("secret/state.bin"), b"UNLEARN-SECRET\0\0").unwrap();
    std::fs::write(store.join("model.json"), b"{}").unwrap();
    for command in ["verify", "inspect", "export", "publish"] {
        failed(
            &common::unlearn(&[command, "--store", path(&store)]),
            "unlearn migrate",
        );
    }
}

/// A store whose rows are external (made from a trained one with `detach_rows`): `inspect`
/// and `verify` read it; `remove` by id alone is refused, naming --rows, and leaves it byte
/// for byte; given the removed rows in a file (every id among them), a request that needs a
/// pass over the rows is refused as such and leaves the store as it was.
#[test]
fn an_external_store_is_read_and_removes_only_given_rows() {
    let dir = scratch("store-cli", "external");
    let held = train_store(&dir, true);
    let mut unlearner = Store::open(&held, Access::Read).unwrap().load().unwrap();
    unlearner.detach_rows().unwrap();
    let store = dir.join("external");
    drop(Store::create(&store, &mut unlearner, false, std::time::Duration::ZERO).unwrap());
    for command in ["inspect", "verify"] {
        let out = common::unlearn(&[command, "--store", path(&store), "--json"]);
        assert!(out.status.success(), "{command}: {}", common::stderr(&out));
    }
    let before = snapshot(&store);
    let out = cli_remove(&store, &["--ids", "s3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("--rows"),
        "{}",
        common::stderr(&out)
    );
    assert!(snapshot(&store) == before);

    let csv = std::fs::read_to_string(dir.join("rows.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let row = lines.find(|l| l.starts_with("s3,")).unwrap();
    let removed = dir.join("removed.csv");
    std::fs::write(&removed, format!("{header}\n{row}\n")).unwrap();
    let out = cli_remove(&store, &["--ids", "s4", "--rows", path(&removed)]);
    assert!(common::stderr(&out).contains("'s4' is requested but not among the given rows"));
    let out = cli_remove(&store, &["--ids", "s3", "--rows", path(&removed), "--json"]);
    // At this store's budget (0.1) the pass-free step's tracked bound misses what a release
    // may be charged: the held store measures the residual from its rows; this one cannot.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("needs a full pass"),
        "{}",
        common::stderr(&out)
    );
    assert!(snapshot(&store) == before);
    let mut twin = Store::open(&held, Access::Read).unwrap().load().unwrap();
    let step = twin.remove(&["s3".to_string()]).unwrap();
    assert!(
        step.bounds.residual_measured[0],
        "the held store needed the rows too"
    );
}

/// Review 4, finding B4, through the CLI: the rows of --rows must be exactly the request's.
/// `remove --subject person-2 --rows FILE` reads the subject column (--rows-subject) and is
/// refused without it; a file holding another subject's row, or a row no id names, is
/// refused naming that row; each refusal leaves the store byte for byte. The subject's own
/// rows with their subject column erase it.
#[test]
fn review4_external_rows_must_be_exactly_the_requested_rows() {
    let dir = scratch("store-cli", "external-exact");
    let (held, csv) = train_subjects(&dir, "10");
    let mut unlearner = Store::open(&held, Access::Read).unwrap().load().unwrap();
    unlearner.remove(&["r0".to_string()]).unwrap();
    unlearner.detach_rows().unwrap();
    let store = dir.join("external");
    drop(Store::create(&store, &mut unlearner, false, std::time::Duration::ZERO).unwrap());
    let header = csv.lines().next().unwrap();
    let rows_file = |name: &str, keep: &dyn Fn(usize) -> bool| {
        let body: Vec<&str> = csv
            .lines()
            .skip(1)
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, l)| l)
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
        path
    };
    let alice = rows_file("alice.csv", &|i| i % 6 == 2);
    let mixed = rows_file("mixed.csv", &|i| i % 6 == 2 || i == 3);
    let extra = rows_file("extra.csv", &|i| i == 1 || i == 4);
    let before = snapshot(&store);
    let refused = |args: &[&str], needles: &[&str]| {
        let out = cli_remove(&store, args);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        assert!(snapshot(&store) == before, "a refusal changed the store");
    };
    // The subject column is not read unless named: the rows cannot be checked.
    refused(
        &["--subject", "person-2", "--rows", path(&alice)],
        &["subject column", "--rows-subject"],
    );
    // person-3's row r3 would be removed, person-2 recorded erased.
    refused(
        &[
            "--subject",
            "person-2",
            "--rows",
            path(&mixed),
            "--rows-subject",
            "owner",
        ],
        &["'r3'", "person-3"],
    );
    // A row no id names.
    refused(
        &["--ids", "r1", "--rows", path(&extra)],
        &["'r4'", "neither"],
    );
    let out = cli_remove(
        &store,
        &[
            "--subject",
            "person-2",
            "--rows",
            path(&alice),
            "--rows-subject",
            "owner",
            "--json",
        ],
    );
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    let certificate: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(certificate["removed_id_tags"].as_array().unwrap().len(), 10);
    assert_eq!(
        certificate["erased_subject_tags"].as_array().unwrap().len(),
        1
    );
}

/// Issue 14, `unlearn refresh`: an external store serves removals pass-free until the
/// tracked bound would exceed what the budget allows; that removal fails with an error naming
/// `unlearn refresh` (nothing changed); `refresh` with the same request and the remaining
/// rows re-solves over them, records the request (one certificate, one row fewer, its
/// residual measured), the store verifies, and the next removal is served pass-free again
/// (the refresh replaced the tracked bound by the measured one). A remaining-rows file that
/// still holds the removed row, or a row removed before (even with another row of its label
/// deleted in its place, so that the counts match), is refused by the row's id; one that
/// counts a row too few is refused by the count; each leaves the store byte for byte.
#[test]
fn an_external_removal_that_needs_a_pass_is_finished_by_refresh() {
    let dir = scratch("store-cli", "external-refresh");
    let csv_path = write_rows(&dir);
    let held = dir.join("store");
    ok(&run(
        "train --data CSV --id id --target y --positive 1 --loss logistic --lambda 0.1 \
         --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 1 --out STORE",
        &[("CSV", &csv_path), ("STORE", &held)],
    ));
    let mut unlearner = Store::open(&held, Access::Read).unwrap().load().unwrap();
    unlearner.detach_rows().unwrap();
    let store = dir.join("external");
    drop(Store::create(&store, &mut unlearner, false, std::time::Duration::ZERO).unwrap());
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let header = csv.lines().next().unwrap();
    let rows_file = |name: &str, keep: &dyn Fn(&str) -> bool| {
        let body: Vec<&str> = csv.lines().skip(1).filter(|l| keep(l)).collect();
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
        path
    };
    let id_of = |l: &str| l.split(',').next().unwrap().to_string();
    let row_of = |id: &str| rows_file(&format!("{id}.csv"), &|l| id_of(l) == id);
    let removal = |id: &str| {
        let removed = row_of(id);
        cli_remove(&store, &["--ids", id, "--rows", path(&removed), "--json"])
    };
    // Pass-free removals until one needs the pass (at most 40 of the 80 rows).
    let mut gone = Vec::new();
    let needing = loop {
        assert!(gone.len() < 40, "40 removals were all pass-free");
        let id = format!("s{}", gone.len());
        let out = removal(&id);
        if out.status.success() {
            gone.push(id);
            continue;
        }
        break id;
    };
    let before = snapshot(&store);
    let out = removal(&needing);
    failed(&out, "needs a full pass");
    failed(&out, "unlearn refresh");
    failed(&out, "--remaining FILE");
    assert!(snapshot(&store) == before);

    let removed = row_of(&needing);
    let refresh = |remaining: &Path| {
        common::unlearn(&[
            "refresh",
            "--store",
            path(&store),
            "--ids",
            &needing,
            "--rows",
            path(&removed),
            "--remaining",
            path(remaining),
            "--json",
        ])
    };
    let left = 80 - gone.len() - 1;
    // The removed row is still in the file: refused by its id.
    let stale = rows_file("stale.csv", &|l| !gone.contains(&id_of(l)));
    failed(
        &refresh(&stale),
        &format!("'{needing}', which this request removes"),
    );
    // One row short of what the removal leaves.
    let short = rows_file("short.csv", &|l| {
        let id = id_of(l);
        !gone.contains(&id) && id != needing && id != "s79"
    });
    failed(&refresh(&short), &format!("{}", left - 1));
    // Review 5: the counts match but a wrong row was deleted (one of the removed row's
    // label, in its place), or a row an earlier removal took out is back (one of its label
    // deleted in its place): refused by the id, naming the file and the row.
    let label_of = |id: &str| {
        let line = csv.lines().skip(1).find(|l| id_of(l) == id).unwrap();
        line.rsplit(',').next().unwrap().to_string()
    };
    let stand_in = |id: &str| {
        let label = label_of(id);
        csv.lines()
            .skip(1)
            .map(id_of)
            .filter(|o| *o != needing && !gone.contains(o) && label_of(o) == label)
            .last()
            .unwrap()
    };
    let other = stand_in(&needing);
    let wrong = rows_file("wrong.csv", &|l| {
        let id = id_of(l);
        !gone.contains(&id) && id != other
    });
    failed(
        &refresh(&wrong),
        &format!(
            "{}: the remaining rows hold row '{needing}', which this request removes",
            wrong.display()
        ),
    );
    let back = gone
        .first()
        .expect("the first removal was pass-free")
        .clone();
    let other = stand_in(&back);
    let returned = rows_file("returned.csv", &|l| {
        let id = id_of(l);
        id == back || (!gone.contains(&id) && id != needing && id != other)
    });
    failed(
        &refresh(&returned),
        &format!("'{back}', which an earlier removal took out"),
    );
    // The row digest: every id, count, label count and norm right, but one remaining row
    // holds another remaining row's values (of its label): refused, saying what it means.
    let kept: Vec<String> = csv
        .lines()
        .skip(1)
        .map(id_of)
        .filter(|id| !gone.contains(id) && *id != needing)
        .collect();
    let (a, b) = (&kept[0], stand_in(&kept[0]));
    let b_line = csv.lines().skip(1).find(|l| id_of(l) == b).unwrap();
    let swapped_line = format!("{a}{}", &b_line[b.len()..]);
    let body: Vec<String> = csv
        .lines()
        .skip(1)
        .filter(|l| kept.contains(&id_of(l)))
        .map(|l| {
            if id_of(l) == *a {
                swapped_line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    let swapped = dir.join("swapped.csv");
    std::fs::write(&swapped, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    failed(&refresh(&swapped), "row digest");
    failed(&refresh(&swapped), "retrain");
    assert!(
        snapshot(&store) == before,
        "a refused refresh changed the store"
    );

    let remaining = rows_file("remaining.csv", &|l| {
        let id = id_of(l);
        !gone.contains(&id) && id != needing
    });
    let certificate: serde_json::Value = serde_json::from_str(&ok(&refresh(&remaining))).unwrap();
    assert_eq!(certificate["rows_after"], left);
    assert_eq!(certificate["removed_id_tags"].as_array().unwrap().len(), 1);
    assert_eq!(certificate["bounds"]["residual_measured"][0], true);
    assert_eq!(inspect(&store)["rows"], left);
    ok(&common::unlearn(&["verify", "--store", path(&store)]));

    let certificate: serde_json::Value = serde_json::from_str(&ok(&removal("s79"))).unwrap();
    assert_eq!(certificate["rows_after"], left - 1);
    assert_eq!(certificate["bounds"]["cached_hessian"][0], true);
    ok(&common::unlearn(&["verify", "--store", path(&store)]));
}

/// Review 6, finding 5: `unlearn refresh` checks the remaining rows' subjects and norms.
/// On a model that records subjects, --remaining is read with its subject column
/// (--rows-subject, refused without it) and refused when it holds a row of a subject this
/// request erases, or one an earlier removal erased, under an id no request named (a copy of
/// person-2's row r2 as `r2-copy`, a row of its label deleted in its place so that the
/// counts match); a remaining row whose values grew beyond the training rows' bound R (r9's
/// first feature set to 3: clipped to norm 1, beyond every training row's norm ≤ 0.71) is
/// refused naming R. Each refusal leaves the store byte for byte; the honest files refresh.
#[test]
fn review6_refresh_checks_the_remaining_rows_subjects_and_norms() {
    let dir = scratch("store-cli", "refresh-checks");
    let (held, csv) = train_subjects(&dir, "10");
    let mut unlearner = Store::open(&held, Access::Read).unwrap().load().unwrap();
    unlearner.detach_rows().unwrap();
    let store = dir.join("external");
    drop(Store::create(&store, &mut unlearner, false, std::time::Duration::ZERO).unwrap());
    let header = csv.lines().next().unwrap();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    let field = |l: &str, k: usize| l.split(',').nth(k).unwrap().to_string();
    // The lines `keep` keeps (by row index), then `extra`.
    let rows_file = |name: &str, keep: &dyn Fn(usize) -> bool, extra: &[String]| {
        let mut body: Vec<String> = (0..lines.len())
            .filter(|&i| keep(i))
            .map(|i| lines[i].to_string())
            .collect();
        body.extend_from_slice(extra);
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
        path
    };
    // r2's values under a new id, and the last other row of its label (not person-2's, not
    // `gone`), deleted in its place.
    let copy = format!("r2-copy{}", &lines[2][2..]);
    let stand_in = |gone: &dyn Fn(usize) -> bool| {
        (0..lines.len())
            .rev()
            .find(|&i| !gone(i) && i % 6 != 2 && field(lines[i], 4) == field(lines[2], 4))
            .unwrap()
    };
    let refresh = |request: &[&str], remaining: &Path, subject_column: bool| {
        let mut args = vec!["refresh", "--store", path(&store)];
        args.extend_from_slice(request);
        if subject_column {
            args.extend_from_slice(&["--rows-subject", "owner"]);
        }
        args.extend_from_slice(&["--remaining", path(remaining), "--json"]);
        common::unlearn(&args)
    };
    let refused = |run: &dyn Fn() -> std::process::Output, needles: &[&str]| {
        let before = snapshot(&store);
        let out = run();
        for needle in needles {
            failed(&out, needle);
        }
        assert!(
            snapshot(&store) == before,
            "a refused refresh changed the store"
        );
    };

    // This request erases person-2; the file still holds its row as r2-copy.
    let alice = rows_file("alice.csv", &|i| i % 6 == 2, &[]);
    let erase = ["--subject", "person-2", "--rows", path(&alice)];
    let other = stand_in(&|_| false);
    let kept = rows_file(
        "kept.csv",
        &|i| i % 6 != 2 && i != other,
        std::slice::from_ref(&copy),
    );
    refused(
        &|| refresh(&erase, &kept, true),
        &["row 'r2-copy' of subject 'person-2', which this request erases"],
    );
    let rest = rows_file("rest.csv", &|i| i % 6 != 2, &[]);
    let certificate: serde_json::Value =
        serde_json::from_str(&ok(&refresh(&erase, &rest, true))).unwrap();
    assert_eq!(certificate["rows_after"], 50);

    // A later request by id; the file holds the erased subject's row as r2-copy.
    let gone = |i: usize| i % 6 == 2 || i == 1;
    let r1 = rows_file("r1.csv", &|i| i == 1, &[]);
    let by_id = ["--ids", "r1", "--rows", path(&r1)];
    let other = stand_in(&gone);
    let kept = rows_file(
        "kept2.csv",
        &|i| !gone(i) && i != other,
        std::slice::from_ref(&copy),
    );
    refused(
        &|| refresh(&by_id, &kept, true),
        &["row 'r2-copy' of subject 'person-2', which an earlier removal erased"],
    );
    // r9 (person-3) with its first feature grown to 3.
    let mut grown: Vec<String> = lines[9].split(',').map(str::to_string).collect();
    grown[2] = "3".into();
    let grown = rows_file("grown.csv", &|i| !gone(i) && i != 9, &[grown.join(",")]);
    refused(
        &|| refresh(&by_id, &grown, true),
        &["exceeds the bound", "of every training row"],
    );
    let rest = rows_file("rest2.csv", &|i| !gone(i), &[]);
    // Without the subject column the file cannot be checked.
    refused(
        &|| refresh(&by_id, &rest, false),
        &["the model records data subjects", "--rows-subject"],
    );
    let certificate: serde_json::Value =
        serde_json::from_str(&ok(&refresh(&by_id, &rest, true))).unwrap();
    assert_eq!(certificate["rows_after"], 49);
    ok(&common::unlearn(&["verify", "--store", path(&store)]));
}
