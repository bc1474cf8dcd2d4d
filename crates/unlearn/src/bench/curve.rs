//! The training-time curve: train at several n (same d, seed and hyperparameters) and fit
//! time = a + b·n by least squares, to show that training grows linearly in n.
//!
//! Each Newton iteration is a constant number of passes over the n·d rows plus O(d³) for
//! the step, so the time is linear in n as long as the iteration count stays flat; the
//! curve records the iterations next to the time so that a bend can be told apart from a
//! change in iterations.

use super::{
    BenchProgress, BenchSpec, bench_data, hyperparameters, peak_rss_bytes, reset_peak_rss,
    training_data,
};
use crate::loss::LossKind;
use crate::model;
use crate::noise::NoiseKey;
use serde::Serialize;
use std::time::Instant;

/// One size of the curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Training rows.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Seconds of `model::train` (solve, row-norm bound, first release; not the data
    /// generation).
    pub train_seconds: f64,
    /// train_seconds / n: flat over n when training is linear in n.
    pub seconds_per_row: f64,
    /// Newton iterations of the solve.
    pub newton_iterations: usize,
    /// Peak resident memory while generating and training at this size (see
    /// [`super::BenchReport::peak_rss_bytes`]).
    pub peak_rss_bytes: Option<u64>,
    /// The f64 size of the rows, 8·n·d bytes.
    pub data_bytes: u64,
}

/// The least-squares line time = intercept + slope·n.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearFit {
    /// b: seconds per training row.
    pub seconds_per_row: f64,
    /// a: seconds at n = 0.
    pub intercept_seconds: f64,
    /// Coefficient of determination R² of the fit (1 = on the line).
    pub r_squared: f64,
}

/// The curve and its fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingCurve {
    /// The loss trained.
    pub loss: LossKind,
    /// One point per size, in the order given.
    pub points: Vec<CurvePoint>,
    /// time = a + b·n over the points.
    pub fit: LinearFit,
}

/// Trains at each of `sizes` rows (d, λ, noise, mechanism and seed from `spec`; no test
/// set, no removals) and fits the times.
pub fn training_curve(
    spec: &BenchSpec,
    loss: LossKind,
    sizes: &[usize],
    progress: &mut dyn FnMut(BenchProgress),
) -> Result<TrainingCurve, Box<dyn std::error::Error>> {
    let hyper = hyperparameters(spec, loss)?;
    let mut points = Vec::with_capacity(sizes.len());
    for (k, &n) in sizes.iter().enumerate() {
        progress(BenchProgress::Curve {
            done: k,
            total: sizes.len(),
        });
        reset_peak_rss();
        let at = BenchSpec {
            rows: n,
            test_rows: 0,
            ..*spec
        };
        let (train, _) = bench_data(&at, loss);
        let started = Instant::now();
        let trained = model::train(training_data(train), &hyper, NoiseKey::from_seed(spec.seed))?;
        let train_seconds = started.elapsed().as_secs_f64();
        points.push(CurvePoint {
            n,
            d: spec.features,
            train_seconds,
            seconds_per_row: train_seconds / n as f64,
            newton_iterations: trained.secret.training.iter().map(|r| r.iterations).sum(),
            peak_rss_bytes: peak_rss_bytes(),
            data_bytes: (8 * n * spec.features) as u64,
        });
    }
    progress(BenchProgress::Curve {
        done: sizes.len(),
        total: sizes.len(),
    });
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.n as f64, p.train_seconds))
        .collect();
    Ok(TrainingCurve {
        loss,
        points,
        fit: least_squares(&xy),
    })
}

/// Ordinary least squares y = a + b·x: b = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², a = ȳ − b·x̄,
/// R² = 1 − Σ(y − a − b·x)² / Σ(y − ȳ)². NaN where undefined (fewer than two distinct x).
pub fn least_squares(xy: &[(f64, f64)]) -> LinearFit {
    let m = xy.len() as f64;
    let x_mean = xy.iter().map(|p| p.0).sum::<f64>() / m;
    let y_mean = xy.iter().map(|p| p.1).sum::<f64>() / m;
    let sxx: f64 = xy.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let sse: f64 = xy
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let sst: f64 = xy.iter().map(|p| (p.1 - y_mean).powi(2)).sum();
    LinearFit {
        seconds_per_row: slope,
        intercept_seconds: intercept,
        r_squared: 1.0 - sse / sst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on an exact line are fitted exactly (up to rounding of a few ulps of the
    /// sums), with R² = 1.
    #[test]
    fn least_squares_recovers_a_line() {
        let xy: Vec<(f64, f64)> = [1e4, 3e4, 1e5, 3e5, 1e6]
            .iter()
            .map(|&x| (x, 0.02 + 3e-7 * x))
            .collect();
        let fit = least_squares(&xy);
        assert!((fit.seconds_per_row - 3e-7).abs() < 1e-18, "{fit:?}");
        assert!((fit.intercept_seconds - 0.02).abs() < 1e-12, "{fit:?}");
        assert!((fit.r_squared - 1.0).abs() < 1e-12, "{fit:?}");
    }

    /// A known three-point fit: (0, 0), (1, 1), (2, 0) gives slope 0, intercept 1/3 and
    /// R² = 0 (the line explains none of the variance).
    #[test]
    fn least_squares_of_a_tent() {
        let fit = least_squares(&[(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]);
        assert!(fit.seconds_per_row.abs() < 1e-15);
        assert!((fit.intercept_seconds - 1.0 / 3.0).abs() < 1e-15);
        assert!(fit.r_squared.abs() < 1e-15);
    }
}
