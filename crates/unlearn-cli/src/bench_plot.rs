//! The figures of `unlearn bench`, drawn with the report's helpers (SVG and PNG, embedded
//! font, atomic writes: [`crate::report`]):
//! - per-removal latency and budget used against the number of removals, one figure per
//!   model family, retrainings marked;
//! - the training-time curve over n with its least-squares line, and its CSV.

use crate::report::{
    Area, Axis, BLUE_, DrawResult, FONT, Figure, GREY_, ORANGE_, RED_, ReportError, figure_png,
    figure_svg, legend_at, line_with_points, log_range, mesh, sci, step_label,
};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use unlearn::bench::{BenchReport, RemovalPoint, TrainingCurve};
use unlearn::loss::LossKind;
use unlearn::store::write_atomic;

/// Size of the two-panel removal figure, in pixels.
const REMOVAL_FIGURE_SIZE: (u32, u32) = (960, 760);

/// The file stem of a family's removal figure: `removals-logistic` or `removals-ridge`.
pub fn removal_plot_stem(loss: LossKind) -> &'static str {
    match loss {
        LossKind::Logistic => "removals-logistic",
        LossKind::Squared => "removals-ridge",
    }
}

/// Creates `dir` (and its parents) if needed.
fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `figure` as `dir/stem.svg` and `dir/stem.png`, each atomically; returns the paths.
fn write_figure(dir: &Path, stem: &str, figure: &impl Figure) -> Result<Vec<PathBuf>, ReportError> {
    let svg = dir.join(format!("{stem}.svg"));
    write_atomic(&svg, figure_svg(figure, stem)?.as_bytes())?;
    let png = dir.join(format!("{stem}.png"));
    write_atomic(&png, &figure_png(figure, stem)?)?;
    Ok(vec![svg, png])
}

/// Writes the per-removal figure of `report` as `dir/removals-{logistic,ridge}.{svg,png}`,
/// creating `dir` if needed; returns the paths.
pub fn write_removal_plot(dir: &Path, report: &BenchReport) -> Result<Vec<PathBuf>, ReportError> {
    create_dir(dir)?;
    write_figure(dir, removal_plot_stem(report.loss), &RemovalFigure(report))
}

/// Writes the training curve as `dir/training_curve.csv` (n, d, seconds, seconds per row,
/// Newton iterations, peak RSS, data bytes) and `dir/training_curve.{svg,png}`, creating `dir` if
/// needed; returns the paths.
pub fn write_curve_plot(dir: &Path, curve: &TrainingCurve) -> Result<Vec<PathBuf>, ReportError> {
    create_dir(dir)?;
    let mut csv = String::from(
        "n,d,train_seconds,seconds_per_row,newton_iterations,peak_rss_bytes,data_bytes\n",
    );
    for p in &curve.points {
        let rss = p.peak_rss_bytes.map_or(String::new(), |b| b.to_string());
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{rss},{}",
            p.n, p.d, p.train_seconds, p.seconds_per_row, p.newton_iterations, p.data_bytes
        );
    }
    let path = dir.join("training_curve.csv");
    write_atomic(&path, csv.as_bytes())?;
    let mut files = vec![path];
    files.extend(write_figure(dir, "training_curve", &CurveFigure(curve))?);
    Ok(files)
}

/// Two panels over the removals: latency (log scale, with the retraining time for
/// comparison) and budget used (log scale, with the budget).
struct RemovalFigure<'a>(&'a BenchReport);

impl Figure for RemovalFigure<'_> {
    fn size(&self) -> (u32, u32) {
        REMOVAL_FIGURE_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let r = self.0;
        let family = match r.loss {
            LossKind::Logistic => "logistic",
            LossKind::Squared => "ridge",
        };
        let title = format!(
            "unlearn bench, {family} ({}), n = {}, d = {}: per removal",
            r.mechanism, r.n, r.d
        );
        let body = root.titled(&title, (FONT, 22)).map_err(|e| e.to_string())?;
        let (top, bottom) = body.split_vertically(REMOVAL_FIGURE_SIZE.1 / 2 - 20);
        draw_latency(r, &top).map_err(|e| e.to_string())?;
        draw_budget_used(r, &bottom).map_err(|e| e.to_string())
    }
}

/// The x range of the removals 1..=K, with half a removal of margin.
fn removal_range(series: &[RemovalPoint]) -> std::ops::Range<f64> {
    0.5..series.len().max(1) as f64 + 0.5
}

/// The x axis of the removal panels.
fn removal_axis(series: &[RemovalPoint]) -> Axis<'static> {
    Axis {
        desc: "removals served",
        labels: series.len().clamp(2, 11),
        format: &step_label,
    }
}

/// Red triangles at the retraining removals, at `y` of each.
fn mark_retrainings<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[RemovalPoint],
    y: impl Fn(&RemovalPoint) -> f64,
) -> DrawResult<DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let marks: Vec<(f64, f64)> = series
        .iter()
        .filter(|p| p.retrained)
        .map(|p| (p.removal as f64, y(p)))
        .collect();
    if !marks.is_empty() {
        chart
            .draw_series(
                marks
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 9, RED_.filled())),
            )?
            .label(format!("retrained ({})", marks.len()))
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, RED_.filled()));
    }
    Ok(())
}

/// A labelled horizontal line at `y` across `x`.
fn horizontal<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    x: &std::ops::Range<f64>,
    y: f64,
    label: String,
) -> DrawResult<DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(
            [(x.start, y), (x.end, y)],
            GREY_.stroke_width(2),
        ))?
        .label(label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY_.stroke_width(2)));
    Ok(())
}

fn draw_latency<DB: DrawingBackend>(r: &BenchReport, area: &Area<DB>) -> DrawResult<DB> {
    let points: Vec<(f64, f64)> = r
        .series
        .iter()
        .map(|p| (p.removal as f64, p.seconds))
        .collect();
    let y = log_range(points.iter().map(|p| p.1).chain([r.retrain_seconds]));
    let x = removal_range(&r.series);
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), y.log_scale())?;
    mesh(
        &mut chart,
        &removal_axis(&r.series),
        "seconds (log scale)",
        &sci,
    )?;
    horizontal(
        &mut chart,
        &x,
        r.retrain_seconds,
        format!("retrain from scratch: {:.2e} s", r.retrain_seconds),
    )?;
    line_with_points(
        &mut chart,
        &points,
        BLUE_,
        &format!(
            "removal latency (median {:.2e} s, p95 {:.2e} s)",
            r.removal_seconds_median, r.removal_seconds_p95
        ),
    )?;
    mark_retrainings(&mut chart, &r.series, |p| p.seconds)?;
    legend_at(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_budget_used<DB: DrawingBackend>(r: &BenchReport, area: &Area<DB>) -> DrawResult<DB> {
    let points: Vec<(f64, f64)> = r
        .series
        .iter()
        .map(|p| (p.removal as f64, p.budget_used_fraction))
        .filter(|p| p.1.is_finite() && p.1 > 0.0)
        .collect();
    let y = log_range(points.iter().map(|p| p.1).chain([1.0]));
    let x = removal_range(&r.series);
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), y.clone().log_scale())?;
    mesh(
        &mut chart,
        &removal_axis(&r.series),
        "budget used / budget (log scale)",
        &sci,
    )?;
    horizontal(
        &mut chart,
        &x,
        1.0,
        format!("all of the budget ({:.2e})", r.budget),
    )?;
    line_with_points(
        &mut chart,
        &points,
        ORANGE_,
        "budget used after the removal",
    )?;
    mark_retrainings(&mut chart, &r.series, |p| {
        if p.budget_used_fraction > 0.0 {
            p.budget_used_fraction
        } else {
            y.start * 1.2
        }
    })?;
    legend_at(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Training seconds against n on log-log axes, with the fitted line a + b·n.
struct CurveFigure<'a>(&'a TrainingCurve);

impl Figure for CurveFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        draw_curve(self.0, root).map_err(|e| e.to_string())
    }
}

fn draw_curve<DB: DrawingBackend>(c: &TrainingCurve, root: &Area<DB>) -> DrawResult<DB> {
    let points: Vec<(f64, f64)> = c
        .points
        .iter()
        .map(|p| (p.n as f64, p.train_seconds))
        .collect();
    let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo, hi)
    } else {
        (1.0, 10.0)
    };
    let x = lo / 1.5..hi * 1.5;
    let fit = c.fit;
    let line: Vec<(f64, f64)> = (0..=60)
        .map(|i| {
            let n = x.start * (x.end / x.start).powf(i as f64 / 60.0);
            (n, fit.intercept_seconds + fit.seconds_per_row * n)
        })
        .filter(|p| p.1 > 0.0)
        .collect();
    let y = log_range(points.iter().chain(&line).map(|p| p.1));
    let d = c.points.first().map_or(0, |p| p.d);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("Training time against n ({}, d = {d})", c.loss),
            (FONT, 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x.log_scale(), y.log_scale())?;
    mesh(
        &mut chart,
        &Axis {
            desc: "training rows n (log scale)",
            labels: 10,
            format: &sci,
        },
        "seconds (log scale)",
        &sci,
    )?;
    chart
        .draw_series(LineSeries::new(line, GREY_.stroke_width(2)))?
        .label(format!(
            "least squares: {:.3} s + {:.3e} s·n (R² = {:.4})",
            fit.intercept_seconds, fit.seconds_per_row, fit.r_squared
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY_.stroke_width(2)));
    line_with_points(&mut chart, &points, BLUE_, "measured (model::train)")?;
    legend_at(&mut chart, SeriesLabelPosition::UpperRight)
}
