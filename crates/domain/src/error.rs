//! Validation errors that name the field (and, for batches, the row).

use std::fmt;

/// A value was refused: `field` names the input (a column, a query
/// parameter) and `message` states the rule it broke, so that the message can
/// be shown to the caller as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Re-labels the error with the name the caller used for the field
    /// (for example a query parameter called `start_date`).
    pub fn for_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// A row of a batch was refused. Rows are numbered from 1 in the order they
/// were given (for a CSV file, the header is not counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn new(row: usize, error: ValidationError) -> Self {
        Self {
            row,
            field: error.field,
            message: error.message,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}: {}", self.row, self.field, self.message)
    }
}
