//! Integration tests of the data layer: every reader error, round trips, the embedded
//! datasets, label encoding, row deletion, and a no-panic property test on random input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use unlearn::data::builtin::{BUILTINS, builtin};
use unlearn::data::csv::{parse_csv, read_csv};
use unlearn::data::libsvm::{parse_libsvm, read_libsvm};
use unlearn::data::{
    CsvOptions, DataError, Dataset, LibsvmOptions, Preprocessing, TargetEncoding, TargetSpec,
    Targets, load_data,
};

// ---------------------------------------------------------------------------------------
// helpers

/// Options with a target column `y` encoded per `spec` and an id column `id`.
fn opts(spec: TargetSpec) -> CsvOptions {
    CsvOptions {
        target: Some("y".into()),
        id: Some("id".into()),
        subject: None,
        spec,
        features: None,
        ..CsvOptions::default()
    }
}

fn classify(positive: Option<&str>) -> TargetSpec {
    TargetSpec::Classify {
        positive: positive.map(str::to_string),
    }
}

fn csv_err(text: &str, opts: &CsvOptions) -> DataError {
    match parse_csv("t.csv", text, opts) {
        Ok(d) => panic!("expected an error, got {} rows", d.n_rows()),
        Err(e) => e,
    }
}

fn libsvm_opts(spec: TargetSpec, n_features: Option<usize>) -> LibsvmOptions {
    LibsvmOptions { spec, n_features }
}

fn svm_err(text: &str, n_features: Option<usize>) -> DataError {
    let opts = libsvm_opts(TargetSpec::Regression, n_features);
    match parse_libsvm("t.svm", text, &opts) {
        Ok(d) => panic!("expected an error, got {} rows", d.n_rows()),
        Err(e) => e,
    }
}

/// Asserts that the error message contains every part.
fn assert_mentions(err: &DataError, parts: &[&str]) {
    let msg = err.to_string();
    for part in parts {
        assert!(
            msg.contains(part),
            "message {msg:?} does not mention {part:?}"
        );
    }
}

fn target_values(data: &Dataset) -> Vec<f64> {
    data.targets().map(|t| t.values.clone()).unwrap_or_default()
}

fn encoding(data: &Dataset) -> Option<TargetEncoding> {
    data.targets().map(|t| t.encoding.clone())
}

/// A file in the test temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Self {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, contents).expect("write temp file");
        Self(path)
    }

    fn source(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const GOOD: &str = "id,x,y\na,1,p\nb,2,q\n";

// ---------------------------------------------------------------------------------------
// CSV errors

#[test]
fn io_error_names_the_file() {
    let err = read_csv(
        std::path::Path::new("/nonexistent/data.csv"),
        &CsvOptions::default(),
    )
    .expect_err("missing file");
    assert!(matches!(err, DataError::Io { .. }));
    assert_mentions(&err, &["/nonexistent/data.csv"]);
}

#[test]
fn empty_file_and_header_only_file() {
    let err = csv_err("", &CsvOptions::default());
    assert!(matches!(err, DataError::Empty { .. }));
    assert_mentions(&err, &["t.csv", "no header"]);
    let err = csv_err("a,b\n\n  \n", &CsvOptions::default());
    assert!(matches!(err, DataError::Empty { .. }));
    assert_mentions(&err, &["t.csv", "no data rows"]);
}

#[test]
fn missing_value_names_line_and_column() {
    let err = csv_err("id,x,y\na,1,p\nb, ,q\n", &opts(classify(None)));
    assert!(matches!(err, DataError::MissingValue { line: 3, .. }));
    assert_mentions(&err, &["t.csv:3", "\"x\""]);
    let err = csv_err("id,x,y\n,1,p\n", &opts(classify(None)));
    assert!(matches!(err, DataError::MissingValue { line: 2, .. }));
    assert_mentions(&err, &["t.csv:2", "\"id\""]);
}

#[test]
fn non_numeric_value_names_line_and_column() {
    let err = csv_err("id,x,y\na,1,p\nb,1;5,q\n", &opts(classify(None)));
    assert!(matches!(err, DataError::NotNumeric { line: 3, .. }));
    assert_mentions(&err, &["t.csv:3", "\"x\"", "1;5", "expected a number"]);
}

#[test]
fn nan_and_infinite_values_are_rejected() {
    for bad in ["nan", "NaN", "inf", "-Infinity", "INF", "1e999"] {
        let text = format!("id,x,y\na,{bad},p\nb,1,q\n");
        let err = csv_err(&text, &opts(classify(None)));
        assert!(matches!(err, DataError::NotFinite { line: 2, .. }), "{bad}");
        assert_mentions(&err, &["t.csv:2", "\"x\"", bad, "finite"]);
    }
    let err = csv_err("id,x,y\na,1,nan\nb,1,2\n", &opts(TargetSpec::Regression));
    assert!(matches!(err, DataError::NotFinite { line: 2, .. }));
    assert_mentions(&err, &["t.csv:2", "\"y\""]);
}

#[test]
fn ragged_row_says_expected_and_found() {
    let err = csv_err("id,x,y\na,1,p\nb,2,q,extra\n", &opts(classify(None)));
    assert!(matches!(
        err,
        DataError::Ragged {
            line: 3,
            expected: 3,
            found: 4,
            ..
        }
    ));
    assert_mentions(&err, &["t.csv:3", "expected 3", "found 4"]);
}

#[test]
fn duplicate_id_names_the_first_line() {
    let err = csv_err("id,x,y\na,1,p\n\nb,2,q\na,3,p\n", &opts(classify(None)));
    assert!(matches!(
        err,
        DataError::DuplicateId {
            line: 5,
            first_line: 2,
            ..
        }
    ));
    assert_mentions(&err, &["t.csv:5", "\"a\"", "line 2", "\"id\""]);
}

#[test]
fn unknown_columns_list_the_available_ones() {
    let mut o = opts(classify(None));
    o.target = Some("label".into());
    let err = csv_err(GOOD, &o);
    assert!(matches!(err, DataError::UnknownColumn { .. }));
    assert_mentions(&err, &["t.csv", "\"label\"", "target", "id, x, y"]);

    let mut o = opts(classify(None));
    o.features = Some(vec!["x".into(), "z".into()]);
    let err = csv_err(GOOD, &o);
    assert!(matches!(err, DataError::UnknownColumn { .. }));
    assert_mentions(&err, &["t.csv", "\"z\"", "feature"]);
}

#[test]
fn header_problems_are_reported() {
    let err = csv_err("id,x,x\na,1,2\n", &CsvOptions::default());
    assert!(matches!(err, DataError::DuplicateColumn { line: 1, .. }));
    assert_mentions(&err, &["t.csv:1", "\"x\""]);
    let err = csv_err("\nid,,y\na,1,2\n", &CsvOptions::default());
    assert!(matches!(
        err,
        DataError::EmptyColumnName {
            line: 2,
            column_number: 2,
            ..
        }
    ));
    assert_mentions(&err, &["t.csv:2", "column 2"]);
}

#[test]
fn malformed_quotes_are_reported() {
    let err = csv_err("id,x,y\n\"a,1,p\n", &opts(classify(None)));
    assert!(matches!(err, DataError::Quote { line: 2, .. }));
    assert_mentions(&err, &["t.csv:2", "column 1"]);
}

#[test]
fn column_role_conflicts_are_errors() {
    let mut o = opts(classify(None));
    o.id = Some("y".into());
    assert!(matches!(csv_err(GOOD, &o), DataError::ColumnRole { .. }));
    let mut o = opts(classify(None));
    o.features = Some(vec!["y".into()]);
    let err = csv_err(GOOD, &o);
    assert!(matches!(err, DataError::ColumnRole { .. }));
    assert_mentions(&err, &["t.csv", "\"y\""]);
    let mut o = opts(TargetSpec::Regression);
    o.target = None;
    let err = csv_err(GOOD, &o);
    assert!(matches!(err, DataError::NoTargetColumn { .. }));
}

#[test]
fn invalid_utf8_is_reported_with_its_line() {
    let file = TempFile::new("bad_utf8.csv", b"x\n1\n\xff\n");
    let err = read_csv(&file.0, &CsvOptions::default()).expect_err("invalid UTF-8");
    assert!(matches!(err, DataError::NotUtf8 { line: 3, .. }), "{err:?}");
    assert_mentions(&err, &["bad_utf8.csv:3"]);
}

// ---------------------------------------------------------------------------------------
// target errors

#[test]
fn single_class_is_an_error() {
    let err = csv_err("id,x,y\na,1,p\nb,2,p\n", &opts(classify(None)));
    assert!(matches!(err, DataError::SingleClass { .. }));
    assert_mentions(&err, &["t.csv", "\"y\"", "\"p\"", "two classes"]);
}

#[test]
fn positive_label_must_be_one_of_two() {
    let err = csv_err(GOOD, &opts(classify(Some("r"))));
    assert!(matches!(err, DataError::PositiveNotFound { .. }));
    assert_mentions(&err, &["t.csv", "\"r\"", "\"p\"", "\"q\""]);
    let three = "id,x,y\na,1,p\nb,2,q\nc,3,r\n";
    let err = csv_err(three, &opts(classify(Some("p"))));
    assert!(matches!(
        err,
        DataError::PositiveWithMulticlass { n_classes: 3, .. }
    ));
    assert_mentions(&err, &["t.csv", "\"y\"", "3"]);
}

#[test]
fn unknown_label_under_an_encoding_names_its_line() {
    let enc = TargetEncoding::Binary {
        positive: "p".into(),
        negative: "q".into(),
    };
    let err = csv_err(
        "id,x,y\na,1,p\nb,2,r\n",
        &opts(TargetSpec::Encoded(enc.clone())),
    );
    assert!(matches!(err, DataError::UnknownLabel { line: 3, .. }));
    assert_mentions(&err, &["t.csv:3", "\"y\"", "\"r\"", "\"p\", \"q\""]);
    let data = parse_csv("t.csv", GOOD, &opts(TargetSpec::Encoded(enc))).expect("known labels");
    assert_eq!(target_values(&data), vec![1.0, -1.0]);
}

// ---------------------------------------------------------------------------------------
// LIBSVM errors

#[test]
fn libsvm_syntax_errors_name_line_and_token() {
    let cases: &[(&str, &str)] = &[
        ("1 1:2\n1 3\n", "expected index:value"),
        ("1 1:2\n1 0:3\n", "start at 1"),
        ("1 1:2\n1 x:3\n", "positive integer"),
        ("1 1:2\n2:3\n", "label"),
    ];
    for (text, reason) in cases {
        let err = svm_err(text, None);
        assert!(
            matches!(err, DataError::LibsvmToken { line: 2, .. }),
            "{text}"
        );
        assert_mentions(&err, &["t.svm:2", reason]);
    }
}

#[test]
fn libsvm_indices_must_increase() {
    for text in ["1 2:1 2:1\n", "1 3:1 2:1\n"] {
        let err = svm_err(text, None);
        assert!(matches!(err, DataError::LibsvmOrder { line: 1, .. }));
        assert_mentions(&err, &["t.svm:1", "increasing"]);
    }
}

#[test]
fn libsvm_index_above_declared_count() {
    let err = svm_err("# header comment\n1 1:1 5:2\n", Some(4));
    assert!(matches!(
        err,
        DataError::LibsvmIndexRange {
            line: 2,
            index: 5,
            n_features: 4,
            ..
        }
    ));
    assert_mentions(&err, &["t.svm:2", "5", "4"]);
}

#[test]
fn libsvm_bad_values_name_the_feature() {
    let err = svm_err("1 1:1 3:abc\n", None);
    assert!(matches!(err, DataError::NotNumeric { line: 1, .. }));
    assert_mentions(&err, &["t.svm:1", "\"f3\""]);
    let err = svm_err("1 1:1 3:NaN\n", None);
    assert!(matches!(err, DataError::NotFinite { .. }));
    let err = svm_err("1 1:1 3:\n", None);
    assert!(matches!(err, DataError::MissingValue { .. }));
    let err = svm_err("inf 1:1\n", None);
    assert!(matches!(err, DataError::NotFinite { .. }));
    assert_mentions(&err, &["t.svm:1", "\"label\""]);
}

#[test]
fn libsvm_empty_file() {
    let err = svm_err("# only a comment\n\n", None);
    assert!(matches!(err, DataError::Empty { .. }));
    assert_mentions(&err, &["t.svm", "no data rows"]);
}

// ---------------------------------------------------------------------------------------
// hostile sizes

#[test]
fn overlong_line_is_refused() {
    let mut text = String::from("x\n");
    text.push_str(&"1".repeat((64 << 20) + 1));
    let err = csv_err(&text, &CsvOptions::default());
    assert!(matches!(err, DataError::LineTooLong { line: 2, .. }));
    assert_mentions(&err, &["t.csv:2"]);

    let file = TempFile::new("long_line.csv", text.as_bytes());
    let err = read_csv(&file.0, &CsvOptions::default()).expect_err("too long");
    assert!(matches!(err, DataError::LineTooLong { line: 2, .. }));
}

#[test]
fn too_many_columns_are_refused() {
    let header = ",".repeat(1_000_000);
    let err = csv_err(&header, &CsvOptions::default());
    assert!(matches!(err, DataError::TooManyColumns { line: 1, .. }));
    assert_mentions(&err, &["t.csv:1", "1000000"]);
    let err = svm_err("1 1000001:1\n", None);
    assert!(matches!(err, DataError::TooManyColumns { line: 1, .. }));
}

// ---------------------------------------------------------------------------------------
// preprocessing errors

#[test]
fn bad_preprocessing_parameters_are_rejected() {
    let names = vec!["a".to_string(), "b".to_string()];
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let p = Preprocessing {
            feature_scales: BTreeMap::from([("a".to_string(), scale)]),
            ..Preprocessing::default()
        };
        let err = p.validate(&names).expect_err("bad scale");
        assert!(matches!(err, DataError::BadScale { .. }));
        assert_mentions(&err, &["\"a\""]);
    }
    for clip in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        let p = Preprocessing {
            clip_norm: Some(clip),
            ..Preprocessing::default()
        };
        assert!(matches!(
            p.validate(&names),
            Err(DataError::BadClipNorm { .. })
        ));
    }
    let p = Preprocessing {
        feature_scales: BTreeMap::from([("c".to_string(), 1.0)]),
        ..Preprocessing::default()
    };
    let err = p.validate(&names).expect_err("unknown feature");
    assert!(matches!(err, DataError::UnknownScaleFeature { .. }));
    assert_mentions(&err, &["\"c\"", "a, b"]);
}

// ---------------------------------------------------------------------------------------
// round trips

#[test]
fn csv_with_quotes_crlf_blank_lines_and_bom() {
    let text = "\u{feff} id , \"x, raw\" ,y\r\n\r\n\"r \"\"1\"\"\", 1.5 ,\"benign\"\r\n  \r\nr2,-2e-1, malignant\r\n";
    let o = CsvOptions {
        target: Some("y".into()),
        id: Some("id".into()),
        subject: None,
        spec: classify(None),
        features: None,
        ..CsvOptions::default()
    };
    let data = parse_csv("q.csv", text, &o).expect("valid CSV");
    assert_eq!(data.ids(), &["r \"1\"".to_string(), "r2".to_string()]);
    assert_eq!(data.feature_names(), &["x, raw".to_string()]);
    assert_eq!(data.features(), &[1.5, -0.2]);
    assert_eq!(
        encoding(&data),
        Some(TargetEncoding::Binary {
            positive: "malignant".into(),
            negative: "benign".into()
        })
    );
    assert_eq!(target_values(&data), vec![-1.0, 1.0]);
}

#[test]
fn csv_without_id_numbers_rows_and_ignores_target_without_spec() {
    let o = CsvOptions {
        target: Some("y".into()),
        ..CsvOptions::default()
    };
    let data = parse_csv("t.csv", "a,y,b\n1,x,2\n3,zz,4", &o).expect("valid");
    assert_eq!(data.ids(), &["0".to_string(), "1".to_string()]);
    assert_eq!(data.feature_names(), &["a".to_string(), "b".to_string()]);
    assert_eq!(data.features(), &[1.0, 2.0, 3.0, 4.0]);
    assert!(data.targets().is_none());
}

#[test]
fn named_features_select_and_order_columns() {
    let o = CsvOptions {
        id: Some("id".into()),
        features: Some(vec!["c".into(), "a".into()]),
        ..CsvOptions::default()
    };
    let data = parse_csv("t.csv", "a,id,b,c\n1,r,not-a-number,3\n", &o).expect("valid");
    assert_eq!(data.feature_names(), &["c".to_string(), "a".to_string()]);
    assert_eq!(data.features(), &[3.0, 1.0]);
}

#[test]
fn libsvm_with_comments_and_sparse_rows() {
    let text = "# a comment line\n+1 1:0.5 3:2 # trailing comment\n\n-1 qid:7 2:1\r\n-1\n";
    let opts = libsvm_opts(classify(None), Some(4));
    let data = parse_libsvm("t.svm", text, &opts).expect("valid LIBSVM");
    assert_eq!(data.n_rows(), 3);
    assert_eq!(data.feature_names(), &["f1", "f2", "f3", "f4"]);
    assert_eq!(data.ids(), &["0", "1", "2"]);
    assert_eq!(
        data.features(),
        &[0.5, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(target_values(&data), vec![1.0, -1.0, -1.0]);
    let inferred = parse_libsvm("t.svm", text, &libsvm_opts(TargetSpec::None, None));
    let inferred = inferred.expect("valid LIBSVM");
    assert_eq!(inferred.n_features(), 3);
    assert!(inferred.targets().is_none());
}

#[test]
fn readers_and_load_data_read_files() {
    let csv = TempFile::new("round_trip.csv", b"id,x,y\na,1,2.5\nb,3,4\n");
    let o = opts(TargetSpec::Regression);
    let from_file = read_csv(&csv.0, &o).expect("valid CSV file");
    assert_eq!(from_file, load_data(&csv.source(), &o).expect("CSV source"));
    assert_eq!(target_values(&from_file), vec![2.5, 4.0]);

    let svm = TempFile::new("round_trip.LIBSVM", b"3 1:1\n4 2:2\n");
    let lo = libsvm_opts(TargetSpec::Regression, None);
    let from_file = read_libsvm(&svm.0, &lo).expect("valid LIBSVM file");
    let co = CsvOptions {
        spec: TargetSpec::Regression,
        ..CsvOptions::default()
    };
    assert_eq!(
        from_file,
        load_data(&svm.source(), &co).expect("LIBSVM source")
    );
    let with_id = CsvOptions {
        id: Some("id".into()),
        ..co.clone()
    };
    let err = load_data(&svm.source(), &with_id).expect_err("no ids in LIBSVM");
    assert!(matches!(err, DataError::Options { .. }));
    let model_features = CsvOptions {
        features: Some(vec!["f1".into(), "f2".into(), "f3".into()]),
        ..co
    };
    let wide = load_data(&svm.source(), &model_features).expect("model features");
    assert_eq!(wide.n_features(), 3);
}

// ---------------------------------------------------------------------------------------
// builtins

#[test]
fn builtins_have_documented_shapes() {
    let expected = [
        ("digits", 1797, 64),
        ("breast_cancer", 569, 30),
        ("diabetes", 442, 10),
    ];
    for (name, rows, features) in expected {
        let b = builtin(name).expect("known builtin");
        let data = b.load(&b.default_options()).expect("builtin parses");
        assert_eq!(
            (data.n_rows(), data.n_features()),
            (rows, features),
            "{name}"
        );
        let via_source = load_data(&format!("builtin:{name}"), &b.default_options());
        assert_eq!(via_source.expect("builtin source"), data);
    }
    assert_eq!(BUILTINS.len(), 3);
}

#[test]
fn builtin_targets_are_encoded_for_their_tasks() {
    let digits = load_data("builtin:digits", &opts_for("digits")).expect("digits");
    let classes: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    assert_eq!(
        encoding(&digits),
        Some(TargetEncoding::Multiclass { classes })
    );

    let cancer = load_data("builtin:breast_cancer", &opts_for("breast_cancer")).expect("bc");
    let Some(TargetEncoding::Binary { positive, .. }) = encoding(&cancer) else {
        panic!("breast_cancer is binary");
    };
    assert_eq!(positive, "malignant");
    let described = cancer.targets().map(|t| t.encoding.describe());
    assert_eq!(
        described.as_deref(),
        Some("binary: \"malignant\" → +1, \"benign\" → −1")
    );

    let diabetes = load_data("builtin:diabetes", &opts_for("diabetes")).expect("diabetes");
    assert_eq!(encoding(&diabetes), Some(TargetEncoding::Regression));
}

/// Only the spec: load_data must fill in the builtin's target and id columns.
fn opts_for(name: &str) -> CsvOptions {
    CsvOptions {
        spec: builtin(name).expect("known builtin").default_options().spec,
        ..CsvOptions::default()
    }
}

#[test]
fn builtin_without_spec_drops_the_target_column() {
    let data = load_data("builtin:diabetes", &CsvOptions::default()).expect("diabetes");
    assert_eq!(data.n_features(), 10);
    assert!(data.targets().is_none());
    assert_eq!(data.ids()[0], "p000");
}

#[test]
fn unknown_builtin_lists_the_available_ones() {
    let err = load_data("builtin:iris", &CsvOptions::default()).expect_err("unknown");
    assert!(matches!(err, DataError::UnknownBuiltin { .. }));
    assert_mentions(&err, &["iris", "digits, breast_cancer, diabetes"]);
}

#[test]
fn recommended_preprocessing_bounds_row_norms() {
    for b in BUILTINS {
        let mut data = b.load(&b.default_options()).expect("builtin parses");
        let report = b
            .recommended_preprocessing()
            .apply(&mut data)
            .expect("valid constants");
        assert!(report.max_norm_before_clip > 0.0);
        for i in 0..data.n_rows() {
            let norm = data.row(i).iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(norm <= 1.0 + 1e-12, "{}: row {i} has norm {norm}", b.name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// label ordering and positive label

/// Numbers by value, then other labels by their text, in one total order: mixed labels keep
/// 9 before 10, so a removal that empties class "a" does not reorder the other classes
/// (issue 10; it used to sort mixed labels as text, 10 before 9).
#[test]
fn numeric_labels_order_by_value_before_other_labels() {
    let numeric = "id,x,y\na,0,10\nb,0,9\nc,0,2\n";
    let data = parse_csv("t.csv", numeric, &opts(classify(None))).expect("valid");
    let classes = vec!["2".to_string(), "9".to_string(), "10".to_string()];
    assert_eq!(
        encoding(&data),
        Some(TargetEncoding::Multiclass { classes })
    );
    assert_eq!(target_values(&data), vec![2.0, 1.0, 0.0]);

    let mixed = "id,x,y\na,0,10\nb,0,9\nc,0,a\n";
    let data = parse_csv("t.csv", mixed, &opts(classify(None))).expect("valid");
    let classes = vec!["9".to_string(), "10".to_string(), "a".to_string()];
    assert_eq!(
        encoding(&data),
        Some(TargetEncoding::Multiclass { classes })
    );
}

#[test]
fn positive_label_choice() {
    let text = "id,x,y\na,0,9\nb,0,10\n";
    let data = parse_csv("t.csv", text, &opts(classify(None))).expect("valid");
    assert_eq!(target_values(&data), vec![-1.0, 1.0], "larger class is +1");
    let data = parse_csv("t.csv", text, &opts(classify(Some("9.0")))).expect("valid");
    assert_eq!(target_values(&data), vec![1.0, -1.0], "9.0 names class 9");
    let b = builtin("breast_cancer").expect("known");
    let mut o = b.default_options();
    o.spec = classify(Some("benign"));
    let data = b.load(&o).expect("valid");
    let Some(TargetEncoding::Binary { positive, negative }) = encoding(&data) else {
        panic!("binary");
    };
    assert_eq!(
        (positive.as_str(), negative.as_str()),
        ("benign", "malignant")
    );
}

// ---------------------------------------------------------------------------------------
// row deletion keeps ids, rows and targets aligned

/// Row i has id "r{i}", features [i, -i] and target 10·i.
fn indexed(n: usize) -> Dataset {
    let ids = (0..n).map(|i| format!("r{i}")).collect();
    let features = (0..n).flat_map(|i| [i as f64, -(i as f64)]).collect();
    let targets = Targets {
        values: (0..n).map(|i| 10.0 * i as f64).collect(),
        encoding: TargetEncoding::Regression,
    };
    let names = vec!["a".into(), "b".into()];
    Dataset::new(ids, names, features, Some(targets)).expect("consistent")
}

fn assert_aligned(data: &Dataset) {
    let targets = target_values(data);
    assert_eq!(targets.len(), data.n_rows());
    assert_eq!(data.features().len(), 2 * data.n_rows());
    for (k, id) in data.ids().iter().enumerate() {
        let i: f64 = id[1..].parse().expect("indexed id");
        assert_eq!(data.row(k), &[i, -i], "row {k}");
        assert_eq!(targets[k], 10.0 * i, "row {k}");
        assert_eq!(data.position(id), Some(k), "the index of row {k}");
    }
}

#[test]
fn swap_remove_keeps_rows_aligned() {
    let mut data = indexed(6);
    for id in ["r1", "r5", "r0", "r3"] {
        let pos = data.position(id).expect("present");
        data.swap_remove(pos);
        assert!(data.position(id).is_none());
        assert_aligned(&data);
    }
    assert_eq!(data.n_rows(), 2);
}

#[test]
fn undoing_swap_removes_in_reverse_restores_the_exact_dataset() {
    let original = indexed(6);
    let mut data = original.clone();
    let mut undo = Vec::new();
    for id in ["r1", "r5", "r0", "r3"] {
        let pos = data.position(id).expect("present");
        undo.push(data.swap_remove(pos));
    }
    assert_ne!(data, original);
    while let Some(removed) = undo.pop() {
        data.undo_swap_remove(removed);
        assert_aligned(&data);
    }
    assert_eq!(data, original);
}

#[test]
fn retain_rows_keeps_rows_aligned_and_ordered() {
    let mut data = indexed(7);
    data.retain_rows(|i| i % 3 != 0);
    assert_aligned(&data);
    assert_eq!(data.ids(), &["r1", "r2", "r4", "r5"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// After any removals by swap_remove (which reorder the rows), with an intercept column
    /// added and some undone, restoring the canonical order gives exactly the dataset built
    /// from the original rows minus the removed ones: ids, features, targets, sequence
    /// numbers, in input order, and the id index in step. (Without the restore the order
    /// depends on which rows were removed, so this fails for most removal sets.)
    #[test]
    fn restoring_canonical_order_equals_building_without_the_removed_rows(
        n in 1usize..40,
        picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..30),
        undo_last in 0usize..3,
        intercept in any::<bool>(),
    ) {
        let original = indexed(n);
        let mut data = if intercept {
            original.with_constant_feature("one", 1.0)
        } else {
            original.clone()
        };
        let mut undo = Vec::new();
        for pick in picks.iter().take(n - 1) {
            undo.push(data.swap_remove(pick.index(data.n_rows())));
        }
        for _ in 0..undo_last.min(undo.len()) {
            data.undo_swap_remove(undo.pop().expect("non-empty"));
        }
        let removed: Vec<&str> = undo.iter().map(|r| r.id.as_str()).collect();
        data.restore_canonical_order();
        let mut expected = original.clone();
        expected.retain_rows(|i| !removed.contains(&format!("r{i}").as_str()));
        if intercept {
            expected = expected.with_constant_feature("one", 1.0);
        }
        prop_assert_eq!(data.ids(), expected.ids());
        prop_assert_eq!(data.features(), expected.features());
        prop_assert_eq!(target_values(&data), target_values(&expected));
        prop_assert_eq!(data.sequence(), expected.sequence());
        for (k, id) in data.ids().iter().enumerate() {
            prop_assert_eq!(data.position(id), Some(k));
        }
        prop_assert_eq!(&data, &expected);
    }
}

/// A stored sequence is refused when its length or distinctness is wrong.
#[test]
fn with_sequence_checks_length_and_distinctness() {
    assert!(indexed(3).with_sequence(vec![0, 1]).is_err());
    assert!(indexed(3).with_sequence(vec![4, 1, 4]).is_err());
    let data = indexed(3).with_sequence(vec![9, 2, 5]).expect("distinct");
    assert_eq!(data.sequence(), &[9, 2, 5]);
}

// ---------------------------------------------------------------------------------------
// no panics on any input

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn readers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        exercise_readers(&text);
    }

    #[test]
    fn readers_never_panic_on_csv_like_text(text in "[-a-c0-9,.:\"#e \r\n]{0,300}") {
        exercise_readers(&text);
    }

    #[test]
    fn readers_never_panic_on_libsvm_like_text(text in "([-+]?[0-9] ([0-9]{1,2}:[-0-9.e]{0,4} ?){0,5}(#.*)?\n){0,10}") {
        exercise_readers(&text);
    }
}

/// Runs every reader configuration over `text`; any result is fine, a panic is not.
fn exercise_readers(text: &str) {
    let header = text.lines().next().unwrap_or("");
    let first_column = header.split(',').next().unwrap_or("").trim().to_string();
    let csv_specs = [
        CsvOptions::default(),
        CsvOptions {
            target: Some(first_column.clone()),
            spec: classify(None),
            ..CsvOptions::default()
        },
        CsvOptions {
            id: Some(first_column),
            ..CsvOptions::default()
        },
    ];
    for o in &csv_specs {
        let _ = parse_csv("p.csv", text, o);
    }
    for spec in [
        TargetSpec::None,
        TargetSpec::Regression,
        classify(Some("1")),
    ] {
        for n_features in [None, Some(3)] {
            let _ = parse_libsvm("p.svm", text, &libsvm_opts(spec.clone(), n_features));
        }
    }
}
