//! The canonical form of an audit event, and its hash, computed in Rust.
//!
//! This is the one definition the writer and the verifier share. It is the
//! same byte string the SQL function `audit_event_hash()` of migration 1
//! hashes, so chains written before the hash moved to Rust verify unchanged;
//! but nothing here calls that function, so replacing it in the database
//! changes nothing `verify` computes.
//!
//! # The canonical form
//!
//! The hash of an event is the lower-case hex SHA-256 of the UTF-8 bytes of
//! nine fields joined by the unit separator U+001F (`␟`), in this order:
//!
//! 1. `seq`: decimal, no padding (`42`);
//! 2. `time`: the UTC instant as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six
//!    fraction digits (PostgreSQL's `to_char(time AT TIME ZONE 'UTC',
//!    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`); years 1 to 9999 only;
//! 3. `event_id`: the UUID, lower-case, hyphenated (`8-4-4-4-12`);
//! 4. `intervention_id`, 5. `action`, 6. `actor`: the text as stored;
//! 7. `target_employee_id`: the text, or the empty string when absent;
//! 8. `details`: the text of the `jsonb` value exactly as PostgreSQL renders
//!    it (keys sorted by length then bytes, `", "` and `": "` separators,
//!    numbers as stored); read here from the column's binary form, which is
//!    a version byte followed by that same text;
//! 9. `prev_hash`: the previous event's hash (64 `0`s before the first).
//!
//! No accepted field can contain U+001F (ids and actions have restricted
//! alphabets, actors refuse control characters, `jsonb` text escapes them as
//! `\u001f`), so the joined string determines the fields. An event whose
//! fields do contain it is refused here rather than hashed, so that a
//! superuser cannot move text across a field boundary without changing the
//! hash.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use postgres_types::{FromSql, Type};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event, and the head of an empty log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Joins the fields of the canonical form.
pub const SEPARATOR: char = '\u{1f}';

/// One row of `intervention_audit_log`, read as raw column values: nothing
/// in it has gone through a database function.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    pub seq: i64,
    pub time: PgTimestamp,
    pub event_id: PgUuid,
    pub intervention_id: String,
    pub action: String,
    pub actor: String,
    pub target_employee_id: Option<String>,
    /// The `jsonb` text of `details`.
    pub details: JsonbText,
    pub prev_hash: String,
    /// The hash stored with the event (what the writer claimed).
    pub hash: String,
}

/// Why an event has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("its {0} contains the field separator U+001F")]
    Separator(&'static str),
    #[error("its time is outside the years 1 to 9999")]
    Time,
}

impl RawEvent {
    /// The canonical text of the event (see the module documentation).
    pub fn canonical_text(&self) -> Result<String, CanonicalError> {
        let time = self.time.canonical().ok_or(CanonicalError::Time)?;
        let fields: [(&'static str, &str); 6] = [
            ("intervention_id", &self.intervention_id),
            ("action", &self.action),
            ("actor", &self.actor),
            (
                "target_employee_id",
                self.target_employee_id.as_deref().unwrap_or(""),
            ),
            ("details", &self.details.0),
            ("prev_hash", &self.prev_hash),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.contains(SEPARATOR)) {
            return Err(CanonicalError::Separator(name));
        }
        let sep = SEPARATOR.to_string();
        Ok([
            self.seq.to_string(),
            time,
            self.event_id.to_string(),
            self.intervention_id.clone(),
            self.action.clone(),
            self.actor.clone(),
            self.target_employee_id.clone().unwrap_or_default(),
            self.details.0.clone(),
            self.prev_hash.clone(),
        ]
        .join(&sep))
    }

    /// The event's hash, recomputed from its fields.
    pub fn recomputed_hash(&self) -> Result<String, CanonicalError> {
        self.canonical_text()
            .map(|text| sha256_hex(text.as_bytes()))
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` is 64 lower-case hex digits (the shape of a hash).
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A `timestamptz` as PostgreSQL sends it: microseconds since
/// 2000-01-01 00:00:00 UTC, `i64::MAX`/`i64::MIN` for ±infinity. Kept raw so
/// that an unrepresentable value is reported, not a decoding error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PgTimestamp(pub i64);

impl PgTimestamp {
    /// The PostgreSQL epoch in Unix microseconds.
    const EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

    pub fn from_datetime(t: DateTime<Utc>) -> Option<Self> {
        t.timestamp_micros()
            .checked_sub(Self::EPOCH_UNIX_MICROS)
            .map(PgTimestamp)
    }

    /// The instant, when it is a finite time chrono can hold.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        if self.0 == i64::MAX || self.0 == i64::MIN {
            return None;
        }
        DateTime::from_timestamp_micros(self.0.checked_add(Self::EPOCH_UNIX_MICROS)?)
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, for years 1 to 9999.
    pub fn canonical(self) -> Option<String> {
        let t = self.to_datetime()?;
        (1..=9999)
            .contains(&t.year())
            .then(|| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    }
}

impl<'a> FromSql<'a> for PgTimestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into().map_err(|_| "a timestamptz is 8 bytes")?;
        Ok(PgTimestamp(i64::from_be_bytes(bytes)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// A `uuid` as PostgreSQL sends it: 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgUuid(pub [u8; 16]);

impl std::fmt::Display for PgUuid {
    /// Lower-case and hyphenated, as PostgreSQL's `uuid::text`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl<'a> FromSql<'a> for PgUuid {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgUuid(raw.try_into().map_err(|_| "a uuid is 16 bytes")?))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

/// The text of a `jsonb` value, from its binary form (version 1 followed by
/// the text PostgreSQL's `jsonb` output renders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonbText(pub String);

impl<'a> FromSql<'a> for JsonbText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        match raw.split_first() {
            Some((1, text)) => Ok(JsonbText(std::str::from_utf8(text)?.to_string())),
            _ => Err("unsupported jsonb version".into()),
        }
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }
}

/// A fixed event whose hash both this module and a faithful
/// `audit_event_hash()` give: `verify` asks the database function for it to
/// tell whether the function was replaced.
pub fn probe_event() -> RawEvent {
    let time = NaiveDate::from_ymd_opt(2024, 2, 29)
        .and_then(|d| d.and_hms_micro_opt(13, 14, 15, 16))
        .map(|t| t.and_utc())
        .and_then(PgTimestamp::from_datetime)
        .unwrap_or(PgTimestamp(0));
    RawEvent {
        seq: 7,
        time,
        event_id: PgUuid([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a,
            0xbc, 0xde,
        ]),
        intervention_id: "iv-probe".into(),
        action: "approved".into(),
        actor: "probe ✓".into(),
        target_employee_id: None,
        details: JsonbText(r#"{"to": "approved", "from": "proposed", "details": {}}"#.into()),
        prev_hash: GENESIS_HASH.into(),
        hash: String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_canonical_text_joins_nine_fields_with_the_unit_separator() {
        let event = probe_event();
        assert_eq!(
            event.canonical_text().unwrap(),
            "7\u{1f}2024-02-29T13:14:15.000016Z\u{1f}12345678-9abc-4def-8012-3456789abcde\u{1f}iv-probe\u{1f}approved\u{1f}probe ✓\u{1f}\u{1f}{\"to\": \"approved\", \"from\": \"proposed\", \"details\": {}}\u{1f}0000000000000000000000000000000000000000000000000000000000000000"
        );
        let hash = event.recomputed_hash().unwrap();
        assert!(is_hash(&hash), "{hash}");
    }

    #[test]
    fn the_hash_is_sha256_in_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_field_holding_the_separator_has_no_canonical_form() {
        let mut event = probe_event();
        event.actor = "a\u{1f}b".into();
        assert_eq!(
            event.canonical_text(),
            Err(CanonicalError::Separator("actor"))
        );
    }

    #[test]
    fn times_keep_six_fraction_digits_and_infinity_is_refused() {
        let t = PgTimestamp::from_datetime(DateTime::from_timestamp(0, 0).unwrap()).unwrap();
        assert_eq!(t.canonical().unwrap(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            PgTimestamp(0).canonical().unwrap(),
            "2000-01-01T00:00:00.000000Z"
        );
        assert_eq!(PgTimestamp(i64::MAX).canonical(), None);
        let mut event = probe_event();
        event.time = PgTimestamp(i64::MIN);
        assert_eq!(event.canonical_text(), Err(CanonicalError::Time));
    }
}
