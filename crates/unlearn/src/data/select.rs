//! Row selection by label: for example digits 3 vs 8 out of all ten digits.

use super::{DataError, Dataset, Declared, TargetEncoding, Targets, canonical_label};

/// Each row's label, `all` being the encoding's [`TargetEncoding::classes`].
fn row_labels(targets: &Targets, all: &[String]) -> Vec<String> {
    targets
        .values
        .iter()
        .map(|&v| match &targets.encoding {
            TargetEncoding::Binary { .. } => all[usize::from(v > 0.0)].clone(),
            _ => all[v as usize].clone(),
        })
        .collect()
}

/// The code of `label`, one of the classes of a classification `encoding`.
fn code_of(encoding: &TargetEncoding, label: &str) -> f64 {
    match encoding {
        TargetEncoding::Binary { positive, .. } => {
            if label == positive {
                1.0
            } else {
                -1.0
            }
        }
        TargetEncoding::Multiclass { classes } => {
            classes.iter().position(|c| c == label).expect("a class") as f64
        }
        TargetEncoding::Regression => unreachable!("class labels only"),
    }
}

/// Keeps the rows whose label is one of `labels`, and re-encodes the targets over those
/// labels only: two labels become a binary task (`positive` picks the +1 label, else the
/// larger label in the class order), three or more a multiclass task in the original order.
/// Labels are compared by their [`canonical_label`] spelling (`--labels 3.0` selects `3`).
///
/// The selection depends only on each row's own label, never on other rows' values, so a
/// removed row does not change which other rows are kept. The re-encoding keeps the labels
/// that occur, so its classes count as inferred ([`Declared::classes`] is false).
pub fn keep_labels(
    mut data: Dataset,
    file: &str,
    labels: &[String],
    positive: Option<&str>,
) -> Result<Dataset, DataError> {
    let labels: Vec<String> = labels.iter().map(|l| canonical_label(l)).collect();
    let positive = positive.map(canonical_label);
    let error = |message: String| DataError::Labels {
        file: file.to_string(),
        message,
    };
    let targets = data
        .targets()
        .ok_or_else(|| error("--labels needs a target column".into()))?
        .clone();
    let all = targets
        .encoding
        .classes()
        .ok_or_else(|| error("--labels selects class labels; the target is real-valued".into()))?;
    for l in &labels {
        if !all.contains(l) {
            return Err(error(format!(
                "label '{l}' does not occur in the target column (labels: {})",
                all.join(", ")
            )));
        }
    }
    let kept: Vec<String> = all.iter().filter(|l| labels.contains(l)).cloned().collect();
    let encoding = match kept.len() {
        0 | 1 => {
            return Err(error(format!(
                "--labels must name at least two distinct labels (got {})",
                labels.join(", ")
            )));
        }
        2 => {
            let positive = match positive {
                Some(p) if kept.contains(&p) => p,
                Some(p) => {
                    return Err(error(format!(
                        "--positive '{p}' is not one of the selected labels {} and {}",
                        kept[0], kept[1]
                    )));
                }
                None => kept[1].clone(),
            };
            let negative = kept
                .iter()
                .find(|k| **k != positive)
                .cloned()
                .expect("two labels");
            TargetEncoding::Binary { positive, negative }
        }
        _ if positive.is_some() => {
            return Err(error("--positive applies to two labels only".into()));
        }
        _ => TargetEncoding::Multiclass {
            classes: kept.clone(),
        },
    };
    let row_labels = row_labels(&targets, &all);
    data.retain_rows(|i| kept.contains(&row_labels[i]));
    let values = row_labels
        .iter()
        .filter(|l| kept.contains(l))
        .map(|l| code_of(&encoding, l))
        .collect();
    data.set_targets(Targets { values, encoding })?;
    let declared = Declared {
        classes: false,
        ..data.declared()
    };
    Ok(data.with_declared(declared))
}

/// Keeps the rows labelled with one of a trained model's classes — the given `labels`
/// (each must be one of them), by default all of them — and encodes their targets with
/// the model's `encoding`; returns the rows and how many others were dropped.
///
/// `data`'s targets are the labels as read ([`super::TargetSpec::AnyLabels`]). A model
/// trained on a selection (digits 3 vs 8) has no right answer for a row of another class,
/// so evaluating or predicting it on the full dataset keeps its own classes, as training
/// kept them with `--labels`. Labels are compared by their [`canonical_label`] spelling.
pub fn keep_model_labels(
    mut data: Dataset,
    file: &str,
    encoding: &TargetEncoding,
    labels: Option<&[String]>,
) -> Result<(Dataset, usize), DataError> {
    let error = |message: String| DataError::Labels {
        file: file.to_string(),
        message,
    };
    let classes = encoding.classes().ok_or_else(|| {
        error("labels select class labels; the model predicts a real-valued target".into())
    })?;
    let wanted: Vec<String> = match labels {
        Some(labels) => labels.iter().map(|l| canonical_label(l)).collect(),
        None => classes.clone(),
    };
    if let Some(l) = wanted.iter().find(|l| !classes.contains(l)) {
        return Err(error(format!(
            "label '{}' is not a class of the model (its classes: {})",
            crate::echo::echo(l),
            classes.join(", ")
        )));
    }
    let targets = data
        .targets()
        .ok_or_else(|| error("selecting rows by label needs a target column".into()))?
        .clone();
    let read = targets.encoding.classes().ok_or_else(|| {
        error("selecting rows by label needs class labels, not a real-valued target".into())
    })?;
    let row_labels: Vec<String> = row_labels(&targets, &read)
        .iter()
        .map(|l| canonical_label(l))
        .collect();
    let before = data.n_rows();
    data.retain_rows(|i| wanted.contains(&row_labels[i]));
    if data.n_rows() == 0 {
        return Err(error(format!(
            "no row is labelled {} (the labels present: {})",
            wanted.join(" or "),
            read.join(", ")
        )));
    }
    let values = row_labels
        .iter()
        .filter(|l| wanted.contains(l))
        .map(|l| code_of(encoding, l))
        .collect();
    data.set_targets(Targets {
        values,
        encoding: encoding.clone(),
    })?;
    let skipped = before - data.n_rows();
    Ok((data, skipped))
}
