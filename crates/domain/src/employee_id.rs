//! The pseudonymous employee identifier.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Checks the identifier alphabet shared by employee and intervention ids:
/// 1–`max` characters of `[A-Za-z0-9_.:@-]`.
pub(crate) fn check_identifier(
    field: &str,
    value: String,
    max: usize,
) -> Result<String, ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(ValidationError::new(
            field,
            format!(
                "must be at most {max} characters, got {}",
                value.chars().count()
            ),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '@' | '-');
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(ValidationError::new(
            field,
            format!("may only contain A-Z a-z 0-9 _ . : @ -, found {bad:?}"),
        ));
    }
    Ok(value)
}

/// 1–128 characters of `[A-Za-z0-9_.:@-]`. The platform hands us
/// pseudonymous ids; the narrow alphabet keeps them safe in URLs, file names
/// and log lines, and rules out look-alike Unicode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmployeeId(String);

impl EmployeeId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        check_identifier("employee_id", value.into(), Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmployeeId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<EmployeeId> for String {
    fn from(value: EmployeeId) -> Self {
        value.0
    }
}

impl AsRef<str> for EmployeeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmployeeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typical_pseudonymous_id_is_accepted() {
        for id in [
            "emp_001",
            "a",
            "user@corp.example",
            "x:1-2.3",
            &"z".repeat(128),
        ] {
            assert_eq!(EmployeeId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn an_empty_id_is_rejected() {
        let err = EmployeeId::parse("").unwrap_err();
        assert_eq!(err.field, "employee_id");
    }

    #[test]
    fn an_id_longer_than_128_characters_is_rejected() {
        let err = EmployeeId::parse("a".repeat(129)).unwrap_err();
        assert!(err.message.contains("at most 128"), "{err}");
    }

    #[test]
    fn ids_with_spaces_quotes_slashes_or_unicode_are_rejected() {
        for id in [
            "a b",
            "a'b",
            "a;b",
            "a/b",
            "é",
            "a\u{200b}",
            "a\0",
            "%27",
            "a\nb",
        ] {
            assert!(EmployeeId::parse(id).is_err(), "{id:?} should be refused");
        }
    }

    #[test]
    fn deserialising_an_invalid_id_fails() {
        let err = serde_json::from_str::<EmployeeId>("\"bad id\"").unwrap_err();
        assert!(err.to_string().contains("employee_id"));
    }
}
