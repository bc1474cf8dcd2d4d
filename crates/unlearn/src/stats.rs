//! Confidence intervals for a binomial proportion: Clopper–Pearson (exact) and Wilson.
//!
//! For k successes in n independent trials with success probability p, the Clopper–Pearson
//! interval at confidence c = 1 − α is (Clopper & Pearson 1934)
//!
//! - lower = B⁻¹(α/2; k, n − k + 1), or 0 when k = 0,
//! - upper = B⁻¹(1 − α/2; k + 1, n − k), or 1 when k = n,
//!
//! where B⁻¹(q; a, b) is the q-quantile of the Beta(a, b) distribution, i.e. the x with
//! I_x(a, b) = q for the regularised incomplete beta function
//! I_x(a, b) = ∫₀ˣ t^{a−1}(1 − t)^{b−1} dt / B(a, b). Each one-sided end has coverage at
//! least 1 − α/2 for every p, because P(K ≥ k) = I_p(k, n − k + 1) (the binomial–beta
//! identity): the interval is conservative, never anti-conservative.
//!
//! The incomplete beta function is evaluated by its continued fraction
//! (Abramowitz & Stegun 26.5.8),
//!
//! I_x(a, b) = x^a (1 − x)^b / (a·B(a, b)) · 1/(1 + d₁/(1 + d₂/(1 + …))),
//! d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)),
//! d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)),
//!
//! with the modified Lentz algorithm (Lentz 1976; Thompson & Barnett 1986), used where it
//! converges fast, x < (a + 1)/(a + b + 2), and through I_x(a, b) = 1 − I_{1−x}(b, a)
//! elsewhere. ln B(a, b) comes from ln Γ by Stirling's series. The quantile is found by
//! bisection on x ∈ [0, 1] (I_x is increasing in x) down to adjacent doubles.
//!
//! Accuracy: the prefactor exp(a ln x + b ln(1 − x) − ln B(a, b)) adds terms of size up to
//! (a + b)·|ln x|, so its relative error is about (a + b)·2⁻⁵³ (1e-9 at a + b = 10⁷); the
//! continued fraction stops at a relative change below 1e-15. The Wilson interval is a
//! closed form, used where a cheap approximate interval is enough (choosing a test).

use crate::noise::std_normal_cdf;

/// ln Γ(x) for x > 0: Stirling's series with terms up to x⁻⁹ for x ≥ 15, after shifting
/// smaller arguments up with ln Γ(x) = ln Γ(x + k) − ln(x(x + 1)⋯(x + k − 1)).
///
/// ln Γ(x) = (x − ½)ln x − x + ½ln 2π + 1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷)
/// \+ 1/(1188x⁹) + R with |R| ≤ 691/(360360x¹¹) < 2.2e-16 at x ≥ 15 (the series is
/// enveloping: the error is below the first omitted term). NaN for x ≤ 0 or NaN.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let mut y = x;
    let mut product = 1.0;
    while y < 15.0 {
        product *= y;
        y += 1.0;
    }
    let shift = product.ln();
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let series = inv
        * (1.0 / 12.0
            - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0))));
    let half_ln_two_pi = 0.918_938_533_204_672_8;
    (y - 0.5) * y.ln() - y + half_ln_two_pi + series - shift
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Most terms of the continued fraction before giving up (it converges in
/// O(√max(a, b)) terms where it is used; 10⁵ covers a, b up to about 10⁹).
const MAX_FRACTION_TERMS: usize = 100_000;

/// The regularised incomplete beta function I_x(a, b) for a, b > 0 and x ∈ [0, 1]
/// (NaN outside that domain). See the module documentation for the method.
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && (0.0..=1.0).contains(&x)) || a.is_infinite() || b.is_infinite() {
        return f64::NAN;
    }
    if x == 0.0 || x == 1.0 {
        return x;
    }
    if x < (a + 1.0) / (a + b + 2.0) {
        beta_fraction_form(x, a, b)
    } else {
        1.0 - beta_fraction_form(1.0 - x, b, a)
    }
}

/// x^a (1 − x)^b / (a·B(a, b)) times the continued fraction, evaluated by modified Lentz.
fn beta_fraction_form(x: f64, a: f64, b: f64) -> f64 {
    let log_front = a * x.ln() + b * (-x).ln_1p() - ln_beta(a, b);
    let front = log_front.exp() / a;
    if front == 0.0 {
        return 0.0;
    }
    // Lentz: f = 1/(1 + d₁/(1 + d₂/…)) as a product of ratios C_j·D_j, with tiny values
    // replacing zeros so that no division by zero occurs.
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut f = d;
    for m in 1..=MAX_FRACTION_TERMS {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        f *= c * d;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let ratio = c * d;
        f *= ratio;
        if (ratio - 1.0).abs() < 1e-15 {
            return front * f;
        }
    }
    f64::NAN
}

/// The q-quantile of Beta(a, b): the x ∈ [0, 1] with I_x(a, b) = q, by bisection until
/// the bracket holds two adjacent doubles (NaN for q outside [0, 1] or a, b ≤ 0).
pub fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    if !((0.0..=1.0).contains(&q) && a > 0.0 && b > 0.0) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    // Each pass halves the bracket, in value while it is wide and in binary exponent when
    // it straddles tiny values, so that quantiles near 0 are found to full relative
    // precision: at most about 64 + 1075 passes.
    for _ in 0..2200 {
        let mid = if lo > 0.0 && hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else if lo == 0.0 && hi < 1e-3 {
            hi * 0.5f64.powi(8)
        } else {
            0.5 * (lo + hi)
        };
        if mid <= lo || mid >= hi {
            break;
        }
        let value = regularized_incomplete_beta(mid, a, b);
        if value.is_nan() {
            return f64::NAN;
        }
        if value < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if q == 0.0 { lo } else { hi }
}

/// A binomial proportion with a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Proportion {
    /// Successes k.
    pub successes: usize,
    /// Trials n.
    pub trials: usize,
    /// k/n.
    pub estimate: f64,
    /// The interval's lower end.
    pub lower: f64,
    /// The interval's upper end.
    pub upper: f64,
}

/// The two-sided Clopper–Pearson interval for k successes in n trials at confidence c ∈ (0, 1):
/// each end fails to cover with probability at most (1 − c)/2. `None` for n = 0, k > n or
/// c outside (0, 1).
pub fn clopper_pearson(successes: usize, trials: usize, confidence: f64) -> Option<Proportion> {
    if trials == 0 || successes > trials || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let (k, n) = (successes as f64, trials as f64);
    let tail = (1.0 - confidence) / 2.0;
    let lower = if successes == 0 {
        0.0
    } else {
        beta_quantile(tail, k, n - k + 1.0)
    };
    let upper = if successes == trials {
        1.0
    } else {
        beta_quantile(1.0 - tail, k + 1.0, n - k)
    };
    Some(Proportion {
        successes,
        trials,
        estimate: k / n,
        lower,
        upper,
    })
}

/// The standard normal quantile z with Φ(z) = q, for q ∈ (0, 1), by bisection on Φ.
pub fn normal_quantile(q: f64) -> f64 {
    if !(q > 0.0 && q < 1.0) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (-40.0_f64, 40.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if std_normal_cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The upper end of the Wilson score interval for k successes in n trials with normal
/// quantile z (Wilson 1927): (k + z²/2 + z·√(k(n − k)/n + z²/4)) / (n + z²). An
/// approximation (its coverage is close to nominal, not guaranteed); 1 for n = 0.
pub fn wilson_upper(successes: usize, trials: usize, z: f64) -> f64 {
    if trials == 0 {
        return 1.0;
    }
    let (k, n) = (successes as f64, trials as f64);
    let z2 = z * z;
    let spread = (k * (n - k) / n + z2 / 4.0).max(0.0).sqrt();
    ((k + z2 / 2.0 + z * spread) / (n + z2)).min(1.0)
}
