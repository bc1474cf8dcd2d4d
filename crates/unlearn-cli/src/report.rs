//! `unlearn report`: plots and a Markdown summary of a store's ledger.
//!
//! Everything here is read from the ledger (the certificates), never from the secret rows:
//! per step the budget charged, the step's residual bound, the exact and data-dependent
//! residuals per class model, and the rows left. The numbers are data-dependent, so the
//! report is for the operator, not for publication.
//!
//! Plots are drawn with `plotters` twice from the same code: as SVG (text as `<text>`
//! elements) and as PNG (an in-memory RGB bitmap, text rasterised with DejaVu Sans embedded
//! from the `dejavu` crate, encoded with `png`). Every file is written with
//! [`write_atomic`].

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use unlearn::certificate::{Certificate, EntryKind, Ledger};
use unlearn::mechanism::Mechanism;
use unlearn::store::{StoreError, write_atomic};

/// Width and height of every plot, in pixels.
pub const PLOT_SIZE: (u32, u32) = (960, 540);

/// How many of the newest steps the Markdown table lists.
pub const TABLE_STEPS: usize = 20;

/// The font family every plot uses (registered once with the embedded DejaVu Sans).
pub(crate) const FONT: &str = "sans-serif";

/// Errors writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ledger has no entries.
    #[error("the ledger is empty: nothing to report")]
    EmptyLedger,
    /// The output directory cannot be created.
    #[error("{path}: cannot create the report directory: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] StoreError),
    /// Drawing or encoding a plot failed.
    #[error("{file}: cannot draw the plot: {reason}")]
    Plot {
        /// The plot's file name.
        file: String,
        /// What went wrong.
        reason: String,
    },
}

/// One ledger step, as the report uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    /// Ledger position (0 = training).
    pub step: u64,
    /// Training or removal.
    pub kind: EntryKind,
    /// How many rows the step removed (the ledger records keyed tags, not ids).
    pub removed_rows: usize,
    /// Whether the published weights after the step are certified.
    pub certified: bool,
    /// Whether the step retrained.
    pub retrained: bool,
    /// Budget used after the step.
    pub budget_used: f64,
    /// The step's residual bound as charged to the budget.
    pub residual_bound: f64,
    /// Max over class models of the exact residual (none if not recorded).
    pub exact_residual_max: Option<f64>,
    /// Max over class models of the data-dependent bound (none if not recorded, as for
    /// the training run).
    pub data_dependent_max: Option<f64>,
    /// Rows left after the step.
    pub rows_after: usize,
}

impl StepRow {
    /// The row of one certificate.
    pub fn of(c: &Certificate) -> Self {
        Self {
            step: c.step,
            kind: c.kind,
            removed_rows: c.removed_id_tags.len(),
            certified: c.certified,
            retrained: c.retrained,
            budget_used: c.budget_used,
            residual_bound: c.residual_bound,
            exact_residual_max: max_of(&c.bounds.exact_residual),
            data_dependent_max: max_of(&c.bounds.data_dependent),
            rows_after: c.rows_after,
        }
    }

    /// A retraining removal step.
    pub fn is_retraining(&self) -> bool {
        self.kind == EntryKind::Removal && self.retrained
    }
}

fn max_of(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::max)
}

/// The summary numbers of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSummary {
    /// The store the ledger was read from.
    pub store: PathBuf,
    /// The removal mechanism (of the newest entry).
    pub mechanism: String,
    /// ε of the guarantee, if a privacy target was set.
    pub epsilon: Option<f64>,
    /// δ of the guarantee, if a privacy target was set.
    pub delta: Option<f64>,
    /// The noise scale σ (or 1/α for Gamma-norm noise).
    pub sigma: f64,
    /// The budget, if one was set.
    pub budget: Option<f64>,
    /// The budget's unit.
    pub budget_unit: String,
    /// Budget used after the newest step.
    pub budget_used: f64,
    /// Ledger entries (training included).
    pub steps: usize,
    /// Removal steps.
    pub removals: usize,
    /// Rows removed over all steps.
    pub removed_rows: usize,
    /// Removal steps that retrained.
    pub retrainings: usize,
    /// Ledger entries whose published weights are certified.
    pub certified_steps: usize,
    /// Whether the newest published weights are certified.
    pub certified: bool,
    /// Rows left after the newest step.
    pub rows: usize,
}

impl ReportSummary {
    /// The summary of a non-empty ledger read from `store`.
    pub fn of(ledger: &Ledger, store: &Path) -> Result<Self, ReportError> {
        let last = ledger.last().ok_or(ReportError::EmptyLedger)?;
        Ok(Self {
            store: store.to_path_buf(),
            mechanism: last.mechanism.to_string(),
            epsilon: last.epsilon,
            delta: last.delta,
            sigma: last.sigma,
            budget: last.budget,
            budget_unit: last.budget_unit.to_string(),
            budget_used: last.budget_used,
            steps: ledger.entries.len(),
            removals: ledger.removals(),
            removed_rows: ledger.entries.iter().map(|e| e.removed_id_tags.len()).sum(),
            retrainings: ledger.retrainings(),
            certified_steps: ledger.entries.iter().filter(|e| e.certified).count(),
            certified: last.certified,
            rows: last.rows_after,
        })
    }
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The report directory.
    pub dir: PathBuf,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
    /// The summary numbers.
    pub summary: ReportSummary,
}

/// The plots of a report: file stem and title.
pub const PLOTS: [&str; 3] = ["budget", "residuals", "rows"];

/// Writes the report of `ledger` (read from the store at `store`) into `dir`, creating it
/// if needed: `budget`, `residuals` and `rows` plots as SVG and PNG, then `report.md`.
pub fn write_report(ledger: &Ledger, store: &Path, dir: &Path) -> Result<Report, ReportError> {
    let summary = ReportSummary::of(ledger, store)?;
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    // Operator-only, like the ledger it is drawn from: 0700 directory, 0600 files.
    unlearn::store::restrict_permissions(dir)?;
    let rows: Vec<StepRow> = ledger.entries.iter().map(StepRow::of).collect();
    let mut files = Vec::new();
    for name in PLOTS {
        let title = plot_title(name, &summary);
        for (ext, bytes) in [
            (
                "svg",
                render_svg(name, &title, &rows, &summary)?.into_bytes(),
            ),
            ("png", render_png(name, &title, &rows, &summary)?),
        ] {
            let path = dir.join(format!("{name}.{ext}"));
            write_atomic(&path, &bytes)?;
            files.push(path);
        }
    }
    let path = dir.join("report.md");
    write_atomic(&path, markdown(&summary, &rows).as_bytes())?;
    files.push(path);
    Ok(Report {
        dir: dir.to_path_buf(),
        files,
        summary,
    })
}

/// The title of a plot.
pub fn plot_title(name: &str, s: &ReportSummary) -> String {
    match name {
        "budget" => format!(
            "Budget used per step ({}, unit: {})",
            s.mechanism, s.budget_unit
        ),
        "residuals" => format!(
            "Residuals per step ({}): exact vs data-dependent",
            s.mechanism
        ),
        _ => format!("Rows left per step ({})", s.mechanism),
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.3e}"))
}

fn fmt_plain(v: Option<f64>) -> String {
    v.map_or("none".to_string(), |v| v.to_string())
}

fn removed_cell(row: &StepRow) -> String {
    match row.kind {
        EntryKind::Training => "(training)".into(),
        EntryKind::Release => "(release)".into(),
        EntryKind::Reconciliation => "(restore reconciled)".into(),
        EntryKind::Removal => row.removed_rows.to_string(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The Markdown summary.
pub fn markdown(s: &ReportSummary, rows: &[StepRow]) -> String {
    let mut md = String::new();
    let mut line = |l: String| {
        md.push_str(&l);
        md.push('\n');
    };
    line("# Unlearning report".into());
    line(String::new());
    line(
        "> **Operator only.** Every number below comes from the store's ledger \
         (the ledger table of `unlearn.db`). The residuals and budget charges are data-dependent: \
         they describe the secret rows, so do not publish this report or its plots."
            .into(),
    );
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    line(format!("| store | `{}` |", s.store.display()));
    line(format!("| mechanism | {} |", s.mechanism));
    line(format!("| ε | {} |", fmt_plain(s.epsilon)));
    line(format!("| δ | {} |", fmt_plain(s.delta)));
    line(format!("| σ (noise scale) | {:.6e} |", s.sigma));
    line(format!(
        "| budget | {} ({}) |",
        s.budget.map_or("none".into(), |b| format!("{b:.3e}")),
        s.budget_unit
    ));
    line(format!("| budget used now | {:.3e} |", s.budget_used));
    line(format!("| rows left | {} |", s.rows));
    line(format!(
        "| removals | {} steps, {} rows |",
        s.removals, s.removed_rows
    ));
    line(format!("| retrainings | {} |", s.retrainings));
    line(format!(
        "| certified | {} of {} ledger entries; newest: {} |",
        s.certified_steps,
        s.steps,
        yes_no(s.certified)
    ));
    line(String::new());
    line("## Plots".into());
    line(String::new());
    line(
        "Log-scale plots leave out values that are zero (a log axis cannot show them). \
         PNG text is drawn with DejaVu Sans (Bitstream Vera licence), embedded in the binary."
            .into(),
    );
    line(String::new());
    for name in PLOTS {
        let caption = match name {
            "budget" => format!(
                "Budget used after each step and the step's residual bound (log scale, unit: \
                 {}); the horizontal line is the total budget, triangles mark retrainings{}",
                s.budget_unit,
                if s.mechanism == Mechanism::OutputPerturbation.to_string() {
                    " (under output perturbation the bound charged is the budget used, so \
                     the two lines coincide)"
                } else {
                    ""
                }
            ),
            "residuals" => "Max over class models of the exact residual ‖∇L_b‖ and of the \
                 data-dependent bound (log scale)"
                .to_string(),
            _ => "Rows left after each step".to_string(),
        };
        line(format!("![{caption}]({name}.png)"));
        line(String::new());
        line(format!("{caption} ([SVG]({name}.svg))."));
        line(String::new());
    }
    line(
        "Per-removal latency is not recorded in the ledger; latency plots come from \
         `unlearn bench`."
            .into(),
    );
    line(String::new());
    let first = rows.len().saturating_sub(TABLE_STEPS);
    line(format!(
        "## Last {} of {} steps",
        rows.len() - first,
        rows.len()
    ));
    line(String::new());
    line(
        "| step | rows removed | certified | retrained | budget used | exact residual (max) | data-dependent (max) |"
            .into(),
    );
    line("|---:|---|---|---|---:|---:|---:|".into());
    for r in &rows[first..] {
        line(format!(
            "| {} | {} | {} | {} | {:.3e} | {} | {} |",
            r.step,
            removed_cell(r),
            yes_no(r.certified),
            yes_no(r.is_retraining()),
            r.budget_used,
            fmt_opt(r.exact_residual_max),
            fmt_opt(r.data_dependent_max),
        ));
    }
    md
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The embedded DejaVu Sans is a valid TrueType font; a failure would only lose text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A plot that can draw itself on any plotters backend, so that one drawing routine gives
/// both the SVG and the PNG ([`figure_svg`], [`figure_png`]).
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        PLOT_SIZE
    }

    /// Draws the plot on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String>;
}

/// Draws `figure` as an SVG document; `file` names the plot in errors.
pub(crate) fn figure_svg(figure: &impl Figure, file: &str) -> Result<String, ReportError> {
    register_font();
    let mut svg = String::new();
    paint(
        figure,
        SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area(),
        file,
        "svg",
    )?;
    Ok(svg)
}

/// White background, the figure, and the backend flushed; errors name `file` and `format`.
fn paint<DB: DrawingBackend>(
    figure: &impl Figure,
    root: Area<DB>,
    file: &str,
    format: &str,
) -> Result<(), ReportError> {
    root.fill(&WHITE)
        .map_err(|e| plot_error(file, format, e.to_string()))?;
    figure
        .draw(&root)
        .map_err(|reason| plot_error(file, format, reason))?;
    root.present()
        .map_err(|e| plot_error(file, format, e.to_string()))
}

/// Draws `figure` as a PNG image (text rasterised with the embedded font).
pub(crate) fn figure_png(figure: &impl Figure, file: &str) -> Result<Vec<u8>, ReportError> {
    register_font();
    let (w, h) = figure.size();
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    paint(
        figure,
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        file,
        "png",
    )?;
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| plot_error(file, "png", e.to_string()))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| plot_error(file, "png", e.to_string()))?;
    writer
        .finish()
        .map_err(|e| plot_error(file, "png", e.to_string()))?;
    Ok(png_bytes)
}

/// One of the ledger plots, as a [`Figure`].
struct LedgerPlot<'a> {
    name: &'a str,
    title: &'a str,
    rows: &'a [StepRow],
    summary: &'a ReportSummary,
}

impl Figure for LedgerPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        draw(self.name, self.title, self.rows, self.summary, root)
    }
}

/// Draws plot `name` as an SVG document.
pub fn render_svg(
    name: &str,
    title: &str,
    rows: &[StepRow],
    s: &ReportSummary,
) -> Result<String, ReportError> {
    let plot = LedgerPlot {
        name,
        title,
        rows,
        summary: s,
    };
    figure_svg(&plot, name)
}

/// Draws plot `name` as a PNG image.
pub fn render_png(
    name: &str,
    title: &str,
    rows: &[StepRow],
    s: &ReportSummary,
) -> Result<Vec<u8>, ReportError> {
    let plot = LedgerPlot {
        name,
        title,
        rows,
        summary: s,
    };
    figure_png(&plot, name)
}

fn plot_error(name: &str, ext: &str, reason: String) -> ReportError {
    ReportError::Plot {
        file: format!("{name}.{ext}"),
        reason,
    }
}

pub(crate) type Area<DB> = DrawingArea<DB, Shift>;

fn draw<DB: DrawingBackend>(
    name: &str,
    title: &str,
    rows: &[StepRow],
    s: &ReportSummary,
    root: &Area<DB>,
) -> Result<(), String> {
    let result = match name {
        "budget" => draw_budget(title, rows, s, root),
        "residuals" => draw_residuals(title, rows, root),
        _ => draw_rows(title, rows, root),
    };
    result.map_err(|e| e.to_string())
}

pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The x range of the steps, with half a step of margin.
fn x_range(rows: &[StepRow]) -> std::ops::Range<f64> {
    let last = rows.last().map_or(0, |r| r.step) as f64;
    -0.5..last.max(1.0) + 0.5
}

/// A log-scale y range covering the positive values, padded by a factor below and by two
/// decades above (room for the legend in the upper right corner).
pub(crate) fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 1e-3..1.0;
    }
    let (lo, hi) = if lo == hi {
        (lo / 10.0, hi * 10.0)
    } else {
        (lo, hi)
    };
    // The legend takes about a quarter of the plot's height: leave that many decades free.
    let span = (hi / lo).log10() + 0.5;
    let headroom = (span / 3.0).max(1.0) + 0.3;
    lo / 3.0..hi * 10f64.powf(headroom)
}

pub(crate) fn positive(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points.filter(|(_, y)| y.is_finite() && *y > 0.0).collect()
}

pub(crate) fn sci(v: &f64) -> String {
    format!("{v:.0e}")
}

pub(crate) fn step_label(v: &f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

pub(crate) const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE_: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED_: RGBColor = RGBColor(214, 39, 40);
pub(crate) const GREY_: RGBColor = RGBColor(90, 90, 90);

fn x_labels(rows: &[StepRow]) -> usize {
    rows.len().clamp(2, 21)
}

fn draw_budget<DB: DrawingBackend>(
    title: &str,
    rows: &[StepRow],
    s: &ReportSummary,
    root: &Area<DB>,
) -> DrawResult<DB> {
    let used = positive(rows.iter().map(|r| (r.step as f64, r.budget_used)));
    let bound = positive(rows.iter().map(|r| (r.step as f64, r.residual_bound)));
    let y = log_range(used.iter().chain(&bound).map(|p| p.1).chain(s.budget));
    let x = x_range(rows);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), y.clone().log_scale())?;
    draw_axes(&mut chart, rows, s.budget_unit.as_str(), &sci)?;
    if let Some(budget) = s.budget {
        chart
            .draw_series(LineSeries::new(
                [(x.start, budget), (x.end, budget)],
                GREY_.stroke_width(2),
            ))?
            .label(format!("total budget {budget:.2e}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY_.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(bound.clone(), ORANGE_.stroke_width(2)))?
        .label("this step's residual bound")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], ORANGE_.stroke_width(2)));
    chart.draw_series(
        bound
            .iter()
            .map(|&p| Cross::new(p, 5, ORANGE_.stroke_width(2))),
    )?;
    line_with_points(&mut chart, &used, BLUE_, "budget used (charged)")?;
    // Retrainings: a triangle at the budget used after the step (at the bottom of the axis
    // when that is zero).
    let retrained: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.is_retraining())
        .map(|r| {
            let y_at = if r.budget_used > 0.0 {
                r.budget_used
            } else {
                y.start * 1.2
            };
            (r.step as f64, y_at)
        })
        .collect();
    if !retrained.is_empty() {
        chart
            .draw_series(
                retrained
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 9, RED_.filled())),
            )?
            .label(format!("retrained ({})", retrained.len()))
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, RED_.filled()));
    }
    legend(&mut chart)
}

/// The mesh of every ledger plot: removal steps on x, `y_desc` with `y_format` on y.
fn draw_axes<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    rows: &[StepRow],
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> DrawResult<DB>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let x_axis = Axis {
        desc: "removal step (0 = training)",
        labels: x_labels(rows),
        format: &step_label,
    };
    mesh(chart, &x_axis, y_desc, y_format)
}

/// How one axis of a [`mesh`] is labelled.
pub(crate) struct Axis<'f> {
    /// The axis description.
    pub desc: &'f str,
    /// About how many tick labels to draw.
    pub labels: usize,
    /// How a tick value is written.
    pub format: &'f dyn Fn(&f64) -> String,
}

/// The mesh (grid, ticks, axis descriptions) every plot shares: `x` as given, y with
/// `y_desc` and `y_format`.
pub(crate) fn mesh<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    x: &Axis<'_>,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> DrawResult<DB>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x.desc)
        .y_desc(y_desc)
        .x_labels(x.labels)
        .x_label_formatter(x.format)
        .y_label_formatter(y_format)
        .light_line_style(RGBColor(238, 238, 238))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
}

/// A labelled line through `points`, with a dot at each point.
pub(crate) fn line_with_points<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    color: RGBColor,
    label: &str,
) -> DrawResult<DB>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(points.to_vec(), color.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> DrawResult<DB> {
    legend_at(chart, SeriesLabelPosition::UpperRight)
}

/// The legend of the labelled series, boxed, at `position`.
pub(crate) fn legend_at<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}

fn draw_residuals<DB: DrawingBackend>(
    title: &str,
    rows: &[StepRow],
    root: &Area<DB>,
) -> DrawResult<DB> {
    let exact = positive(
        rows.iter()
            .filter_map(|r| r.exact_residual_max.map(|v| (r.step as f64, v))),
    );
    let dd = positive(
        rows.iter()
            .filter_map(|r| r.data_dependent_max.map(|v| (r.step as f64, v))),
    );
    let y = log_range(exact.iter().chain(&dd).map(|p| p.1));
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(rows), y.log_scale())?;
    draw_axes(
        &mut chart,
        rows,
        "gradient residual (max over class models)",
        &sci,
    )?;
    line_with_points(&mut chart, &dd, ORANGE_, "data-dependent bound")?;
    line_with_points(&mut chart, &exact, GREEN_, "exact residual ‖∇L_b‖")?;
    legend(&mut chart)
}

fn draw_rows<DB: DrawingBackend>(title: &str, rows: &[StepRow], root: &Area<DB>) -> DrawResult<DB> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.step as f64, r.rows_after as f64))
        .collect();
    let lo = rows.iter().map(|r| r.rows_after).min().unwrap_or(0) as f64;
    let hi = rows.iter().map(|r| r.rows_after).max().unwrap_or(1) as f64;
    let pad = ((hi - lo) * 0.1).max(1.0);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(rows), (lo - pad).max(0.0)..hi + pad)?;
    draw_axes(&mut chart, rows, "rows left", &|v| format!("{v:.0}"))?;
    line_with_points(&mut chart, &points, BLUE_, "rows left")?;
    legend(&mut chart)
}
