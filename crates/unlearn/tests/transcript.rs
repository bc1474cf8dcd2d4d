//! Transcript accounting (proofs/transcript_accounting.md): the charges of every release add
//! up in the transcript, the publish policy decides which requests release, and a re-solve
//! is the reference retrain bit for bit (so it is charged 0).

mod common;

use unlearn::data::{Dataset, Preprocessing};
use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters, PublishPolicy, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::transcript::Transcript;
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

fn rows(n: usize) -> Dataset {
    generate(&SyntheticSpec {
        rows: n,
        features: 6,
        flip: 0.1,
        regression: false,
        seed: 17,
    })
}

fn hyper(budget: f64) -> Hyperparameters {
    common::certified(LossKind::Logistic, 1e-2, budget)
}

/// A deterministic key that counts as secret (library tests only; `--seed` never certifies).
fn key() -> NoiseKey {
    NoiseKey::from_secret_bytes([7; 32])
}

fn input(data: Dataset) -> TrainingData {
    TrainingData {
        data,
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    }
}

fn train(data: Dataset, h: &Hyperparameters, every: u64) -> Unlearner {
    let mut model = model::train(input(data), h, key()).unwrap();
    model.published.publish = PublishPolicy { every };
    Unlearner::from_trained(model)
}

fn id(i: usize) -> Vec<String> {
    vec![format!("s{i}")]
}

/// Each charge is squared and added with upward rounding, a zero charge adds nothing, and
/// the allowance never lets the next charge take S past the cap.
#[test]
fn transcript_replays_and_rounds_up() {
    let charges = [3e-4, 0.0, 1.7e-3, 2.5e-5, 0.0, 9e-4];
    let mut t = Transcript::default();
    let mut plain = 0.0f64;
    for &c in &charges {
        t = t.after(c);
        plain += c * c;
        assert!(t.shift_squared >= plain, "rounded up");
        // Each step rounds twice by one ulp: far below 1e-12 relative over six steps.
        assert!(t.shift_squared <= plain * (1.0 + 1e-12));
    }
    assert_eq!(t.releases, charges.len() as u64);
    assert_eq!(Transcript::default().after(0.0).sensitivity(), 0.0);
    let cap = 2.2e-3;
    let allowance = t.allowance(cap);
    assert!(t.after(allowance).sensitivity() <= cap);
    assert_eq!(
        t.allowance(t.sensitivity() * 0.5),
        0.0,
        "nothing left past the cap"
    );
}

/// With `every = 3`, requests 3 and 6 publish and the others do not: the published model is
/// unchanged in between, the pending requests reach it at the next release or at
/// `publish()`, only releases are charged, and `verify` replays it all.
#[test]
fn publish_every_n_releases_once_per_n_requests() {
    let mut u = train(rows(200), &hyper(0.05), 3);
    let mut published = Vec::new();
    for i in 0..7 {
        let digest = u.model.published.digest.clone();
        let c = u.remove(&id(i)).unwrap();
        published.push(c.published);
        assert_eq!(c.distance.is_some(), c.published);
        if !c.published {
            assert_eq!(
                u.model.published.digest, digest,
                "request {i} changed the model"
            );
            assert_eq!(c.digest_after, digest);
        }
        assert!(c.certified, "{:?}", c.reason);
        assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
    }
    assert_eq!(published, [false, false, true, false, false, true, false]);
    assert_eq!(u.model.secret.transcript.releases, 3);
    assert_eq!(u.model.secret.pending_requests, 1);
    let release = u.publish().unwrap().expect("one request pending");
    assert!(release.published && release.certified);
    assert_eq!(release.transcript.releases, 4);
    assert_eq!(u.model.secret.pending_requests, 0);
    assert!(u.publish().unwrap().is_none(), "nothing pending");
    assert!(verify(&u).passed());
}

/// `remove_sequential` is one request taken a row at a time: its intermediate steps publish
/// nothing and are charged nothing; only the last releases.
#[test]
fn sequential_steps_publish_only_at_the_end() {
    let mut u = train(rows(150), &hyper(0.05), 1);
    let ids: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    let certificates = u.remove_sequential(&ids).unwrap();
    let flags: Vec<bool> = certificates.iter().map(|c| c.published).collect();
    assert_eq!(flags, [false, false, false, true]);
    assert_eq!(
        u.model.secret.transcript.releases, 2,
        "training + one release"
    );
    assert!(verify(&u).passed());
}

/// A budget so small that the first removal cannot be released: the unlearner re-solves
/// from zero on the remaining rows in their original order, which must be exactly what
/// `model::train` computes on those rows (the reference retrain), bit for bit — the reason
/// it may be charged 0. Before the canonical order and the deterministic reductions, the
/// re-solve ran on swap-removed rows and charged (‖u‖ + τ)/Λ′.
#[test]
fn a_resolve_is_the_reference_retrain_bit_for_bit() {
    let data = rows(300);
    let h = hyper(1e-7);
    let mut u = train(data.clone(), &h, 1);
    let removed = [3usize, 150, 17, 298];
    for (k, &i) in removed.iter().enumerate() {
        let c = u.remove(&id(i)).unwrap();
        assert!(c.retrained, "removal {k} was released without a re-solve");
        assert_eq!(c.distance, Some(0.0));
        assert!(c.certified, "{:?}", c.reason);
    }
    let mut rest = data;
    let gone: Vec<String> = removed.iter().map(|&i| format!("s{i}")).collect();
    let keep: Vec<bool> = rest.ids().iter().map(|x| !gone.contains(x)).collect();
    rest.retain_rows(|i| keep[i]);
    let reference = model::train(input(rest), &h, key()).unwrap();
    let bits = |m: &[nalgebra::DVector<f64>]| -> Vec<u64> {
        m.iter()
            .flat_map(|w| w.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(
        bits(&u.model.secret.weights),
        bits(&reference.secret.weights)
    );
    assert_eq!(
        u.model.secret.design().ids(),
        reference.secret.design().ids()
    );
    assert!(verify(&u).passed());
}

/// The ε a certificate states for its transcript is the zCDP conversion at ρ = S²/(2σ²) on
/// the lattice's own σ = s·g: recomputed here from the lattice's integers, and bracketed by
/// the closed form ρ + 2√(ρ ln(1/δ)) above (the conversion is never worse) and the exact
/// continuous Gaussian's ε below (a zCDP bound cannot beat the mechanism it bounds: its
/// δ at that ε is ≤ the target). Kills a transcript ε returned as a constant.
#[test]
fn the_stated_transcript_epsilon_is_the_zcdp_conversion() {
    use unlearn::noise::{LatticeNoise, analytic_gaussian_delta, zcdp_epsilon};
    use unlearn::transcript::transcript_epsilon;
    let lattice = LatticeNoise::for_sigma(0.0405).unwrap();
    let sigma = lattice.scale as f64 * lattice.grid();
    for sensitivity in [1e-3, 4e-3, 1e-2, 3e-2] {
        let stated = transcript_epsilon(&lattice, sensitivity, 1e-5);
        let rho = (sensitivity / sigma).powi(2) / 2.0;
        let recomputed = zcdp_epsilon(rho, 1e-5).unwrap();
        // ρ is rounded up by a few ulps inside `rho`: the same ε to 1e-12 relative.
        assert!(
            (stated - recomputed).abs() <= 1e-12 * recomputed,
            "{stated} vs {recomputed}"
        );
        let closed_form = rho + 2.0 * (rho * (1e5f64).ln()).sqrt();
        assert!(
            stated > 0.0 && stated <= closed_form,
            "{stated} vs {closed_form}"
        );
        let exact = analytic_gaussian_delta(stated, sigma, sensitivity).unwrap();
        assert!(
            exact <= 1e-5,
            "the Gaussian's own δ at the stated ε is {exact:e}"
        );
    }
    assert_eq!(transcript_epsilon(&lattice, 0.0, 1e-5), 0.0);
}
