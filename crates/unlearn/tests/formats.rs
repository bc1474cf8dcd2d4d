//! Input formats and column roles (issue 11, "reader friction"): the format is declared,
//! named by the extension or sniffed — never guessed so that the target is dropped; a
//! LIBSVM file refuses a target column; `ignore` skips text columns; Parquet files (one
//! column per feature, or a FixedSizeList) read exactly like the same rows as CSV and train
//! to the same bits; a model's own classes select the rows it is evaluated on; the export
//! reads back and predicts like the store.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, FixedSizeListArray, Float64Array, Int32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use unlearn::data::select::keep_model_labels;
use unlearn::data::{
    CsvOptions, DataError, DataFormat, Dataset, Preprocessing, TargetEncoding, TargetSpec,
    detect_format, load_data, load_data_as,
};
use unlearn::loss::LossKind;
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::predict::{ExportedModel, PredictError, Prediction};

mod common;

/// A scratch directory for one test, removed when the guard drops.
fn scratch(name: &str) -> common::Scratch {
    common::scratch(&format!("formats-{name}"))
}

fn source(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn classify() -> TargetSpec {
    TargetSpec::Classify { positive: None }
}

fn with_target(target: &str) -> CsvOptions {
    CsvOptions {
        target: Some(target.into()),
        spec: classify(),
        ..CsvOptions::default()
    }
}

/// n rows of `d` features in [-1, 1) spelled exactly (shortest round trip), labels a/b.
fn rows(n: usize, d: usize) -> (Vec<String>, Vec<Vec<f64>>, Vec<String>) {
    let ids = (0..n).map(|i| format!("r{i:03}")).collect();
    let x = (0..n)
        .map(|i| {
            (0..d)
                .map(|j| (((i * 7 + j * 13) % 29) as f64 / 14.5 - 1.0) * 0.9 + 1e-3 * j as f64)
                .collect()
        })
        .collect::<Vec<Vec<f64>>>();
    let labels = x
        .iter()
        .map(|r: &Vec<f64>| if r[0] + 0.5 * r[1] > 0.0 { "b" } else { "a" }.to_string())
        .collect();
    (ids, x, labels)
}

fn csv_text(ids: &[String], x: &[Vec<f64>], labels: &[String], names: &[String]) -> String {
    let mut text = format!("id,{},label\n", names.join(","));
    for ((id, row), label) in ids.iter().zip(x).zip(labels) {
        let cells: Vec<String> = row.iter().map(f64::to_string).collect();
        text.push_str(&format!("{id},{},{label}\n", cells.join(",")));
    }
    text
}

/// Writes `columns` as a Parquet file with row groups of `group_rows` rows.
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, group_rows: usize) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn train_weights(data: Dataset) -> (Vec<Vec<f64>>, String) {
    let input = TrainingData {
        data,
        preprocessing: Preprocessing {
            clip_norm: Some(1.0),
            ..Preprocessing::default()
        },
        target_column: "label".into(),
    };
    let hyper = common::certified(LossKind::Logistic, 0.1, 0.05);
    let trained = model::train(input, &hyper, NoiseKey::from_secret_bytes([7; 32])).unwrap();
    (trained.published.weights, trained.published.digest)
}

#[test]
fn a_csv_named_txt_is_read_as_csv_with_its_target() {
    let dir = scratch("txt");
    let path = dir.join("rows.txt");
    std::fs::write(&path, "x1,x2,label\n0.1,0.2,yes\n0.3,0.1,no\n").unwrap();
    assert_eq!(detect_format(&path).ok(), Some(DataFormat::Csv));
    let data = load_data(&source(&path), &with_target("label")).expect("CSV");
    assert_eq!(data.n_features(), 2, "both features, not LIBSVM's none");
    assert_eq!(data.targets().map(|t| t.values.len()), Some(2));
}

#[test]
fn a_libsvm_file_refuses_a_target_column_instead_of_ignoring_it() {
    let dir = scratch("svm-target");
    let path = dir.join("rows.txt");
    std::fs::write(&path, "# comment\n1 1:0.5 3:1\n-1 2:0.25\n").unwrap();
    assert_eq!(detect_format(&path).ok(), Some(DataFormat::Libsvm));
    let err = load_data(&source(&path), &with_target("label")).expect_err("a target column");
    assert!(
        matches!(&err, DataError::Options { reason, .. } if reason.contains("first token")),
        "{err}"
    );
    let data = load_data(
        &source(&path),
        &CsvOptions {
            spec: classify(),
            ..CsvOptions::default()
        },
    )
    .expect("LIBSVM without a target column");
    assert_eq!((data.n_rows(), data.n_features()), (2, 3));
}

#[test]
fn an_unrecognisable_file_asks_for_its_format_and_a_declared_format_wins() {
    let dir = scratch("unknown");
    let semicolons = dir.join("rows.dat");
    std::fs::write(&semicolons, "x1;x2;label\n0.1;0.2;yes\n").unwrap();
    let err = load_data(&source(&semicolons), &with_target("label")).expect_err("unknown");
    assert!(matches!(err, DataError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("csv, libsvm or parquet"), "{err}");
    // CSV content under a LIBSVM extension reads as CSV once declared.
    let misnamed = dir.join("rows.svm");
    std::fs::write(&misnamed, "x1,label\n0.1,yes\n0.2,no\n").unwrap();
    let data = load_data_as(
        &source(&misnamed),
        Some(DataFormat::Csv),
        &with_target("label"),
    )
    .expect("declared CSV");
    assert_eq!(data.n_features(), 1);
    let err = load_data_as(
        "builtin:digits",
        Some(DataFormat::Libsvm),
        &CsvOptions::default(),
    )
    .expect_err("builtins are CSV");
    assert!(matches!(err, DataError::Options { .. }), "{err}");
}

#[test]
fn ignored_columns_are_skipped_and_checked() {
    let dir = scratch("ignore");
    let path = dir.join("rows.csv");
    std::fs::write(
        &path,
        "\u{feff}name,x1,notes,x2,label\nann,0.1,\"tall, dark\",0.2,yes\nbob,0.3,,0.1,no\n",
    )
    .unwrap();
    let err = load_data(&source(&path), &with_target("label")).expect_err("text column");
    assert!(matches!(err, DataError::NotNumeric { .. }), "{err}");
    let ignoring = |ignore: &[&str]| CsvOptions {
        ignore: ignore.iter().map(|s| s.to_string()).collect(),
        ..with_target("label")
    };
    let data = load_data(&source(&path), &ignoring(&["name", "notes"])).expect("ignored");
    assert_eq!(data.feature_names(), &["x1".to_string(), "x2".to_string()]);
    assert_eq!(data.features(), &[0.1, 0.2, 0.3, 0.1]);
    // The BOM before the header is not part of the first column's name.
    let err = load_data(&source(&path), &ignoring(&["nope"])).expect_err("unknown");
    assert!(
        matches!(&err, DataError::UnknownColumn { available, .. } if available[0] == "name"),
        "{err}"
    );
    let err = load_data(&source(&path), &ignoring(&["label"])).expect_err("target");
    assert!(matches!(err, DataError::ColumnRole { .. }), "{err}");
    let named = CsvOptions {
        features: Some(vec!["x1".into(), "notes".into()]),
        ..ignoring(&["notes"])
    };
    let err = load_data(&source(&path), &named).expect_err("feature and ignored");
    assert!(matches!(err, DataError::ColumnRole { .. }), "{err}");
}

#[test]
fn parquet_reads_like_the_same_rows_as_csv_and_trains_to_the_same_bits() {
    let dir = scratch("parquet");
    let (ids, x, labels) = rows(120, 5);
    let names: Vec<String> = (0..5).map(|j| format!("x{j}")).collect();
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, csv_text(&ids, &x, &labels, &names)).unwrap();

    // One Float64 column per feature, three row groups.
    let mut columns: Vec<(&str, ArrayRef)> = vec![("id", Arc::new(StringArray::from(ids.clone())))];
    for (j, name) in names.iter().enumerate() {
        let values: Vec<f64> = x.iter().map(|r| r[j]).collect();
        columns.push((name.as_str(), Arc::new(Float64Array::from(values))));
    }
    columns.push(("label", Arc::new(StringArray::from(labels.clone()))));
    let per_column = dir.join("rows.parquet");
    write_parquet(&per_column, columns, 50);

    let options = CsvOptions {
        id: Some("id".into()),
        ..with_target("label")
    };
    let from_csv = load_data(&source(&csv), &options).expect("CSV");
    let from_parquet = load_data(&source(&per_column), &options).expect("Parquet");
    assert_eq!(
        from_parquet, from_csv,
        "same ids, names, bits, targets, order"
    );
    let (w_csv, digest_csv) = train_weights(from_csv.clone());
    let (w_parquet, digest_parquet) = train_weights(from_parquet);
    let bits = |w: &[Vec<f64>]| -> Vec<u64> { w.concat().iter().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&w_parquet), bits(&w_csv));
    assert_eq!(digest_parquet, digest_csv);

    // The same matrix as one FixedSizeList<Float64> column, under a name without extension:
    // recognised by its magic bytes.
    let flat: Vec<f64> = x.concat();
    let item = Arc::new(Field::new("item", DataType::Float64, true));
    let list = FixedSizeListArray::new(item, 5, Arc::new(Float64Array::from(flat)), None);
    let as_list = dir.join("matrix.bin");
    write_parquet(
        &as_list,
        vec![
            ("id", Arc::new(StringArray::from(ids.clone()))),
            ("x", Arc::new(list)),
            ("label", Arc::new(StringArray::from(labels.clone()))),
        ],
        1000,
    );
    assert_eq!(detect_format(&as_list).ok(), Some(DataFormat::Parquet));
    let from_list = load_data(&source(&as_list), &options).expect("list column");
    assert_eq!(from_list.feature_names()[4], "x[4]");
    assert_eq!(from_list.features(), from_csv.features());
    assert_eq!(from_list.ids(), from_csv.ids());
    let (w_list, _) = train_weights(from_list.clone());
    assert_eq!(bits(&w_list), bits(&w_csv));
    // A model's feature names select list elements, in its order.
    let picked = load_data(
        &source(&as_list),
        &CsvOptions {
            features: Some(vec!["x[3]".into(), "x[0]".into()]),
            ..options.clone()
        },
    )
    .expect("named elements");
    assert_eq!(picked.row(7), &[x[7][3], x[7][0]]);
}

#[test]
fn parquet_errors_name_the_file_column_and_row_group() {
    let dir = scratch("parquet-errors");
    let path = dir.join("bad.parquet");
    let mut x1: Vec<Option<f64>> = (0..30).map(|i| Some(i as f64 / 30.0)).collect();
    x1[23] = None;
    write_parquet(
        &path,
        vec![
            ("x1", Arc::new(Float64Array::from(x1))),
            (
                "n",
                Arc::new(Int32Array::from((0..30).collect::<Vec<i32>>())),
            ),
            ("notes", Arc::new(StringArray::from(vec!["free text"; 30]))),
            ("label", Arc::new(StringArray::from(["a", "b"].repeat(15)))),
        ],
        10,
    );
    let err = load_data(&source(&path), &with_target("label")).expect_err("text feature");
    let message = err.to_string();
    assert!(
        message.contains("bad.parquet") && message.contains("\"notes\""),
        "{message}"
    );
    assert!(message.contains("ignore"), "{message}");
    let ignoring = CsvOptions {
        ignore: vec!["notes".into()],
        ..with_target("label")
    };
    let err = load_data(&source(&path), &ignoring).expect_err("a null");
    assert!(
        matches!(
            &err,
            DataError::ParquetValue { row_group: 2, row: 24, column, .. } if column == "x1"
        ),
        "{err}"
    );
    let not_parquet = dir.join("fake.parquet");
    std::fs::write(&not_parquet, "x1,label\n1,a\n").unwrap();
    let err = load_data(&source(&not_parquet), &with_target("label")).expect_err("not Parquet");
    assert!(
        matches!(&err, DataError::Parquet { file, .. } if file.ends_with("fake.parquet")),
        "{err}"
    );
}

#[test]
fn a_model_trained_on_two_digits_selects_its_own_classes() {
    let options = CsvOptions {
        spec: TargetSpec::AnyLabels,
        ..CsvOptions::default()
    };
    let all = load_data("builtin:digits", &options).expect("digits");
    let model = TargetEncoding::Binary {
        positive: "8".into(),
        negative: "3".into(),
    };
    let (kept, skipped) =
        keep_model_labels(all.clone(), "builtin:digits", &model, None).expect("3 and 8");
    assert_eq!((kept.n_rows(), skipped), (357, 1797 - 357));
    let targets = kept.targets().expect("targets");
    assert_eq!(targets.encoding, model);
    assert!(targets.values.iter().all(|v| *v == 1.0 || *v == -1.0));
    let eights = targets.values.iter().filter(|v| **v > 0.0).count();
    let (only_eights, _) = keep_model_labels(
        all.clone(),
        "builtin:digits",
        &model,
        Some(&["8.0".to_string()]),
    )
    .expect("8 alone");
    assert_eq!(only_eights.n_rows(), eights);
    let err = keep_model_labels(all, "builtin:digits", &model, Some(&["4".to_string()]))
        .expect_err("4 is not a class of the model");
    assert!(
        err.to_string().contains("not a class of the model"),
        "{err}"
    );
}

#[test]
fn an_export_reads_back_and_predicts_like_the_published_model() {
    let (ids, x, labels) = rows(80, 3);
    let names: Vec<String> = (0..3).map(|j| format!("x{j}")).collect();
    let text = csv_text(&ids, &x, &labels, &names);
    let options = CsvOptions {
        id: Some("id".into()),
        ..with_target("label")
    };
    let data = unlearn::data::csv::parse_csv("t.csv", &text, &options).unwrap();
    let input = TrainingData {
        data: data.clone(),
        preprocessing: Preprocessing::default(),
        target_column: "label".into(),
    };
    let hyper = common::certified(LossKind::Logistic, 0.1, 0.05);
    let published = model::train(input, &hyper, NoiseKey::from_secret_bytes([3; 32]))
        .unwrap()
        .published;
    let json = serde_json::to_string(&ExportedModel::from(&published)).unwrap();
    let imported = serde_json::from_str::<ExportedModel>(&json)
        .unwrap()
        .import()
        .expect("consistent export");
    let a = published.predict(&data).unwrap();
    assert_eq!(imported.predictor().predict(&data).unwrap(), a);
    // Probabilities: two classes summing to 1 within four roundings (1 + e, two quotients,
    // the sum) of at most ε/2 each, the larger one the predicted label.
    let p = imported.predictor().probabilities(&data).unwrap();
    for (pi, prediction) in p.iter().zip(&a) {
        assert!((pi[0] + pi[1] - 1.0).abs() <= 2.0 * f64::EPSILON, "{pi:?}");
        let expected = if pi[1] >= pi[0] { "b" } else { "a" };
        assert_eq!(prediction, &Prediction::Label(expected.into()));
    }
    // A changed weight no longer matches its digest.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["weights"][0] = serde_json::json!(value["weights"][0].as_f64().unwrap() + 1e-12);
    let tampered: ExportedModel = serde_json::from_value(value).unwrap();
    assert!(matches!(tampered.import(), Err(PredictError::Export(_))));
}

/// Damaged Parquet files (seeded byte flips and truncations of a valid one) are refused
/// with an error, never a panic or an abort.
#[test]
fn damaged_parquet_files_are_errors_not_panics() {
    use rand::{RngExt, SeedableRng};
    let dir = scratch("parquet-fuzz");
    let (ids, x, labels) = rows(40, 3);
    let mut columns: Vec<(&str, ArrayRef)> = vec![("id", Arc::new(StringArray::from(ids)))];
    let names = ["x0", "x1", "x2"];
    for (j, name) in names.iter().enumerate() {
        let values: Vec<f64> = x.iter().map(|r| r[j]).collect();
        columns.push((name, Arc::new(Float64Array::from(values))));
    }
    columns.push(("label", Arc::new(StringArray::from(labels))));
    let good = dir.join("good.parquet");
    write_parquet(&good, columns, 16);
    let bytes = std::fs::read(&good).unwrap();
    let options = CsvOptions {
        id: Some("id".into()),
        ..with_target("label")
    };
    assert!(load_data(&source(&good), &options).is_ok());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let damaged = dir.join("damaged.parquet");
    let mut refused = 0;
    for trial in 0..400 {
        let mut b = bytes.clone();
        if trial % 4 == 0 {
            b.truncate(rng.random_range(0..bytes.len()));
        } else {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
        }
        std::fs::write(&damaged, &b).unwrap();
        let outcome =
            std::panic::catch_unwind(|| load_data(&source(&damaged), &options).map(|_| ()));
        assert!(outcome.is_ok(), "trial {trial} panicked");
        refused += usize::from(matches!(outcome, Ok(Err(_))));
    }
    assert!(refused > 0, "some damage must be detected");
}

/// In-memory Arrow batches (what the Python package hands over through the Arrow C stream
/// interface) are read by the Parquet reader's code: the same values in the same order,
/// integers as floats, column names as feature names; a null is located by the data's name,
/// its column and its 0-based row across batches; a text column is refused by name.
#[test]
fn in_memory_batches_are_read_by_the_shared_arrow_reader() {
    use unlearn::data::arrow::{Origin, read_batches};
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Float64, true),
        Field::new("b", DataType::Int32, true),
    ]));
    let batch = |a: Vec<Option<f64>>, b: Vec<i32>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(a)) as ArrayRef,
                Arc::new(Int32Array::from(b)) as ArrayRef,
            ],
        )
    };
    let memory = || Origin::Memory { name: "X".into() };
    let batches = vec![
        batch(vec![Some(0.5), Some(-1.0)], vec![1, 2]),
        batch(vec![Some(2.0)], vec![-3]),
    ];
    let data = read_batches(memory(), &schema, batches, &CsvOptions::default()).unwrap();
    assert_eq!(data.feature_names(), ["a", "b"]);
    assert_eq!(data.features(), [0.5, 1.0, -1.0, 2.0, 2.0, -3.0]);
    assert_eq!(data.ids(), ["0", "1", "2"]);

    let batches = vec![
        batch(vec![Some(0.5), Some(1.0)], vec![1, 2]),
        batch(vec![Some(0.5), None], vec![1, 2]),
    ];
    let err = read_batches(memory(), &schema, batches, &CsvOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::ArrowValue { row: 3, column, .. } if column == "a"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("X: row 3 (counting from 0): column \"a\": missing")
    );

    let text = Arc::new(Schema::new(vec![Field::new("city", DataType::Utf8, false)]));
    let city = RecordBatch::try_new(
        text.clone(),
        vec![Arc::new(StringArray::from(vec!["Lyon"])) as ArrayRef],
    );
    let err = read_batches(memory(), &text, vec![city], &CsvOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Arrow { message, .. } if message.contains("column \"city\" has type Utf8")),
        "{err}"
    );
}

/// The subject column of an Arrow table (a Parquet file, a table from Python) gives each
/// row's data subject, as the CSV reader's does — it was resolved (so not a feature) but
/// never read, which left an external-rows request blind to whose rows it was given; a
/// missing subject is refused naming the column and row.
#[test]
fn an_arrow_subject_column_gives_the_rows_subjects() {
    use unlearn::data::arrow::{Origin, read_batches};
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Float64, false),
        Field::new("owner", DataType::Utf8, true),
    ]));
    let batch = |owners: Vec<Option<&str>>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![0.5; owners.len()])) as ArrayRef,
                Arc::new(StringArray::from(owners)) as ArrayRef,
            ],
        )
    };
    let opts = CsvOptions {
        subject: Some("owner".into()),
        ..CsvOptions::default()
    };
    let memory = || Origin::Memory {
        name: "rows".into(),
    };
    let batches = vec![
        batch(vec![Some("alice"), Some("bob")]),
        batch(vec![Some("alice")]),
    ];
    let data = read_batches(memory(), &schema, batches, &opts).unwrap();
    assert_eq!(data.feature_names(), ["a"]);
    assert_eq!(data.subjects().unwrap(), ["alice", "bob", "alice"]);
    let err = read_batches(
        memory(),
        &schema,
        vec![batch(vec![Some("alice"), None])],
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::ArrowValue { row: 1, column, .. } if column == "owner"),
        "{err}"
    );
}
