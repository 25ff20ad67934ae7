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

    /// [`Params::parse`] with the names of the query parameters that `Q`
    /// documents, so that the names a handler accepts are the names the API
    /// document lists.
    pub fn documented<Q: utoipa::IntoParams>(raw: Option<&str>) -> Result<Self, ApiError> {
        let names: Vec<String> = Q::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
            .into_iter()
            .filter(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
            .map(|p| p.name)
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Self::parse(raw, &names)
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

/// The schema of a `days` parameter of at most `MAX` days, `DEFAULT` when
/// absent (the range is [`organism_domain::Days`]'s own).
pub fn days_schema<const MAX: u32, const DEFAULT: u32>() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(1))
        .maximum(Some(organism_domain::Days::<MAX>::MAX))
        .default(Some(DEFAULT.into()))
        .build()
}

/// The schema of the burnout `threshold`: 0 to 100, 70 when absent.
pub fn threshold_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Number)
        .minimum(Some(0))
        .maximum(Some(100))
        .default(Some(70.into()))
        .build()
}

/// `true` or `false`, as OpenAPI writes a boolean query parameter (and
/// nothing else, so that what the document calls a boolean is all that is
/// accepted).
pub fn boolean(text: &str) -> Result<bool, ValidationError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
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
        assert!(!boolean("false").unwrap());
        for other in ["yes", "1", "0", "True", ""] {
            assert!(boolean(other).is_err(), "{other:?}");
        }
    }
}
