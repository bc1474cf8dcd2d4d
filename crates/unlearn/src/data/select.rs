//! Row selection by label: for example digits 3 vs 8 out of all ten digits.

use super::{DataError, Dataset, Declared, TargetEncoding, Targets, canonical_label};

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
    let all: Vec<String> = match &targets.encoding {
        TargetEncoding::Binary { positive, negative } => vec![negative.clone(), positive.clone()],
        TargetEncoding::Multiclass { classes } => classes.clone(),
        TargetEncoding::Regression => {
            return Err(error(
                "--labels selects class labels; the target is real-valued".into(),
            ));
        }
    };
    let label_of = |value: f64| -> &str {
        match &targets.encoding {
            TargetEncoding::Binary { .. } => &all[usize::from(value > 0.0)],
            _ => &all[value as usize],
        }
    };
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
    let row_labels: Vec<String> = targets
        .values
        .iter()
        .map(|&v| label_of(v).to_string())
        .collect();
    data.retain_rows(|i| kept.contains(&row_labels[i]));
    let kept_labels: Vec<&String> = row_labels.iter().filter(|l| kept.contains(l)).collect();
    let values = kept_labels
        .iter()
        .map(|l| match &encoding {
            TargetEncoding::Binary { positive, .. } => {
                if *l == positive {
                    1.0
                } else {
                    -1.0
                }
            }
            TargetEncoding::Multiclass { classes } => {
                classes.iter().position(|c| c == *l).expect("kept label") as f64
            }
            TargetEncoding::Regression => unreachable!("checked above"),
        })
        .collect();
    data.set_targets(Targets { values, encoding })?;
    let declared = Declared {
        classes: false,
        ..data.declared()
    };
    Ok(data.with_declared(declared))
}
