//! `unlearn audit-epsilon`: a statistical lower bound on the ε a removal actually achieves,
//! next to the ε its certificate states (library: `unlearn::empirical_epsilon`).

use super::CliResult;
use clap::Args;
use unlearn::empirical_epsilon::scenario::{Scenario, ScenarioKind, audit_scenario};
use unlearn::empirical_epsilon::{AuditOptions, counterexample};
use unlearn::mechanism::Mechanism;

/// Arguments of `unlearn audit-epsilon`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each trial trains on D and removes the rows with the unlearner in K requests
(--releases, default 1), each publishing a release; and, for the same requests, retrains
from scratch on the remaining rows before each release with an independent seed (the
retrain world's K releases). The first half of the trials chooses a test on the projection
of the K published releases on the direction in which the removed rows moved the model;
the second half measures its error rates, whose Clopper-Pearson upper bounds give
eps_lower = max(ln((1 - delta - FPR)/FNR), ln((1 - delta - FNR)/FPR)), a lower bound on the
true epsilon of the whole transcript with the given confidence. It is compared with the
transcript epsilon the last certificate states for all releases jointly. With m evaluation
trials it cannot exceed about ln(m/3.7) (printed as the maximum).

Examples:
  unlearn audit-epsilon                                  # digits 3 vs 8, default mechanism
  unlearn audit-epsilon --sigma 1e-6 --trials 400        # far too little noise: large eps_lower
  unlearn audit-epsilon --releases 5                     # 5 single-row requests, 5 releases
  unlearn audit-epsilon --scenario guo2020-counterexample --json"
)]
pub struct EpsilonArgs {
    /// digits (3 vs 8, output perturbation, certified epsilon = 1) or guo2020-counterexample
    /// (the 1-D case where Guo et al.'s mechanism has a true divergence of 2.0147 at a
    /// claimed epsilon = 1).
    #[arg(long, default_value = "digits")]
    pub scenario: ScenarioKind,
    /// Number of trials (one unlearned and one retrained release each; at least 20).
    /// Default: 1000 for digits (about 3 s of CPU per release), 1000000 for the
    /// counterexample (about 40 s).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Confidence of the lower bound (and of each rate's interval).
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Seed from which every trial's seeds are derived.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Publish the weights with this Gaussian sigma instead of the calibrated one (the
    /// mechanism still trains, unlearns and certifies as calibrated; digits only). A sigma
    /// far too small must give a large eps_lower: the audit's power check.
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Number of rows removed (the first rows of the dataset; digits only).
    #[arg(long, default_value_t = 5)]
    pub removed: usize,
    /// Serve the removed rows as this many requests of consecutive rows, each publishing a
    /// release, and audit the whole transcript (digits only; at most --removed).
    #[arg(long, default_value_t = 1)]
    pub releases: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn audit-epsilon`.
pub fn run(args: &EpsilonArgs) -> CliResult {
    let mut scenario =
        Scenario::of_kind(args.scenario, args.removed)?.with_releases(args.releases)?;
    if let Some(sigma) = args.sigma {
        scenario = scenario.with_release_sigma(sigma)?;
    }
    let trials = args.trials.unwrap_or(match args.scenario {
        ScenarioKind::Digits => 1000,
        ScenarioKind::Guo2020Counterexample => 1_000_000,
    });
    let options = AuditOptions {
        trials,
        confidence: args.confidence,
        delta: scenario.delta(),
        seed: args.seed,
    };
    let report = audit_scenario(&scenario, &options)?;
    if args.json {
        say!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let audit = &report.audit;
    say!(
        "empirical ε audit: {} ({} mechanism), {} rows, {} removed in {} request(s), one release each",
        report.scenario,
        report.mechanism,
        report.rows,
        report.removed.len(),
        report.releases
    );
    say!(
        "  noise scale: published {:.4e} (calibrated {:.4e})",
        report.release_scale,
        report.calibrated_scale
    );
    say!(
        "  trials: {} ({} choose the test, {} evaluate it), confidence {}",
        audit.trials,
        audit.selection_trials,
        audit.evaluation_trials,
        audit.confidence
    );
    say!("  test: say \"retrained\" when {}", audit.region);
    for (name, rate) in [
        ("FPR", &audit.false_positive_rate),
        ("FNR", &audit.false_negative_rate),
    ] {
        say!(
            "  {name} = {}/{} = {:.4e}, interval [{:.4e}, {:.4e}]",
            rate.successes,
            rate.trials,
            rate.estimate,
            rate.lower,
            rate.upper
        );
    }
    say!(
        "  ε_lower = {:.4} (estimate {:.4}, at most {:.4} with these trials), δ = {:e}",
        audit.epsilon_lower,
        audit.epsilon_estimate,
        audit.max_reportable_epsilon,
        audit.delta
    );
    say!(
        "  certified ε = {}{}",
        report.certified_epsilon,
        if report.mechanism == Mechanism::Guo2020 {
            " (claimed: the guo2020 guarantee is unproven)"
        } else {
            " (the target; the certificates list the assumptions the code does not enforce)"
        }
    );
    if let Some(joint) = report.transcript_epsilon {
        say!(
            "  transcript ε = {joint:.4} (all releases jointly, last certificate, largest over trials)"
        );
    }
    if let Some(alone) = report.per_release_epsilon {
        say!("  per-release ε = {alone:.4} (the largest one release has on its own)");
    }
    if let Some(exact) = report.exact_divergence {
        say!(
            "  exact max-divergence {exact:.4} (proofs/guo2020_repairs.md, removed row {}): the audit reaches {:.0}% of it",
            counterexample::ROWS - 1,
            100.0 * audit.epsilon_lower / exact
        );
    }
    let (stated, name) = match report.transcript_epsilon {
        Some(joint) => (joint, "transcript ε"),
        None => (report.certified_epsilon, "certified ε"),
    };
    if audit.epsilon_lower > stated {
        say!("  VIOLATION: the measured ε exceeds the {name}");
    } else {
        say!("  consistent: the measured ε does not exceed the {name}");
    }
    say!("  time: {:.2} s", report.seconds);
    Ok(())
}
