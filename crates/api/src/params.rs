//! Query parameters: parsed by name into domain types, with unknown or
//! repeated parameters refused, so that a typo (`day=7`) is an error rather
//! than a silently ignored filter.

use std::collections::BTreeMap;

use organism_domain::ValidationError;

use crate::error::ApiError;

#[derive(Debug)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Splits the raw query string, refusing names not in `allowed` and any
    /// name given twice.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if !allowed.contains(&name.as_ref()) {
                let expected = if allowed.is_empty() {
                    "this endpoint takes no query parameters".to_string()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                };
                return Err(ApiError::bad(
                    &name,
                    format!("unknown parameter ({expected})"),
                ));
            }
            if values.insert(name.to_string(), value.to_string()).is_some() {
                return Err(ApiError::bad(&name, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Parses an optional parameter; the error names the parameter.
    pub fn optional<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<Option<T>, ApiError> {
        self.raw(name)
            .map(|v| parse(v).map_err(|e| ApiError::BadParameter(e.for_field(name))))
            .transpose()
    }

    /// Parses a parameter, or uses `default` when it is absent.
    pub fn or<T>(
        &self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<T, ApiError> {
        Ok(self.optional(name, parse)?.unwrap_or(default))
    }

    pub fn required<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<T, ApiError> {
        self.optional(name, parse)?
            .ok_or_else(|| ApiError::bad(name, "is required"))
    }
}

/// `true`/`false` (also `1`/`0`).
pub fn boolean(text: &str) -> Result<bool, ValidationError> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ValidationError::new(
            "",
            format!("must be true or false, got {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_parameter_is_named_with_the_allowed_ones() {
        let err = Params::parse(Some("day=7"), &["days", "use_hourly"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("day: unknown parameter (allowed: days, use_hourly)"),
            "{err}"
        );
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert!(Params::parse(Some("days=1&days=2"), &["days"]).is_err());
    }

    #[test]
    fn values_are_percent_decoded() {
        let p = Params::parse(Some("start=2026-01-01T00%3A00%3A00%2B02%3A00"), &["start"]).unwrap();
        assert_eq!(p.raw("start"), Some("2026-01-01T00:00:00+02:00"));
    }

    #[test]
    fn booleans() {
        assert!(boolean("true").unwrap());
        assert!(!boolean("0").unwrap());
        assert!(boolean("yes").is_err());
    }
}
