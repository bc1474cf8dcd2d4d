//! Rényi / zero-concentrated DP of the multivariate discrete Gaussian, and the
//! conversion to (ε, δ).
//!
//! # The Rényi bound
//!
//! For an integer shift μ ∈ ℤ^m and independent N_ℤ(0, s²) coordinates,
//!
//! D_α(N_ℤ(μ, s²I) ‖ N_ℤ(0, s²I)) ≤ α‖μ‖²/(2s²)  for every α > 1
//!
//! (Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential
//! Privacy", NeurIPS 2020, Proposition 5 and Theorem 14; the proof, by
//! completing the square and bounding a shifted theta sum by the centred one,
//! is in `proofs/lattice_release.md`). So the release is ρ-zCDP with
//! ρ = ‖μ‖²/(2s²) ([`super::LatticeNoise::rho`]), and releases compose by
//! adding their ρ, also when each shift is chosen adaptively against a fixed
//! total cap (a Rényi privacy filter: Feldman & Zrnic, "Individual Privacy
//! Accounting via a Rényi Filter", NeurIPS 2021; Whitehouse, Ramdas, Rogers,
//! Wu, "Fully-Adaptive Composition in Differential Privacy", ICML 2023).
//!
//! # The conversion
//!
//! If D_α(P‖Q) ≤ αρ for some α > 1, the pair is (ε, δ)-indistinguishable with
//!
//! ε(α) = αρ + ln((α − 1)/α) − (ln δ + ln α)/(α − 1)
//!
//! (CKS 2020, Proposition 12; Asoodeh, Liao, Calmon, Kosut, Sankar 2021; the
//! same formula as dp-accounting's `compute_epsilon`). Every α gives a valid
//! ε, so [`zcdp_epsilon`] minimises over α numerically and returns the
//! outward-rounded ε(α) at the best α found: a poorer optimum is looser, never
//! unsound.

use super::calibration::{CalibrationError, bisect, check_budget, check_delta, check_epsilon};
use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

/// ln(α − 1) ranges scanned for the best α: α − 1 from e⁻¹² ≈ 6e-6 to
/// e³⁰ ≈ 1e13, in steps of 1/4, before a golden-section refinement.
const LN_ORDER_RANGE: (f64, f64) = (-12.0, 30.0);
/// Step of the coarse scan over ln(α − 1).
const LN_ORDER_STEP: f64 = 0.25;
/// Golden-section iterations on the bracket around the best scanned point
/// (the bracket shrinks by 0.618 each time: 0.5·0.618⁶⁰ ≈ 1e-13).
const GOLDEN_ITERATIONS: usize = 60;

/// Checks ρ: finite and ≥ 0.
fn check_rho(rho: f64) -> Result<(), CalibrationError> {
    if rho.is_finite() && rho >= 0.0 {
        Ok(())
    } else {
        Err(CalibrationError::InvalidRho(rho))
    }
}

/// ε(α) = αρ + ln((α − 1)/α) − (ln δ + ln α)/(α − 1), rounded up: an ε for
/// which ρ-zCDP (D_α ≤ αρ at this α) implies (ε, δ)-DP (CKS 2020,
/// Proposition 12).
///
/// Error model: the three terms A = αρ, B = ln((α−1)/α), C = (ln δ + ln α)/(α−1)
/// take at most four roundings each, with libm's `ln` within one ulp; an
/// argument of `ln` with relative error r moves its value by at most r in
/// absolute terms. So the computed sum is within
/// 8u·(|A| + |B| + |ln δ|/(α−1) + |ln α|/(α−1) + 2) of the exact one
/// (u = 2⁻⁵³), and 16u times the same sum, added, covers it and the
/// rounding of the final additions.
///
/// # Errors
///
/// ρ negative or not finite; δ ∉ (0, 1); α not finite or ≤ 1.
pub fn zcdp_epsilon_at(rho: f64, delta: f64, alpha: f64) -> Result<f64, CalibrationError> {
    check_rho(rho)?;
    check_delta(delta, f64::MIN_POSITIVE)?;
    if !(alpha.is_finite() && alpha > 1.0) {
        return Err(CalibrationError::InvalidOrder(alpha));
    }
    Ok(Order::new(alpha).epsilon_upper(rho, delta.ln()))
}

/// The terms of ε(α) that depend on the order alone: α, α − 1, ln((α − 1)/α) = ln(1 − 1/α)
/// and ln α. [`zcdp_epsilon`] tabulates them on its scan grid once ([`scan_grid`]): they are
/// the three transcendental functions of each evaluation, and the grid does not depend on
/// ρ or δ.
#[derive(Debug, Clone, Copy)]
struct Order {
    alpha: f64,
    am1: f64,
    ln_ratio: f64,
    ln_alpha: f64,
}

impl Order {
    fn new(alpha: f64) -> Self {
        Order {
            alpha,
            am1: alpha - 1.0,
            ln_ratio: (-1.0 / alpha).ln_1p(),
            ln_alpha: alpha.ln(),
        }
    }

    /// The terms of ε(α) at this order and ln δ = `ln_delta` that do not depend on ρ: the two
    /// divisions of each evaluation.
    fn at_delta(&self, ln_delta: f64) -> OrderAtDelta {
        OrderAtDelta {
            alpha: self.alpha,
            ln_ratio: self.ln_ratio,
            c: (ln_delta + self.ln_alpha) / self.am1,
            c_magnitude: (ln_delta.abs() + self.ln_alpha.abs()) / self.am1,
        }
    }

    /// The body of [`zcdp_epsilon_at`] for checked inputs, with ln δ given.
    fn epsilon_upper(&self, rho: f64, ln_delta: f64) -> f64 {
        self.at_delta(ln_delta).epsilon_upper(rho)
    }
}

/// An order's terms of ε(α) at one δ ([`Order::at_delta`]): α, B = ln((α − 1)/α),
/// C = (ln δ + ln α)/(α − 1) and (|ln δ| + |ln α|)/(α − 1). [`zcdp_epsilon`] keeps its scan
/// grid's at the latest δ ([`scan_at_delta`]); every evaluation, tabulated or not, goes
/// through [`OrderAtDelta::epsilon_upper`], so the same operations in the same order give the
/// same bits.
#[derive(Debug, Clone, Copy)]
struct OrderAtDelta {
    alpha: f64,
    ln_ratio: f64,
    c: f64,
    c_magnitude: f64,
}

impl OrderAtDelta {
    /// ε(α) = A + B − C with A = αρ, plus its rounding error bound (see [`zcdp_epsilon_at`]).
    fn epsilon_upper(&self, rho: f64) -> f64 {
        let a = self.alpha * rho;
        let b = self.ln_ratio;
        let error =
            16.0 * crate::bounds::UNIT_ROUNDOFF * (a.abs() + b.abs() + self.c_magnitude + 2.0);
        a + b - self.c + error
    }
}

/// The orders α = 1 + e^x of the coarse scan, x = lo + i·step for i = 0, …, (hi − lo)/step,
/// computed on first use.
fn scan_grid() -> &'static [Order] {
    static GRID: OnceLock<Vec<Order>> = OnceLock::new();
    GRID.get_or_init(|| {
        let (lo, hi) = LN_ORDER_RANGE;
        let steps = ((hi - lo) / LN_ORDER_STEP) as usize;
        (0..=steps)
            .map(|i| Order::new(1.0 + (lo + i as f64 * LN_ORDER_STEP).exp()))
            .collect()
    })
}

/// Runs `scan` on the scan grid's orders at δ ([`Order::at_delta`]), tabulated per thread for
/// the latest δ: a service's certificates all use the δ of its target, and the table saves
/// two of the ≈ 10 floating-point operations of each of the scan's 169 evaluations, the two
/// divisions. A table is a function of δ's bits alone.
fn scan_at_delta<T>(delta: f64, scan: impl FnOnce(&[OrderAtDelta]) -> T) -> T {
    thread_local! {
        static TABLE: RefCell<(u64, Vec<OrderAtDelta>)> = const { RefCell::new((0, Vec::new())) };
    }
    let tabulate = |table: &mut (u64, Vec<OrderAtDelta>)| {
        if table.1.is_empty() || table.0 != delta.to_bits() {
            let ln_delta = delta.ln();
            table.1.clear();
            table
                .1
                .extend(scan_grid().iter().map(|order| order.at_delta(ln_delta)));
            table.0 = delta.to_bits();
        }
    };
    TABLE.with(|table| match table.try_borrow_mut() {
        Ok(mut table) => {
            tabulate(&mut table);
            scan(&table.1)
        }
        // Only a `scan` that computes another ε could find it taken.
        Err(_) => {
            let mut fresh = (0, Vec::new());
            tabulate(&mut fresh);
            scan(&fresh.1)
        }
    })
}

/// An upper bound on the smallest ε for which ρ-zCDP implies (ε, δ)-DP:
/// min over α > 1 of [`zcdp_epsilon_at`], found by a scan of ln(α − 1) over
/// [−12, 30] in steps of 1/4 and a golden-section refinement around the best
/// point; clamped at 0 from below (ε ≥ 0 always holds). ρ = 0 gives 0
/// (identical distributions).
///
/// The value is ε(α) at one α, rounded up, so it is a valid ε whatever the
/// optimiser finds. It is at most the closed form ρ + 2√(ρ ln(1/δ)) (which
/// is ε(α) at α = 1 + √(ln(1/δ)/ρ) without the terms ln((α−1)/α) − ln α/(α−1) ≤ 0),
/// up to the optimiser's accuracy.
///
/// # Errors
///
/// ρ negative or not finite; δ ∉ (0, 1).
pub fn zcdp_epsilon(rho: f64, delta: f64) -> Result<f64, CalibrationError> {
    check_rho(rho)?;
    check_delta(delta, f64::MIN_POSITIVE)?;
    if rho == 0.0 {
        return Ok(0.0);
    }
    let ln_delta = delta.ln();
    let at = |ln_order: f64| Order::new(1.0 + ln_order.exp()).epsilon_upper(rho, ln_delta);
    let (best_i, mut best) = scan_at_delta(delta, |orders| {
        orders
            .iter()
            .map(|order| order.epsilon_upper(rho))
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |acc, p| if p.1 < acc.1 { p } else { acc },
            )
    });
    let best_x = LN_ORDER_RANGE.0 + best_i as f64 * LN_ORDER_STEP;
    // Golden section on [best_x − step, best_x + step]; every evaluation is a
    // valid bound, so keep the smallest seen.
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (best_x - LN_ORDER_STEP, best_x + LN_ORDER_STEP);
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let (mut fc, mut fd) = (at(c), at(d));
    for _ in 0..GOLDEN_ITERATIONS {
        best = best.min(fc).min(fd);
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = at(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = at(d);
        }
    }
    Ok(best.min(fc).min(fd).max(0.0))
}

/// The largest ρ (rounded down: the returned value is verified) with
/// [`zcdp_epsilon`](ρ, δ) ≤ ε, by bisection down to adjacent doubles. ε(ρ)
/// increases with ρ (each ε(α) does); the bisection keeps a lower end whose
/// computed ε meets the target, so the result is safe even where the
/// optimiser makes the computed curve slightly non-monotone.
///
/// # Errors
///
/// ε not finite and > 0; δ ∉ (0, 1); [`CalibrationError::NoSolution`] if no
/// finite upper bracket exists (not reached for finite ε).
///
/// The bisection takes about a millisecond, and every certificate needs it for the same
/// (ε, δ): results are memoised (a pure function of its arguments' bits; a few entries).
pub fn zcdp_rho_for(epsilon: f64, delta: f64) -> Result<f64, CalibrationError> {
    static SOLVED: Mutex<Vec<((u64, u64), f64)>> = Mutex::new(Vec::new());
    const KEPT: usize = 16;
    let key = (epsilon.to_bits(), delta.to_bits());
    let cached = |solved: &Vec<((u64, u64), f64)>| {
        solved.iter().find(|(k, _)| *k == key).map(|&(_, rho)| rho)
    };
    if let Some(rho) = cached(&SOLVED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(rho);
    }
    let rho = solve_rho_for(epsilon, delta)?;
    let mut solved = SOLVED.lock().unwrap_or_else(|e| e.into_inner());
    if solved.len() == KEPT {
        solved.remove(0);
    }
    solved.push((key, rho));
    Ok(rho)
}

/// [`zcdp_rho_for`] without the memo.
fn solve_rho_for(epsilon: f64, delta: f64) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_delta(delta, f64::MIN_POSITIVE)?;
    let exceeds = |rho: f64| zcdp_epsilon(rho, delta).map_or(true, |e| e > epsilon);
    // ε(ρ) ≥ ρ − ln α/(α−1) − 1 + ln(1/δ)/(α−1)… grows without bound in ρ:
    // double until the target is exceeded.
    let mut hi = epsilon;
    while !exceeds(hi) {
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(CalibrationError::NoSolution { epsilon, delta });
        }
    }
    let (lo, _) = bisect(0.0, hi, exceeds);
    Ok(lo)
}

/// The noise parameter σ (in weight units) with ρ = S²/(2σ²) meeting (ε, δ)
/// through [`zcdp_rho_for`]: σ = S/√(2ρ), rounded up, S = `sensitivity`
/// (the lifetime L2 sensitivity, in weight units, that the releases may
/// shift by in total).
///
/// [`super::LatticeNoise::for_sigma`] rounds σ to s·g, which may be below σ
/// by half a grid step; re-check the actual release with
/// [`super::LatticeNoise::rho`] and [`zcdp_epsilon`].
///
/// # Errors
///
/// ε not finite and > 0; δ ∉ (0, 1); S not finite and > 0;
/// [`CalibrationError::NoSolution`] if ρ comes out 0 (ε too small for δ).
pub fn sigma_for(epsilon: f64, delta: f64, sensitivity: f64) -> Result<f64, CalibrationError> {
    check_budget(sensitivity)?;
    let rho = zcdp_rho_for(epsilon, delta)?;
    if rho <= 0.0 {
        return Err(CalibrationError::NoSolution { epsilon, delta });
    }
    // 2ρ exact, √ and the division round by u each: (1 + u)² < 1 + 4ε.
    Ok(sensitivity / (2.0 * rho).sqrt() * (1.0 + 4.0 * f64::EPSILON))
}
