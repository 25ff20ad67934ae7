//! Timestamps as the platform writes them.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Accepts RFC 3339 (`2026-01-01T00:00:00Z`, `…+02:00`), pandas' text
/// (`2026-01-01 00:00:00+00:00`, with or without fractions), and times
/// without an offset (`2026-01-01 00:00:00`, `2026-01-01T00:00:00`), which
/// are taken as UTC: pandas writes naive UTC times that way.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "must be an RFC 3339 timestamp (or YYYY-MM-DD HH:MM:SS, taken as UTC), got {text:?}"
    ))
}
