//! Per-batch throughput of the partial sums (issue 14): the work one Spark task does per
//! Arrow record batch in each pass of a distributed fit. A batch of 10,000 rows (Spark's
//! default `maxRecordsPerBatch`) × 100 features with a binary target, read from a
//! FixedSizeList column, clipped and given the intercept (`PartialSums::of_batch`), at:
//! - a Newton pass below d = 2048 (value, gradient, Hessian);
//! - the first pass (the same plus the Gram matrix);
//! - a Hessian-vector pass (value, gradient, diagonal, one product: what d ≥ 2048 uses);
//!
//! and the arithmetic alone on rows already in memory (`PartialSums::of_rows`), and the keyed
//! row digest of the batch's rows (`RowDigest::of_rows`, one HMAC-SHA256 per row over its
//! id and 101 values: what a fit pays once and a refresh pass once). Throughput
//! is reported in rows/s. Run with `cargo bench --bench partials`; BENCHMARKS.md records the
//! figures (section "Partial sums per batch").

use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float64Builder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use unlearn::data::{Preprocessing, TargetEncoding};
use unlearn::loss::LossKind;
use unlearn::model;
use unlearn::partials::{BatchSpec, ModelQuery, PartialSums, Query};
use unlearn::row_digest::{RowDigest, RowDigestKey};
use unlearn::synthetic::{SyntheticSpec, generate};

const ROWS: usize = 10_000;
const FEATURES: usize = 100;

fn bench_partials(c: &mut Criterion) {
    let data = generate(&SyntheticSpec {
        rows: ROWS,
        features: FEATURES,
        flip: 0.1,
        regression: false,
        seed: 1,
    });
    let mut list = FixedSizeListBuilder::new(Float64Builder::new(), FEATURES as i32);
    for i in 0..ROWS {
        list.values().append_slice(data.row(i));
        list.append(true);
    }
    let labels: Vec<&str> = data
        .targets()
        .unwrap()
        .values
        .iter()
        .map(|&y| if y > 0.0 { "pos" } else { "neg" })
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("x", Arc::new(list.finish())),
        ("y", Arc::new(StringArray::from(labels))),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    let batch =
        RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|c| c.1).collect()).unwrap();
    let spec = BatchSpec {
        loss: LossKind::Logistic,
        encoding: TargetEncoding::Binary {
            positive: "pos".into(),
            negative: "neg".into(),
        },
        feature_names: (0..FEATURES).map(|j| format!("x[{j}]")).collect(),
        target_column: "y".into(),
        preprocessing: Preprocessing {
            clip_norm: Some(1.0),
            ..Preprocessing::default()
        },
        intercept: true,
    };
    let d = spec.dim();
    let weights: Vec<f64> = (0..d).map(|j| ((j as f64) * 0.37).sin()).collect();
    let query = |hessian: bool, gram: bool, direction: bool| Query {
        models: vec![ModelQuery {
            weights: weights.clone(),
            direction: direction.then(|| weights.iter().map(|w| w.cos()).collect()),
        }],
        hessian,
        gram,
    };
    let design = data.with_constant_feature(model::INTERCEPT_FEATURE, 1.0);
    let targets = data.targets().unwrap().values.clone();
    let mut group = c.benchmark_group("partial_sums_10000x100");
    group.sample_size(20);
    group.throughput(Throughput::Elements(ROWS as u64));
    for (label, q) in [
        ("newton_pass", query(true, false, false)),
        ("first_pass_with_gram", query(true, true, false)),
        ("hessian_vector_pass", query(false, false, true)),
    ] {
        group.bench_function(format!("batch/{label}"), |b| {
            b.iter(|| PartialSums::of_batch(black_box(&batch), &spec, &q, None).unwrap())
        });
        group.bench_function(format!("rows/{label}"), |b| {
            b.iter(|| PartialSums::of_rows(&spec, &q, black_box(design.features()), &targets))
        });
    }
    let key = RowDigestKey::from_bytes([7; 32]);
    group.bench_function("rows/row_digest", |b| {
        b.iter(|| {
            let x = black_box(design.features());
            RowDigest::of_rows(&key, design.ids(), x, d, &targets)
        })
    });
    let sums = PartialSums::of_batch(&batch, &spec, &query(true, true, false), None).unwrap();
    group.throughput(Throughput::Bytes(sums.to_bytes().len() as u64));
    group.bench_function("encode_decode_merge", |b| {
        b.iter(|| {
            let mut a = PartialSums::from_bytes(&sums.to_bytes(), "a").unwrap();
            a.merge(&sums).unwrap();
            a
        })
    });
    group.finish();
}

criterion_group!(benches, bench_partials);
criterion_main!(benches);
