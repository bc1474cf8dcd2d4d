//! Partial sums (issue 14, item 1): per-batch sums merged in any order stay within their
//! recorded rounding bounds; the byte encoding round-trips and refuses corrupt or foreign
//! blobs; the bounds hold against a double-double reference on adversarial magnitudes; a
//! record batch is read and preprocessed as training reads it.

#![cfg(feature = "arrow")]

mod common;

use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float64Builder};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use unlearn::data::{Preprocessing, TargetEncoding};
use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters};
use unlearn::objective::{self, Objective, Rows};
use unlearn::partials::{
    BatchSpec, DigestRequest, ModelQuery, PartialSums, PartialsError, PreparedRows, Query, Totals,
};
use unlearn::row_digest::{RowDigest, RowDigestKey};

/// Rows (with intercept column), targets and a spec for `k` classes (1: binary, 0: ridge).
struct Problem {
    spec: BatchSpec,
    design: Vec<f64>,
    targets: Vec<f64>,
}

fn problem(n: usize, features: usize, classes: usize, seed: u64) -> Problem {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let d = features + 1;
    let mut design = Vec::with_capacity(n * d);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        for _ in 0..features {
            design.push(rng.random_range(-1.0..1.0));
        }
        design.push(1.0);
        targets.push(match classes {
            0 => rng.random_range(-2.0..2.0),
            1 => {
                if rng.random_bool(0.5) {
                    1.0
                } else {
                    -1.0
                }
            }
            k => (i % k) as f64,
        });
    }
    let encoding = match classes {
        0 => TargetEncoding::Regression,
        1 => TargetEncoding::Binary {
            positive: "1".into(),
            negative: "0".into(),
        },
        k => TargetEncoding::Multiclass {
            classes: (0..k).map(|c| c.to_string()).collect(),
        },
    };
    let spec = BatchSpec {
        loss: if classes == 0 {
            LossKind::Squared
        } else {
            LossKind::Logistic
        },
        encoding,
        feature_names: (0..features).map(|j| format!("x[{j}]")).collect(),
        target_column: "y".into(),
        preprocessing: Preprocessing::default(),
        intercept: true,
    };
    Problem {
        spec,
        design,
        targets,
    }
}

fn query(spec: &BatchSpec, seed: u64, hessian: bool) -> Query {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    Query {
        models: (0..spec.model_count())
            .map(|_| ModelQuery {
                weights: (0..spec.dim())
                    .map(|_| rng.random_range(-2.0..2.0))
                    .collect(),
                direction: Some(
                    (0..spec.dim())
                        .map(|_| rng.random_range(-1.0..1.0))
                        .collect(),
                ),
            })
            .collect(),
        hessian,
        gram: hessian,
    }
}

/// The partial sums of each batch of `size` rows.
fn batches(p: &Problem, q: &Query, size: usize) -> Vec<PartialSums> {
    let d = p.spec.dim();
    p.targets
        .chunks(size)
        .zip(p.design.chunks(size * d))
        .map(|(y, x)| PartialSums::of_rows(&p.spec, q, x, y))
        .collect()
}

fn merged(parts: impl IntoIterator<Item = PartialSums>) -> PartialSums {
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap();
    for p in parts {
        total.merge(&p).unwrap();
    }
    total
}

/// Pairwise tree reduction (what Spark's treeReduce does, in one bracketing).
fn tree(mut parts: Vec<PartialSums>) -> PartialSums {
    while parts.len() > 1 {
        parts = parts
            .chunks(2)
            .map(|pair| {
                let mut a = pair[0].clone();
                if let Some(b) = pair.get(1) {
                    a.merge(b).unwrap();
                }
                a
            })
            .collect();
    }
    parts.pop().unwrap()
}

fn hyper(loss: LossKind) -> Hyperparameters {
    let mut h = common::certified(loss, 1e-2, 0.5);
    h.intercept = true;
    h
}

fn finish(p: &Problem, q: &Query, sums: &PartialSums) -> Totals {
    let zeros = vec![DVector::zeros(p.spec.dim()); p.spec.model_count()];
    sums.finish(&p.spec, q, &hyper(p.spec.loss), &zeros)
        .unwrap()
}

#[test]
fn merges_in_any_order_agree_within_the_recorded_bounds() {
    for classes in [0, 1, 3] {
        let p = problem(3_000, 12, classes, 7);
        let q = query(&p.spec, 8, true);
        let parts = batches(&p, &q, 97);
        let forward = finish(&p, &q, &merged(parts.clone()));
        let backward = finish(&p, &q, &merged(parts.iter().rev().cloned()));
        let treed = finish(&p, &q, &tree(parts.clone()));
        let whole = finish(
            &p,
            &q,
            &PartialSums::of_rows(&p.spec, &q, &p.design, &p.targets),
        );
        for other in [&backward, &treed, &whole] {
            assert_eq!(other.rows, 3_000);
            assert_eq!(other.class_counts, forward.class_counts);
            for (a, b) in forward.models.iter().zip(&other.models) {
                // Both are within their bound of the one exact gradient (Hessian, Gram):
                // they differ by at most the sum of the two bounds.
                let gap = (&a.gradient - &b.gradient).norm();
                assert!(
                    gap <= a.gradient_error + b.gradient_error,
                    "gradient gap {gap:e}"
                );
                let (ha, hb) = (a.hessian.as_ref().unwrap(), b.hessian.as_ref().unwrap());
                // ‖·‖₂ ≤ ‖·‖_F: checking the Frobenius norm is the stronger test.
                let gap = (ha - hb).norm();
                assert!(
                    gap <= a.hessian_error + b.hessian_error,
                    "Hessian gap {gap:e}"
                );
                let gap = (a.hessian_vector.as_ref().unwrap() - b.hessian_vector.as_ref().unwrap())
                    .norm();
                assert!(gap.is_finite() && gap <= 1e-9 * a.hessian_diagonal.norm());
            }
            let gap = (forward.gram.as_ref().unwrap() - other.gram.as_ref().unwrap()).norm();
            assert!(
                gap <= forward.gram_error + other.gram_error,
                "Gram gap {gap:e}"
            );
            assert_eq!(
                forward.row_norm_bound, other.row_norm_bound,
                "a maximum is exact"
            );
        }
    }
}

#[test]
fn totals_match_the_in_process_objective_within_the_bounds() {
    for classes in [0, 1, 3] {
        let p = problem(2_000, 9, classes, 11);
        let q = query(&p.spec, 12, true);
        let totals = finish(&p, &q, &tree(batches(&p, &q, 333)));
        let h = hyper(p.spec.loss);
        let lambda = h.regularization.effective_lambda(h.lambda, 2_000);
        assert_eq!(totals.lambda_total, lambda);
        let d = p.spec.dim();
        let zero = DVector::zeros(d);
        for (k, m) in totals.models.iter().enumerate() {
            let y = model::model_targets(&p.spec.encoding, &p.targets, k);
            let objective = Objective {
                loss: &p.spec.loss,
                rows: Rows {
                    features: &p.design,
                    targets: &y,
                    dim: d,
                },
                lambda,
                noise: &zero,
            };
            let w = DVector::from_column_slice(&q.models[k].weights);
            let (g, g_error) =
                objective::gradient_with_error_bound(&objective, &w, totals.row_norm_bound);
            assert!((&m.gradient - &g).norm() <= m.gradient_error + g_error);
            let hessian = objective.hessian(&w);
            assert!((m.hessian.as_ref().unwrap() - &hessian).norm() <= 2.0 * m.hessian_error);
            let value = objective.value(&w);
            assert!((m.value - value).abs() <= 1e-12 * value.abs());
        }
        if classes == 3 {
            assert_eq!(totals.class_counts, vec![667, 667, 666]);
        }
    }
}

// ---- Double-double reference (Dekker / Knuth error-free transformations). ----

/// a + b as an unevaluated sum (hi, lo), exactly.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// a·b as (hi, lo), exactly (fused multiply-add).
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// A double-double accumulator (about 106 bits).
#[derive(Clone, Copy, Default)]
struct Dd(f64, f64);

impl Dd {
    fn add(self, x: Dd) -> Dd {
        let (s, e) = two_sum(self.0, x.0);
        let (hi, lo) = two_sum(s, e + self.1 + x.1);
        Dd(hi, lo)
    }
    fn mul(self, x: Dd) -> Dd {
        let (p, e) = two_prod(self.0, x.0);
        let (hi, lo) = two_sum(p, e + self.0 * x.1 + self.1 * x.0);
        Dd(hi, lo)
    }
    fn of(v: f64) -> Dd {
        Dd(v, 0.0)
    }
    fn value(self) -> f64 {
        self.0 + self.1
    }
}

#[test]
fn bounds_cover_the_actual_error_against_a_double_double_reference() {
    // Ridge (ℓ' = z − y is exact arithmetic, so the reference is exact to ~2⁻¹⁰⁶) on rows
    // whose entries span 12 orders of magnitude with both signs, targets that cancel the
    // margins almost exactly, batches of uneven sizes merged in a shuffled order.
    let (n, features) = (4_000, 6);
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut p = problem(n, features, 0, 5);
    let d = p.spec.dim();
    for (i, v) in p.design.iter_mut().enumerate() {
        if i % d != features {
            let magnitude = 10f64.powi(rng.random_range(-6..=6));
            *v = magnitude * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        }
    }
    let w: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    for (i, y) in p.targets.iter_mut().enumerate() {
        *y = linalg_dot(&p.design[i * d..(i + 1) * d], &w) * (1.0 + 1e-9);
    }
    let q = Query {
        models: vec![ModelQuery {
            weights: w.clone(),
            direction: None,
        }],
        hessian: true,
        gram: true,
    };
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let size = rng.random_range(1..400).min(n - start);
        parts.push(PartialSums::of_rows(
            &p.spec,
            &q,
            &p.design[start * d..(start + size) * d],
            &p.targets[start..start + size],
        ));
        start += size;
    }
    for i in (1..parts.len()).rev() {
        parts.swap(i, rng.random_range(0..=i));
    }
    let totals = finish(&p, &q, &tree(parts));
    // Reference gradient Σ (x_iᵀw − y_i)·x_i + Λw and Gram Σ x_i x_iᵀ in double-double.
    let mut gradient = vec![Dd::default(); d];
    let mut gram = vec![Dd::default(); d * d];
    for i in 0..n {
        let x = &p.design[i * d..(i + 1) * d];
        let margin = x.iter().zip(&w).fold(Dd::default(), |acc, (&a, &b)| {
            acc.add(Dd::of(a).mul(Dd::of(b)))
        });
        let residual = margin.add(Dd::of(-p.targets[i]));
        for j in 0..d {
            gradient[j] = gradient[j].add(residual.mul(Dd::of(x[j])));
            for l in 0..d {
                gram[j * d + l] = gram[j * d + l].add(Dd::of(x[j]).mul(Dd::of(x[l])));
            }
        }
    }
    let lambda = totals.lambda_total;
    let exact_gradient = DVector::from_fn(d, |j, _| {
        gradient[j].add(Dd::of(lambda).mul(Dd::of(w[j]))).value()
    });
    let exact_gram = DMatrix::from_fn(d, d, |j, l| gram[j * d + l].value());
    let m = &totals.models[0];
    let gradient_error = (&m.gradient - &exact_gradient).norm();
    assert!(
        gradient_error <= m.gradient_error,
        "{gradient_error:e} > {:e}",
        m.gradient_error
    );
    let gram_error = (totals.gram.as_ref().unwrap() - &exact_gram).norm();
    assert!(
        gram_error <= totals.gram_error,
        "{gram_error:e} > {:e}",
        totals.gram_error
    );
    let exact_hessian = &exact_gram + DMatrix::identity(d, d) * lambda;
    let hessian_error = (m.hessian.as_ref().unwrap() - &exact_hessian).norm();
    assert!(hessian_error <= m.hessian_error);
    // The case is adversarial: cancellation makes the actual error far larger than a
    // rounding of the result itself (u·‖g‖), so a bound relative to the result would fail;
    // the bounds, built on the absolute masses, hold.
    assert!(gradient_error > 1e3 * f64::EPSILON * exact_gradient.norm());
}

fn linalg_dot(x: &[f64], w: &[f64]) -> f64 {
    x.iter().zip(w).map(|(a, b)| a * b).sum()
}

#[test]
fn the_certified_spectral_bound_from_merged_sums_matches_the_in_process_one() {
    let p = problem(1_500, 20, 1, 3);
    let q = query(&p.spec, 4, true);
    let totals = finish(&p, &q, &tree(batches(&p, &q, 200)));
    let merged = totals.spectral_norm_bound();
    let direct = unlearn::bounds::spectral_norm_upper_bound(&p.design, p.spec.dim());
    let exact = DMatrix::from_row_slice(1_500, p.spec.dim(), &p.design)
        .singular_values()
        .max();
    assert!(exact <= merged && merged <= totals.frobenius_bound);
    // Both certify from a Gram matrix of the same rows: the same value up to the gap the
    // certification's steps (×1.001 per candidate) leave.
    assert!(
        (merged - direct).abs() <= 2e-3 * direct,
        "{merged} vs {direct}"
    );
    let max_norm = p
        .design
        .chunks(p.spec.dim())
        .map(|x| linalg_dot(x, x).sqrt())
        .fold(0.0, f64::max);
    assert!(max_norm <= totals.row_norm_bound && totals.row_norm_bound <= max_norm * (1.0 + 1e-14));
}

#[test]
fn encodings_round_trip() {
    let p = problem(500, 5, 3, 1);
    let q = query(&p.spec, 2, true);
    let sums = tree(batches(&p, &q, 64));
    let bytes = sums.to_bytes();
    assert_eq!(PartialSums::from_bytes(&bytes, "the total").unwrap(), sums);
    assert_eq!(Query::from_bytes(&q.to_bytes(), "weights").unwrap(), q);
    let without = Query {
        hessian: false,
        gram: false,
        ..q.clone()
    };
    let lean = PartialSums::of_rows(&p.spec, &without, &p.design, &p.targets);
    assert!(lean.models[0].hessian.is_none() && lean.gram.is_none());
    assert_eq!(
        PartialSums::from_bytes(&lean.to_bytes(), "x").unwrap(),
        lean
    );
}

#[test]
fn corrupt_truncated_foreign_and_mismatched_blobs_are_refused() {
    let p = problem(300, 4, 1, 21);
    let q = query(&p.spec, 22, true);
    let bytes = PartialSums::of_rows(&p.spec, &q, &p.design, &p.targets).to_bytes();
    let corrupt = |b: &[u8]| match PartialSums::from_bytes(b, "a") {
        Err(PartialsError::Corrupt { reason, .. }) => reason,
        other => panic!("expected a corrupt-blob error, got {other:?}"),
    };
    // Every single flipped byte is caught (the checksum covers the tag and version too).
    for at in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[at] ^= 0x20;
        corrupt(&b);
    }
    for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
        corrupt(&bytes[..cut]);
    }
    assert!(
        corrupt(&q.to_bytes()).contains("tag"),
        "a query is not partial sums"
    );
    // A newer version (re-checksummed so only the version is wrong).
    let mut newer = bytes[..bytes.len() - 32].to_vec();
    newer[8] = 9;
    let digest = sha256(&newer);
    newer.extend_from_slice(&digest);
    assert!(corrupt(&newer).contains("version 9"));
    // Partials of version 1 (before the row digest) are refused, saying what to do.
    newer.truncate(newer.len() - 32);
    newer[8] = 1;
    let digest = sha256(&newer);
    newer.extend_from_slice(&digest);
    let message = corrupt(&newer);
    assert!(
        message.contains("version 1") && message.contains("compute it again"),
        "{message}"
    );
    // Partials of another pass are never merged, nor finished against another query.
    let other_query = query(&p.spec, 23, true);
    let mut a = PartialSums::of_rows(&p.spec, &q, &p.design, &p.targets);
    let b = PartialSums::of_rows(&p.spec, &other_query, &p.design, &p.targets);
    assert!(matches!(a.merge(&b), Err(PartialsError::Mismatch(_))));
    let zeros = vec![DVector::zeros(p.spec.dim())];
    assert!(matches!(
        a.finish(&p.spec, &other_query, &hyper(LossKind::Logistic), &zeros),
        Err(PartialsError::Mismatch(_))
    ));
    // A query that does not fit the spec.
    let short = Query {
        models: vec![ModelQuery {
            weights: vec![0.0; 2],
            direction: None,
        }],
        hessian: false,
        gram: false,
    };
    assert!(matches!(
        short.validate(&p.spec),
        Err(PartialsError::Mismatch(_))
    ));
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// A record batch with the features as a FixedSizeList column `x`, text labels and ids.
fn list_batch(rows: &[[f64; 2]], labels: &[&str]) -> RecordBatch {
    let mut list = FixedSizeListBuilder::new(Float64Builder::new(), 2);
    for r in rows {
        list.values().append_slice(r);
        list.append(true);
    }
    let ids: Vec<String> = (0..rows.len()).map(|i| format!("r{i}")).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(StringArray::from(ids))),
        ("x", Arc::new(list.finish())),
        ("label", Arc::new(StringArray::from(labels.to_vec()))),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|c| c.1).collect()).unwrap()
}

/// A spec reading two features of a list column `x` and labels yes/no, clipping rows to
/// norm 1 and appending the intercept; and a batch of three rows, the first above norm 1.
fn clipped_yes_no() -> (BatchSpec, RecordBatch) {
    let spec = BatchSpec {
        loss: LossKind::Logistic,
        encoding: TargetEncoding::Binary {
            positive: "yes".into(),
            negative: "no".into(),
        },
        feature_names: vec!["x[0]".into(), "x[1]".into()],
        target_column: "label".into(),
        preprocessing: Preprocessing {
            clip_norm: Some(1.0),
            ..Preprocessing::default()
        },
        intercept: true,
    };
    let batch = list_batch(&[[3.0, 4.0], [0.3, 0.4], [0.0, 0.5]], &["yes", "no", "yes"]);
    (spec, batch)
}

/// A first pass's query (Hessian and Gram matrix) for [`clipped_yes_no`]'s spec.
fn first_pass_query() -> Query {
    Query {
        models: vec![ModelQuery {
            weights: vec![0.5, -0.25, 0.1],
            direction: None,
        }],
        hessian: true,
        gram: true,
    }
}

#[test]
fn a_record_batch_is_read_clipped_and_given_the_intercept_as_training_does() {
    let (spec, batch) = clipped_yes_no();
    let q = first_pass_query();
    let sums = PartialSums::of_batch(&batch, &spec, &q, None).unwrap();
    // Row 0 (norm 5) clipped as Preprocessing::apply does, x·(R/‖x‖); every row gets the
    // intercept 1.
    let design = [
        3.0 * (1.0 / 5.0),
        4.0 * (1.0 / 5.0),
        1.0,
        0.3,
        0.4,
        1.0,
        0.0,
        0.5,
        1.0,
    ];
    let expected = PartialSums::of_rows(&spec, &q, &design, &[1.0, -1.0, 1.0]);
    assert_eq!(sums, expected);
    assert_eq!(sums.class_counts, vec![1, 2]);
    assert_eq!(sums.max_squared_norm, 2.0);
    // The same rows as one numeric column per feature give the same sums.
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("x[0]", Arc::new(Float64Array::from(vec![3.0, 0.3, 0.0]))),
        ("x[1]", Arc::new(Float64Array::from(vec![4.0, 0.4, 0.5]))),
        (
            "label",
            Arc::new(StringArray::from(vec!["yes", "no", "yes"])),
        ),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    let flat =
        RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|c| c.1).collect()).unwrap();
    assert_eq!(PartialSums::of_batch(&flat, &spec, &q, None).unwrap(), sums);
    // An empty batch is the identity; a label outside the encoding is an error naming it.
    let empty = list_batch(&[], &[]);
    assert_eq!(
        PartialSums::of_batch(&empty, &spec, &q, None).unwrap(),
        PartialSums::empty(&spec, &q)
    );
    let foreign = list_batch(&[[0.1, 0.1]], &["maybe"]);
    let message = PartialSums::of_batch(&foreign, &spec, &q, None)
        .unwrap_err()
        .to_string();
    assert!(message.contains("maybe"), "{message}");
    // A missing feature column names it.
    let wrong = BatchSpec {
        feature_names: vec!["z".into()],
        ..spec.clone()
    };
    let q1 = Query {
        models: vec![ModelQuery {
            weights: vec![0.0, 0.0],
            direction: None,
        }],
        hessian: false,
        gram: false,
    };
    let message = PartialSums::of_batch(&batch, &wrong, &q1, None)
        .unwrap_err()
        .to_string();
    assert!(message.contains("\"z\""), "{message}");
}

#[test]
fn a_reused_buffer_gives_the_same_sums_whatever_it_held() {
    let (spec, batch) = clipped_yes_no();
    let q = first_pass_query();
    let fresh = PartialSums::of_batch(&batch, &spec, &q, None).unwrap();
    let prepared = PreparedRows::of_batch(&batch, &spec, None).unwrap();
    // A buffer holding more rows than the batch (a full batch before a file's last, short
    // one), then one holding fewer (the next file's first batch after it), then one that
    // is empty: stale values never reach the sums or the prepared rows.
    for mut buffer in [vec![f64::NAN; 100], vec![7.0; 2], Vec::new()] {
        let sums = PartialSums::of_batch_in(&batch, &spec, &q, None, &mut buffer).unwrap();
        assert_eq!(sums, fresh);
        assert_eq!(buffer.len(), 3 * spec.dim(), "it holds this batch's design");
        let again = PreparedRows::of_batch_in(&batch, &spec, None, buffer).unwrap();
        assert_eq!(again, prepared);
    }
}

#[test]
fn prepared_rows_give_the_batch_sums_at_every_query_and_refuse_another_spec() {
    let (spec, batch) = clipped_yes_no();
    let prepared = PreparedRows::of_batch(&batch, &spec, None).unwrap();
    assert_eq!(prepared.rows(), 3);
    // Read once, summed at two passes' queries: the same sums, bit for bit, as reading the
    // batch at each (so the same rounding bounds), also after the byte round trip.
    let decoded = PreparedRows::from_bytes(&prepared.to_bytes(), "the cache entry").unwrap();
    assert_eq!(decoded, prepared);
    for (weights, gram) in [(vec![0.5, -0.25, 0.1], true), (vec![-1.0, 2.0, 0.3], false)] {
        let q = Query {
            models: vec![ModelQuery {
                weights,
                direction: None,
            }],
            hessian: true,
            gram,
        };
        let direct = PartialSums::of_batch(&batch, &spec, &q, None).unwrap();
        assert_eq!(decoded.sums(&spec, &q).unwrap(), direct);
    }
    // Rows prepared under another spec (here: no clipping) are refused, not summed.
    let other = BatchSpec {
        preprocessing: Preprocessing::default(),
        ..spec.clone()
    };
    let q = Query {
        models: vec![ModelQuery {
            weights: vec![0.0; 3],
            direction: None,
        }],
        hessian: false,
        gram: false,
    };
    let message = prepared.sums(&other, &q).unwrap_err().to_string();
    assert!(message.contains("another spec"), "{message}");
    // A truncated or altered blob is an error naming it, never a panic.
    let mut bytes = prepared.to_bytes();
    bytes[60] ^= 1;
    let message = PreparedRows::from_bytes(&bytes, "the cache entry")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("the cache entry") && message.contains("checksum"),
        "{message}"
    );
    let message = PreparedRows::from_bytes(&bytes[..20], "the cache entry")
        .unwrap_err()
        .to_string();
    assert!(message.contains("too short"), "{message}");
}

/// The keyed row digest a pass carries is the same bits for every split of the rows into
/// batches, every merge order and bracketing, every thread count, and the cached (prepared)
/// route; it is the digest of the rows as training sees them (ids, clipped values with the
/// intercept, encoded targets). A partial without it does not merge with one that has it.
#[test]
fn the_row_digest_is_the_same_for_every_split_merge_order_and_thread_count() {
    let (spec, _) = clipped_yes_no();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let rows: Vec<[f64; 2]> = (0..3000)
        .map(|_| [rng.random_range(-0.7..0.7), rng.random_range(-0.7..0.7)])
        .collect();
    let labels: Vec<&str> = (0..rows.len())
        .map(|i| if i % 3 == 0 { "yes" } else { "no" })
        .collect();
    let batch = list_batch(&rows, &labels);
    let request = DigestRequest {
        key: RowDigestKey::from_bytes([9; 32]),
        id_column: "id".into(),
    };
    let q = Query {
        models: vec![ModelQuery {
            weights: vec![0.5, -0.25, 0.1],
            direction: None,
        }],
        hessian: true,
        gram: false,
    };
    let sums = |b: &RecordBatch| PartialSums::of_batch(b, &spec, &q, Some(&request)).unwrap();
    let whole = sums(&batch).row_digest.expect("a digest was asked for");
    assert_eq!(whole.rows(), 3000);
    // The digest of the rows as training sees them: (norms below the clip norm 1, so
    // unchanged) the intercept appended, the labels encoded ±1.
    let plain = PreparedRows::of_batch(&batch, &spec, None).unwrap();
    let design: Vec<f64> = rows.iter().flat_map(|r| [r[0], r[1], 1.0]).collect();
    let ids: Vec<String> = (0..rows.len()).map(|i| format!("r{i}")).collect();
    let targets: Vec<f64> = labels
        .iter()
        .map(|l| if *l == "yes" { 1.0 } else { -1.0 })
        .collect();
    assert_eq!(
        plain.sums(&spec, &q).unwrap(),
        PartialSums::of_rows(&spec, &q, &design, &targets),
        "the hand-made design is the reader's"
    );
    let key = &request.key;
    assert_eq!(RowDigest::of_rows(key, &ids, &design, 3, &targets), whole);
    // Every split, merged forwards, backwards and as a tree.
    for cuts in [
        vec![1000, 2000],
        vec![1, 2, 3, 2999],
        vec![1500],
        vec![7, 1100, 1101],
    ] {
        let mut bounds = vec![0];
        bounds.extend(&cuts);
        bounds.push(3000);
        let parts: Vec<PartialSums> = bounds
            .windows(2)
            .map(|w| sums(&batch.slice(w[0], w[1] - w[0])))
            .collect();
        let forward = merged(parts.clone());
        let backward = merged(parts.iter().rev().cloned());
        assert_eq!(forward.row_digest, Some(whole), "{cuts:?}");
        assert_eq!(backward.row_digest, Some(whole), "{cuts:?}");
        assert_eq!(tree(parts).row_digest, Some(whole), "{cuts:?}");
    }
    // Any thread count (the terms are hashed on rayon's threads in blocks).
    for threads in [1, 2, 5] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| sums(&batch)).row_digest, Some(whole));
    }
    // The cached route: prepared once with the request, every pass carries the digest.
    let prepared = PreparedRows::of_batch(&batch, &spec, Some(&request)).unwrap();
    let decoded = PreparedRows::from_bytes(&prepared.to_bytes(), "cache").unwrap();
    assert_eq!(decoded.sums(&spec, &q).unwrap().row_digest, Some(whole));
    let round_trip = PartialSums::from_bytes(&sums(&batch).to_bytes(), "a").unwrap();
    assert_eq!(round_trip.row_digest, Some(whole));
    // Another key, another digest; a partial without a digest does not merge into one with.
    let other = DigestRequest {
        key: RowDigestKey::from_bytes([8; 32]),
        ..request.clone()
    };
    let keyed = PartialSums::of_batch(&batch, &spec, &q, Some(&other)).unwrap();
    assert_ne!(keyed.row_digest, Some(whole));
    let mut with = sums(&batch.slice(0, 10));
    let without = PartialSums::of_batch(&batch.slice(10, 10), &spec, &q, None).unwrap();
    assert!(matches!(
        with.merge(&without),
        Err(PartialsError::Mismatch(m)) if m.contains("row digest")
    ));
    // A digest request round-trips; the key never shows in its Debug output.
    let bytes = request.to_bytes();
    assert_eq!(DigestRequest::from_bytes(&bytes, "r").unwrap(), request);
    let shown = format!("{request:?}");
    assert!(
        shown.contains("<secret>") && !shown.contains("9, 9"),
        "{shown}"
    );
}
