//! Timestamps as the platform writes them.

use chrono::{DateTime, Utc};

/// The service's one timestamp grammar ([`organism_domain::parse_timestamp`]):
/// RFC 3339 (`2026-01-01T00:00:00Z`, `…+02:00`), pandas' text
/// (`2026-01-01 00:00:00+00:00`, with or without fractions), and times
/// without an offset (`2026-01-01 00:00:00`, `2026-01-01T00:00:00`), which
/// are taken as UTC: pandas writes naive UTC times that way. Years outside
/// 1..=9999 are refused here; the sample window is checked later.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_timestamp(text).map_err(|e| e.message)
}
