//! TEMPORARY stub, replaced by helper-bounds.
pub fn spectral_norm_upper_bound(features: &[f64], _dim: usize) -> f64 {
    features.iter().map(|v| v * v).sum::<f64>().sqrt()
}
pub fn data_dependent(gamma: f64, x: f64, v: f64, xv: f64) -> f64 {
    0.5 * gamma * x * v * xv
}
