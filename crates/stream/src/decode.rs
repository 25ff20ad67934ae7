//! A message's body into samples, by the parsers and rules `POST
//! /api/metrics` uses, or the reason it can never be written, worded as
//! that endpoint's 4xx error body would word it (code, field, row,
//! message).

use organism_domain::{MetricSample, SampleWindow};
use organism_formats::{Format, FormatError};
use organism_store::StoreError;

/// Why a message can never be written: what its dead letter carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP endpoint's error code: `invalid_row`, `missing_column`,
    /// `malformed_body`, `unsupported_media_type`, `invalid_parameter`,
    /// `conflict`.
    pub code: &'static str,
    /// The field or column to blame, when there is one.
    pub field: Option<String>,
    /// The 1-based row of the batch to blame, for `invalid_row`.
    pub row: Option<usize>,
    /// For a person, as the HTTP error's `message`.
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The body's format: the `Content-Type` header when the publisher set one
/// (the same names as the HTTP endpoint's), otherwise a JSON array when the
/// first byte that is not white space is `[`, otherwise NDJSON (an empty
/// body is an empty batch either way).
pub fn format_of(content_type: Option<&str>, body: &[u8]) -> Result<Format, Rejection> {
    if let Some(content_type) = content_type {
        return Format::from_content_type(content_type).ok_or_else(|| Rejection {
            code: "unsupported_media_type",
            field: None,
            row: None,
            message: format!(
                "Content-Type {content_type:?} is not supported; send application/json (an array), application/x-ndjson, text/csv or application/vnd.apache.parquet, or no Content-Type for JSON or NDJSON"
            ),
        });
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    Ok(if first == Some(&b'[') {
        Format::JsonArray
    } else {
        Format::Ndjson
    })
}

/// Parses and validates a whole message (all or nothing).
pub fn decode(
    content_type: Option<&str>,
    body: &[u8],
    window: &SampleWindow,
) -> Result<Vec<MetricSample>, Rejection> {
    let format = format_of(content_type, body)?;
    organism_formats::parse_samples(format, body, window).map_err(rejection_of_format)
}

/// As `POST /api/metrics` maps a parse error (routes/ingest.rs).
pub fn rejection_of_format(e: FormatError) -> Rejection {
    match e {
        FormatError::Row(row) => Rejection {
            code: "invalid_row",
            field: Some(row.field.clone()),
            row: Some(row.row),
            message: row.to_string(),
        },
        FormatError::MissingColumn(column) => Rejection {
            code: "missing_column",
            message: format!("required column {column:?} is missing"),
            field: Some(column),
            row: None,
        },
        other => Rejection {
            code: "malformed_body",
            field: None,
            row: None,
            message: other.to_string(),
        },
    }
}

/// A store error that is the message's fault (the HTTP endpoint's 4xx), or
/// `None` for one that is not (the database is down, busy or failed: the
/// message is retried, never dead-lettered).
pub fn rejection_of_store(e: &StoreError) -> Option<Rejection> {
    match e {
        StoreError::InvalidRow(row) => Some(Rejection {
            code: "invalid_row",
            field: Some(row.field.clone()),
            row: Some(row.row),
            message: row.to_string(),
        }),
        StoreError::Invalid(v) => Some(Rejection {
            code: "invalid_parameter",
            field: Some(v.field.clone()),
            row: None,
            message: v.to_string(),
        }),
        StoreError::Conflict { code, message } => Some(Rejection {
            code,
            field: None,
            row: None,
            message: message.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn window() -> SampleWindow {
        SampleWindow::new(chrono::Utc::now(), 730)
    }

    fn row(burnout: &str) -> String {
        let time = chrono::Utc::now().to_rfc3339();
        format!(
            r#"{{"time":"{time}","employee_id":"emp_1","team":"Core","degree_centrality":0.1,"betweenness_centrality":0.2,"clustering_coeff":0.3,"burnout_score":{burnout}}}"#
        )
    }

    #[test]
    fn a_json_array_and_ndjson_are_told_apart_without_a_content_type() {
        let array = format!("  [{},{}]", row("40"), row("41"));
        assert_eq!(
            format_of(None, array.as_bytes()).unwrap(),
            Format::JsonArray
        );
        let lines = format!("{}\n{}\n", row("40"), row("41"));
        assert_eq!(format_of(None, lines.as_bytes()).unwrap(), Format::Ndjson);
        assert_eq!(decode(None, lines.as_bytes(), &window()).unwrap().len(), 2);
        assert!(decode(None, b"", &window()).unwrap().is_empty());
    }

    #[test]
    fn a_burnout_score_out_of_range_names_the_row_and_field() {
        let lines = format!("{}\n{}\n", row("40"), row("150"));
        let rejection = decode(None, lines.as_bytes(), &window()).unwrap_err();
        assert_eq!(rejection.code, "invalid_row");
        assert_eq!(rejection.field.as_deref(), Some("burnout_score"));
        assert_eq!(rejection.row, Some(2));
        assert!(rejection.message.contains("burnout_score"), "{rejection}");
    }

    #[test]
    fn a_missing_field_and_an_unknown_content_type_are_rejections() {
        let time = chrono::Utc::now().to_rfc3339();
        let missing = format!(r#"[{{"time":"{time}","employee_id":"emp_1"}}]"#);
        let rejection = decode(None, missing.as_bytes(), &window()).unwrap_err();
        assert!(
            rejection.message.contains("degree_centrality"),
            "{rejection:?}"
        );
        let rejection = decode(Some("text/plain"), b"x", &window()).unwrap_err();
        assert_eq!(rejection.code, "unsupported_media_type");
    }
}
