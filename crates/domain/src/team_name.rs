//! A team's name as the platform's directory gives it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// 1–128 characters, no control characters, not blank, no leading or
/// trailing white space. Team names are human text ("Data Platform",
/// "Ventes – Nord"), so Unicode letters are allowed; control characters are
/// not, because they corrupt CSV exports and logs.
///
/// The OpenAPI pattern says the same: a first and last character that is
/// neither white space nor a control character (U+0000-U+001F,
/// U+007F-U+009F, Rust's `char::is_control`), none in between.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TeamName(String);

impl TeamName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let field = "team";
        let chars = value.chars().count();
        if chars == 0 || value.trim().is_empty() {
            return Err(ValidationError::new(field, "must not be empty or blank"));
        }
        if chars > Self::MAX_LEN {
            return Err(ValidationError::new(
                field,
                format!("must be at most {} characters, got {chars}", Self::MAX_LEN),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(ValidationError::new(
                field,
                "must not contain control characters",
            ));
        }
        if value.trim() != value {
            return Err(ValidationError::new(
                field,
                "must not start or end with white space",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TeamName {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<TeamName> for String {
    fn from(value: TeamName) -> Self {
        value.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_team_names_are_accepted() {
        for name in [
            "Engineering",
            "Data Platform",
            "Ventes – Nord",
            "研究",
            &"t".repeat(128),
        ] {
            assert_eq!(TeamName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn a_blank_team_name_is_rejected() {
        for name in ["", " ", "\t"] {
            let err = TeamName::parse(name).unwrap_err();
            assert_eq!(err.field, "team");
        }
    }

    #[test]
    fn a_team_name_longer_than_128_characters_is_rejected() {
        assert!(TeamName::parse("é".repeat(129)).is_err());
        assert!(TeamName::parse("é".repeat(128)).is_ok());
    }

    #[test]
    fn control_characters_and_padding_are_rejected() {
        for name in ["a\nb", "a\0", "a\u{7f}", " padded", "padded "] {
            assert!(TeamName::parse(name).is_err(), "{name:?} should be refused");
        }
    }
}
