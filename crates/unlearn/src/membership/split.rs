//! Who plays which part in the membership audit: never-seen, removed and retained rows,
//! and the canaries (see the parent module).

use super::{MembershipError, Setting};
use crate::data::{Dataset, TargetEncoding};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Which population rows play which part (indices into the population).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Rows in the population.
    pub rows: usize,
    /// Whether the removed rows and the controls are canaries.
    pub canaries: bool,
    /// N: never trained on by any of the three models (with canaries: those not mislabelled).
    pub never_seen: Vec<usize>,
    /// The never-seen rows the removed rows are compared with: N itself, or with canaries
    /// the mislabelled never-seen rows.
    pub controls: Vec<usize>,
    /// S: trained on by the original model, then removed.
    pub removed: Vec<usize>,
    /// R = D∖S: trained on by all three models.
    pub retained: Vec<usize>,
}

impl Split {
    /// A uniformly random split of `rows` rows: round(`never_seen`·rows) never seen,
    /// `removed` removed, the rest retained; each part sorted. With `canaries`, a share
    /// K/|D| of the never-seen rows (at least one) become the controls.
    pub fn random(
        rows: usize,
        never_seen: f64,
        removed: usize,
        canaries: bool,
        seed: u64,
    ) -> Result<Self, MembershipError> {
        if !(never_seen > 0.0 && never_seen < 1.0) {
            return Err(MembershipError::Setting {
                setting: Setting::NeverSeen,
                message: format!("must be a fraction in (0, 1), got {never_seen}"),
            });
        }
        let held_out = (never_seen * rows as f64).round() as usize;
        if held_out == 0 || removed == 0 || held_out + removed >= rows {
            return Err(MembershipError::Setting {
                setting: Setting::Removed,
                message: format!(
                    "{rows} rows cannot be split into {held_out} never-seen rows, {removed} \
                     removed rows and at least one retained row: remove at least one row, and \
                     hold out a never-seen share that leaves more than the removed rows for \
                     training"
                ),
            });
        }
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut ChaCha20Rng::seed_from_u64(seed));
        let sorted = |part: &[usize]| {
            let mut part = part.to_vec();
            part.sort_unstable();
            part
        };
        let trained = rows - held_out;
        let controls = if canaries {
            (held_out * removed).div_ceil(trained).min(held_out)
        } else {
            0
        };
        let never_seen = sorted(&order[controls..held_out]);
        Ok(Self {
            rows,
            canaries,
            controls: if canaries {
                sorted(&order[..controls])
            } else {
                never_seen.clone()
            },
            never_seen,
            removed: sorted(&order[held_out..held_out + removed]),
            retained: sorted(&order[held_out + removed..]),
        })
    }

    /// The share of the population the original model is trained on, |D|/|population|:
    /// the share of the shadow models each row is in ([`super::attack::train_shadows`]).
    pub fn inclusion(&self) -> f64 {
        (self.removed.len() + self.retained.len()) as f64 / self.rows as f64
    }
}

/// Gives each of `rows` a wrong label drawn uniformly from the other labels (the canaries
/// of the module docs). Only class labels can be wrong.
pub fn mislabel(data: &mut Dataset, rows: &[usize], seed: u64) -> Result<(), MembershipError> {
    let mut targets = data
        .targets()
        .cloned()
        .ok_or_else(|| MembershipError::Invalid("the population has no targets".into()))?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for &i in rows {
        let y = &mut targets.values[i];
        *y = match &targets.encoding {
            TargetEncoding::Binary { .. } => -*y,
            TargetEncoding::Multiclass { classes } => {
                let shift = rng.random_range(1..classes.len());
                ((*y as usize + shift) % classes.len()) as f64
            }
            TargetEncoding::Regression => {
                return Err(MembershipError::Setting {
                    setting: Setting::Canaries,
                    message: "canaries (the default) are mislabelled rows, which needs class \
                              labels: turn them off for a real-valued target"
                        .into(),
                });
            }
        };
    }
    data.set_targets(targets)
        .map_err(|e| MembershipError::Invalid(e.to_string()))
}
