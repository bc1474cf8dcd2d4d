//! The memory floor of a removal step (issue 13): the time to read the lower triangle of
//! one d×d f64 matrix twice, measured on the machine that runs the benchmark.
//!
//! Any pass-free step solves with a Cholesky factor L of Ĥ₀: a forward solve Ly = ĝ and a
//! backward solve Lᵀv = y, each of which must read all d(d+1)/2 entries of L. Two reads of
//! a packed triangle are therefore a lower bound on any step that uses the factor, whatever
//! its kernels; `unlearn bench` prints it as `floor_seconds` beside `removal_seconds_median`
//! so that the ratio of the two is measured in the same run, under the same load.
//!
//! The triangle is read by [`crate::kernels::sum`] (the widest vector unit the CPU
//! offers, several independent accumulators), so the timing is of the memory system, not of
//! a dependency chain of additions.

use std::hint::black_box;
use std::time::Instant;

/// Repetitions of the two-pass read; the median is reported (a single read of an
/// L2/L3-resident triangle takes tens of microseconds, below the timer's useful resolution
/// when taken once, and the median discards the repetitions a scheduler interrupted).
const REPETITIONS: usize = 101;

/// Median seconds to read a packed lower triangle of a d×d f64 matrix twice, after one
/// untimed warm-up read (the step's matrices are warm: every removal touches them).
pub fn floor_seconds(d: usize) -> f64 {
    let triangle: Vec<f64> = (0..d * (d + 1) / 2).map(|k| 1.0 + (k % 7) as f64).collect();
    black_box(crate::kernels::sum(&triangle));
    let mut times: Vec<f64> = (0..REPETITIONS)
        .map(|_| {
            let started = Instant::now();
            let first = crate::kernels::sum(black_box(&triangle));
            let second = crate::kernels::sum(black_box(&triangle));
            black_box(first + second);
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPETITIONS / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor is a positive, finite time, and reading a triangle 16 times larger takes
    /// longer (median of 101 repetitions each: a reversal would need the larger reads to be
    /// systematically faster, which no memory hierarchy does).
    #[test]
    fn the_floor_grows_with_the_triangle() {
        let small = floor_seconds(64);
        let large = floor_seconds(256);
        assert!(small > 0.0 && small.is_finite());
        assert!(large > small, "{large} ≤ {small}");
    }
}
