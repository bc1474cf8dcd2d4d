//! placeholder
/// placeholder
pub struct Preprocessing;
