//! The reproduction's plots, drawn with the report's helpers ([`crate::report`]): one or
//! two panels side by side, each a set of labelled lines on linear or log axes.

use super::experiments::{BoundTrace, Sweep, SweepPoint};
use crate::report::{
    Area, Axis, BLUE_, DrawResult, FONT, Figure, GREEN_, GREY_, ORANGE_, RED_, legend_at,
    line_with_points, log_range, mesh, positive, sci,
};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use unlearn::mechanism::Mechanism;

/// The colours of successive series.
const PALETTE: [RGBColor; 5] = [BLUE_, ORANGE_, GREEN_, RED_, RGBColor(148, 103, 189)];

/// A labelled line.
pub(crate) struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One chart.
pub(crate) struct Panel {
    title: String,
    x_desc: String,
    y_desc: String,
    x_log: bool,
    y_log: bool,
    series: Vec<Series>,
    /// A horizontal reference line and its label.
    hline: Option<(f64, String)>,
    /// Triangles marking events (retrainings), with their label.
    markers: Option<(String, Vec<(f64, f64)>)>,
    legend: SeriesLabelPosition,
    /// Extra room above the data on a log y axis, as a factor (the legend's place).
    y_headroom: f64,
}

/// Panels side by side.
pub(crate) struct Plot {
    panels: Vec<Panel>,
}

impl Figure for Plot {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        for (panel, area) in self.panels.iter().zip(&areas) {
            draw_panel(area, panel).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn plain(v: &f64) -> String {
    format!("{v:.0}")
}

fn two_decimals(v: &f64) -> String {
    format!("{v:.2}")
}

impl Panel {
    fn values(&self, pick: impl Fn(&(f64, f64)) -> f64) -> Vec<f64> {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().map(&pick))
            .chain(self.markers.iter().flat_map(|(_, m)| m.iter().map(&pick)))
            .filter(|v| v.is_finite())
            .collect()
    }

    fn x_range(&self) -> std::ops::Range<f64> {
        let xs = self.values(|p| p.0);
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            return 1.0..10.0;
        }
        if self.x_log {
            lo / 2.0..hi * 2.0
        } else {
            let pad = ((hi - lo) * 0.03).max(0.5);
            lo - pad..hi + pad
        }
    }

    fn y_range(&self) -> std::ops::Range<f64> {
        let ys = self.values(|p| p.1);
        if self.y_log {
            let r = log_range(ys.into_iter().chain(self.hline.as_ref().map(|h| h.0)));
            return r.start..r.end * self.y_headroom;
        }
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            return 0.0..1.0;
        }
        // Room below for the legend (accuracy panels put it in the lower left).
        let span = (hi - lo).max(0.1);
        lo - 0.6 * span..hi + 0.05 * span
    }
}

fn draw_panel<DB: DrawingBackend>(area: &Area<DB>, p: &Panel) -> DrawResult<DB> {
    let (x, y) = (p.x_range(), p.y_range());
    match (p.x_log, p.y_log) {
        (true, true) => chart_on(area, p, x.log_scale(), y.log_scale()),
        (true, false) => chart_on(area, p, x.log_scale(), y),
        (false, true) => chart_on(area, p, x, y.log_scale()),
        (false, false) => chart_on(area, p, x, y),
    }
}

fn chart_on<DB, X, Y>(area: &Area<DB>, p: &Panel, x: X, y: Y) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    let x_format: &dyn Fn(&f64) -> String = if p.x_log { &sci } else { &plain };
    let y_format: &dyn Fn(&f64) -> String = if p.y_log { &sci } else { &two_decimals };
    let x_axis = Axis {
        desc: &p.x_desc,
        labels: 8,
        format: x_format,
    };
    mesh(&mut chart, &x_axis, &p.y_desc, y_format)?;
    if let Some((level, label)) = &p.hline {
        let xs = chart.x_range();
        chart
            .draw_series(LineSeries::new(
                [(xs.start, *level), (xs.end, *level)],
                GREY_.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY_.stroke_width(2)));
    }
    for s in &p.series {
        let points = if p.y_log {
            positive(s.points.iter().copied())
        } else {
            s.points.clone()
        };
        line_with_points(&mut chart, &points, s.color, &s.label)?;
    }
    if let Some((label, points)) = &p.markers
        && !points.is_empty()
    {
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&pt| TriangleMarker::new(pt, 8, RED_.filled())),
            )?
            .label(label.as_str())
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, RED_.filled()));
    }
    legend_at(&mut chart, p.legend.clone())
}

/// The panel title of a mechanism in the sweep figures.
fn mechanism_title(m: Mechanism, what: &str) -> String {
    match m {
        Mechanism::Guo2020 => format!("guo2020 (objective noise σ): {what}"),
        Mechanism::OutputPerturbation => format!("output perturbation (release σ): {what}"),
    }
}

/// Distinct values of a sweep coordinate, in order of first appearance.
fn distinct(points: &[SweepPoint], pick: impl Fn(&SweepPoint) -> f64) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for p in points {
        let v = pick(p);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// What a sweep figure plots: `y` against `x`, one line per value of `group`.
struct SweepAxes {
    what: &'static str,
    x_desc: &'static str,
    y_desc: &'static str,
    x: fn(&SweepPoint) -> f64,
    group: fn(&SweepPoint) -> f64,
    group_name: &'static str,
    y: fn(&SweepPoint) -> f64,
    y_log: bool,
}

/// Two panels (guo2020, output perturbation) of a sweep.
fn sweep_plot(sweep: &Sweep, a: &SweepAxes) -> Plot {
    let groups = distinct(&sweep.points, a.group);
    let panels = [Mechanism::Guo2020, Mechanism::OutputPerturbation]
        .into_iter()
        .map(|m| {
            let points: Vec<&SweepPoint> =
                sweep.points.iter().filter(|p| p.mechanism == m).collect();
            Panel {
                title: mechanism_title(m, a.what),
                x_desc: a.x_desc.into(),
                y_desc: a.y_desc.into(),
                x_log: true,
                y_log: a.y_log,
                series: groups
                    .iter()
                    .enumerate()
                    .map(|(i, &g)| Series {
                        label: format!("{} = {g:.0e}", a.group_name),
                        color: PALETTE[i % PALETTE.len()],
                        points: points
                            .iter()
                            .filter(|p| (a.group)(p) == g)
                            .map(|p| ((a.x)(p), (a.y)(p)))
                            .collect(),
                    })
                    .collect(),
                hline: None,
                markers: None,
                legend: if a.y_log {
                    SeriesLabelPosition::UpperLeft
                } else {
                    SeriesLabelPosition::LowerLeft
                },
                y_headroom: 1.0,
            }
        })
        .collect();
    Plot { panels }
}

/// Test accuracy against σ, one line per λ.
pub(crate) fn accuracy_against_sigma(sweep: &Sweep) -> Plot {
    sweep_plot(
        sweep,
        &SweepAxes {
            what: "accuracy",
            x_desc: "σ (log scale)",
            y_desc: "test accuracy",
            x: |p| p.sigma,
            group: |p| p.lambda,
            group_name: "λ",
            y: |p| p.test_accuracy,
            y_log: false,
        },
    )
}

/// Test accuracy against λ, one line per σ.
pub(crate) fn accuracy_against_lambda(sweep: &Sweep) -> Plot {
    sweep_plot(
        sweep,
        &SweepAxes {
            what: "accuracy",
            x_desc: "per-sample λ (log scale)",
            y_desc: "test accuracy",
            x: |p| p.lambda,
            group: |p| p.sigma,
            group_name: "σ",
            y: |p| p.test_accuracy,
            y_log: false,
        },
    )
}

/// Removals supported per retraining against σ, one line per λ.
pub(crate) fn removals_against_sigma(sweep: &Sweep) -> Plot {
    sweep_plot(
        sweep,
        &SweepAxes {
            what: "removals",
            x_desc: "σ (log scale)",
            y_desc: "removals per retraining (log)",
            x: |p| p.sigma,
            group: |p| p.lambda,
            group_name: "λ",
            y: |p| p.supported_removals,
            y_log: true,
        },
    )
}

/// Worst-case and data-dependent bounds, exact residual and Guo et al.'s summed charge
/// against the number of removals, with the budget and the retrainings.
pub(crate) fn bounds_against_removals(trace: &BoundTrace) -> Plot {
    let at = |f: fn(&super::experiments::TraceStep) -> Option<f64>| -> Vec<(f64, f64)> {
        trace
            .steps
            .iter()
            .filter_map(|s| f(s).map(|v| (s.removals as f64, v)))
            .collect()
    };
    let series = vec![
        Series {
            label: "worst-case bound (per step)".into(),
            color: RED_,
            points: at(|s| s.worst_case),
        },
        Series {
            label: "summed data-dependent bound (charged)".into(),
            color: BLUE_,
            points: at(|s| Some(s.budget_used)),
        },
        Series {
            label: "data-dependent bound (per step)".into(),
            color: ORANGE_,
            points: at(|s| Some(s.data_dependent)),
        },
        Series {
            label: "true residual ‖∇L_b‖".into(),
            color: GREEN_,
            points: at(|s| Some(s.exact_residual)),
        },
    ];
    let retrained: Vec<(f64, f64)> = trace
        .steps
        .iter()
        .filter(|s| s.retrained)
        .map(|s| (s.removals as f64, s.budget_used.max(f64::MIN_POSITIVE)))
        .collect();
    Plot {
        panels: vec![Panel {
            title: format!(
                "{}: gradient residual bounds, guo2020, λ = {:.0e}, σ = {}",
                trace.title, trace.lambda, trace.sigma
            ),
            x_desc: "removals (one at a time)".into(),
            y_desc: "gradient residual norm (log)".into(),
            x_log: false,
            y_log: true,
            series,
            hline: Some((trace.budget, format!("budget σε/c = {:.3}", trace.budget))),
            markers: Some((format!("retrained ({})", retrained.len()), retrained)),
            legend: SeriesLabelPosition::UpperRight,
            // Six legend rows: two more decades above the worst-case line.
            y_headroom: 100.0,
        }],
    }
}
