//! `unlearn reproduce`: the files a quick run writes, the theorems its bounds trace must
//! satisfy, and the error for an output directory that cannot be created.

mod common;

use common::{run, run_ok, stderr, stdout};
use unlearn_cli::reproduce::{self, Task};

/// The PNG signature (first 8 bytes of every PNG file).
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[test]
fn a_quick_run_writes_every_plot_the_results_and_a_summary_that_links_them() {
    let scratch = common::scratch("reproduce", "quick");
    let dir = scratch.join("out");
    let out = run_ok("reproduce --quick --json --out DIR", &[("DIR", &dir)]);
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let files: Vec<String> = printed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    // Three Fig. 1 plots per sweep (digits, synthetic) and one Fig. 2 plot per trace, each
    // as SVG and PNG, then results.json and README.md.
    let stems = [
        "accuracy_sigma_digits",
        "accuracy_lambda_digits",
        "removals_sigma_digits",
        "accuracy_sigma_synthetic",
        "accuracy_lambda_synthetic",
        "removals_sigma_synthetic",
        "bounds_digits",
        "bounds_synthetic",
    ];
    assert_eq!(files.len(), 2 * stems.len() + 2, "{files:?}");
    let summary = std::fs::read_to_string(dir.join(reproduce::SUMMARY_FILE)).unwrap();
    for stem in stems {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], PNG_SIGNATURE, "{stem}.png");
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{stem}.svg opens an <svg>"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{stem}.svg closes it");
        assert_eq!(
            svg.matches("<text").count(),
            svg.matches("</text>").count(),
            "{stem}.svg: every <text> element is closed"
        );
        let axis = if stem.starts_with("bounds") {
            "removals (one at a time)"
        } else if stem.starts_with("accuracy_lambda") {
            "per-sample λ (log scale)"
        } else {
            "σ (log scale)"
        };
        assert!(
            svg.contains(axis),
            "{stem}.svg has its x-axis label {axis:?}"
        );
        let y_axis = if stem.starts_with("bounds") {
            "gradient residual norm (log)"
        } else if stem.starts_with("removals") {
            "removals per retraining (log)"
        } else {
            "test accuracy"
        };
        assert!(svg.contains(y_axis), "{stem}.svg has its y-axis label");
        assert!(
            summary.contains(&format!("]({stem}.png)"))
                && summary.contains(&format!("]({stem}.svg)")),
            "the summary links {stem}"
        );
    }
    assert!(
        summary.contains("not verified"),
        "the summary says what it could not verify"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(reproduce::RESULTS_FILE)).unwrap())
            .unwrap();
    // One accuracy row per embedded classification dataset and table λ.
    assert_eq!(results["accuracy"].as_array().unwrap().len(), 3 * 2);
    assert_eq!(printed["accuracy"], results["accuracy"]);
}

/// The bounds-vs-removals series obey two theorems at every step:
/// - data-dependent bound ≥ true residual, for a step that did not retrain (after a
///   retraining the recorded residual is the retrained model's): proofs/
///   data_dependent_bound.md, Theorem 1 (the exact Newton step's remainder, whatever the
///   starting point, since the step uses the full gradient on the remaining rows);
/// - worst-case bound ≥ data-dependent bound: Lemma 2 of proofs/worst_case_bounds.md bounds
///   the same remainder by (γ/2)·n′·R³·‖v‖² with ‖v‖ ≤ ‖Δ‖/Λ′, and the data-dependent form
///   (γ/2)·‖X‖₂·R·‖v‖·‖Xv‖ is at most that because ‖Xv‖ ≤ ‖X‖₂‖v‖ and ‖X‖₂ ≤ √n′·R. This
///   needs the certified ‖X‖₂ bound to be at most √n′·R_clip, which holds here by a wide
///   margin (digits rows are far from all pointing one way), so a failure means a bug.
///
/// guo2020 at σ = 10 on digits 3 vs 8 retrains often (σε/c = 2.28 against per-step bounds
/// near 1), so the trace mixes retrained and plain steps; 40 removals take well under a
/// second.
#[test]
fn the_bounds_trace_orders_worst_case_above_data_dependent_above_the_true_residual() {
    let task = Task::digits_3_vs_8().unwrap();
    let trace = reproduce::bound_trace(&task, 1e-3, reproduce::GUO_SIGMA, 40, 7).unwrap();
    assert_eq!(trace.steps.len(), 40);
    let plain: Vec<_> = trace.steps.iter().filter(|s| !s.retrained).collect();
    assert!(
        !plain.is_empty() && trace.retrainings() > 0,
        "the trace has both kinds of step"
    );
    for s in &plain {
        assert!(
            s.data_dependent >= s.exact_residual,
            "removal {}: data-dependent {:e} < true residual {:e}",
            s.removals,
            s.data_dependent,
            s.exact_residual
        );
    }
    for s in &trace.steps {
        let worst = s
            .worst_case
            .expect("digits rows are clipped, so every exact step has a worst-case bound");
        assert!(
            worst >= s.data_dependent,
            "removal {}: worst-case {worst:e} < data-dependent {:e}",
            s.removals,
            s.data_dependent
        );
    }
}

#[test]
fn an_output_directory_that_cannot_be_created_is_refused_before_any_work() {
    let dir = common::scratch("reproduce", "bad-out");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let target = file.join("out");
    let out = run("reproduce --quick --out DIR", &[("DIR", &target)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("--out") && message.contains(target.to_str().unwrap()),
        "the error names the flag and the path: {message}"
    );
    assert!(
        message.contains("cannot create the output directory"),
        "{message}"
    );
    assert!(stdout(&out).is_empty(), "nothing was computed or printed");
}
