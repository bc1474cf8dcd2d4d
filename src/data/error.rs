//! Errors of the data layer.
/// An error reading or preparing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Inconsistent shapes or ids passed to [`super::Dataset::new`].
    #[error("inconsistent dataset: {0}")]
    Shape(String),
}
