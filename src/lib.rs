//! # unlearn — certified machine unlearning for convex models
//!
//! (crate docs written with the modules)

pub mod data;
pub mod noise;
