//! The OpenAPI schemas of the domain's text types, written beside the rules
//! they describe: each pattern accepts exactly what the type's `parse`
//! accepts, so the API document (crates/api) says what the service enforces.
//! A test below checks each pattern against the parser on the same inputs.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::alert::{RuleId, WebhookUrl};
use crate::{Actor, EmployeeId, InterventionId, InterventionKind, TeamName};

/// Pseudonymous ids (employees, interventions): 1-128 of `[A-Za-z0-9_.:@-]`.
pub const IDENTIFIER_PATTERN: &str = r"^[A-Za-z0-9_.:@-]{1,128}$";
/// Team names: the first and last character neither white space nor a
/// control character (U+0000-U+001F, U+007F-U+009F: Rust's
/// `char::is_control`), no control character between; 1-128 characters.
pub const TEAM_NAME_PATTERN: &str =
    r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";
/// Intervention kinds: 1-64 of `[a-z0-9_]`.
pub const KIND_PATTERN: &str = r"^[a-z0-9_]{1,64}$";
/// Actors: no control character, not only white space; 1-128 characters.
pub const ACTOR_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

fn text(pattern: &str, max: usize, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(Some(max))
        .description(Some(description))
        .examples([example])
        .into()
}

macro_rules! text_schema {
    ($ty:ty, $pattern:expr, $max:expr, $description:expr, $example:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                text($pattern, $max, $description, $example)
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

text_schema!(
    EmployeeId,
    IDENTIFIER_PATTERN,
    EmployeeId::MAX_LEN,
    "pseudonymous employee id: 1-128 characters of A-Z a-z 0-9 _ . : @ -",
    "emp_001"
);
text_schema!(
    InterventionId,
    IDENTIFIER_PATTERN,
    128,
    "intervention id: 1-128 characters of A-Z a-z 0-9 _ . : @ -",
    "int-2026-0042"
);
text_schema!(
    TeamName,
    TEAM_NAME_PATTERN,
    TeamName::MAX_LEN,
    "team name: 1-128 characters, no control characters, not blank, no leading or trailing white space",
    "Data Platform"
);
text_schema!(
    InterventionKind,
    KIND_PATTERN,
    64,
    "kind of intervention: 1-64 characters of a-z 0-9 _",
    "workload_rebalance"
);
text_schema!(
    Actor,
    ACTOR_PATTERN,
    128,
    "who made the change: 1-128 characters without control characters, not blank",
    "hr.partner@example.com"
);

text_schema!(
    RuleId,
    IDENTIFIER_PATTERN,
    128,
    "alert rule id: 1-128 characters of A-Z a-z 0-9 _ . : @ -",
    "rule-high-burnout"
);
text_schema!(
    WebhookUrl,
    WebhookUrl::PATTERN,
    WebhookUrl::MAX_LEN,
    "webhook address: http:// or https://, a host (and port) of letters, digits and . : [ ] - (no user name or password), then optionally a path or query of printable ASCII; at most 2048 characters",
    "https://hooks.example.com/organism"
);

/// A timestamp of the one grammar ([`crate::time`]) as text.
pub fn timestamp() -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::TIMESTAMP_PATTERN))
        .description(Some(
            "RFC 3339 timestamp, or one without offset (taken as UTC), `T` or a space between date and time, up to 9 digits of fraction; years 1-9999",
        ))
        .examples(["2026-06-10T09:30:00Z"])
        .build()
}

/// An instant of the one grammar (a timestamp, or a bare `YYYY-MM-DD`).
pub fn instant() -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::INSTANT_PATTERN))
        .description(Some(crate::INSTANT_FORMS))
        .examples(["2026-06-01"])
        .build()
}

/// A timestamp, or null for the default.
pub fn timestamp_or_null() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(timestamp())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_instant, parse_timestamp};

    /// Whether the pattern (and the schema's length bound) accepts `text`.
    fn matches(pattern: &str, max_chars: usize, text: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(text) && text.chars().count() <= max_chars
    }

    const TEXTS: &[&str] = &[
        "emp_001",
        "a",
        "user@corp.example",
        "x:1-2.3",
        "a b",
        "a'b",
        "a/b",
        "é",
        "",
        " ",
        "\t",
        "Data Platform",
        " padded",
        "padded ",
        "Ventes – Nord",
        "研究",
        "a\nb",
        "a\u{0}",
        "a\u{7f}",
        "a\u{85}b",
        "\u{a0}x",
        "x\u{a0}",
        "\u{2003}",
        "one_on_one",
        "One",
        "a-b",
        "hr.partner@example.com",
        "  hr",
        "hr  ",
        "\u{200b}",
        "x\u{feff}",
    ];

    #[test]
    fn each_text_pattern_accepts_exactly_what_its_parser_accepts() {
        let long = [
            "z".repeat(128),
            "z".repeat(129),
            "é".repeat(128),
            "é".repeat(129),
        ];
        let texts: Vec<&str> = TEXTS
            .iter()
            .copied()
            .chain(long.iter().map(String::as_str))
            .collect();
        for text in texts {
            let id = EmployeeId::parse(text).is_ok();
            assert_eq!(
                matches(IDENTIFIER_PATTERN, 128, text),
                id,
                "employee id {text:?}"
            );
            assert_eq!(
                InterventionId::parse(text).is_ok(),
                id,
                "intervention id {text:?}"
            );
            let team = TeamName::parse(text).is_ok();
            assert_eq!(matches(TEAM_NAME_PATTERN, 128, text), team, "team {text:?}");
            let kind = InterventionKind::parse(text).is_ok();
            assert_eq!(matches(KIND_PATTERN, 64, text), kind, "kind {text:?}");
            let actor = Actor::parse(text).is_ok();
            assert_eq!(matches(ACTOR_PATTERN, 128, text), actor, "actor {text:?}");
        }
    }

    #[test]
    fn the_time_patterns_accept_exactly_what_the_grammar_accepts() {
        let times = [
            "2026-06-10T09:30:00Z",
            "2026-06-10t09:30:00z",
            "2026-06-10 09:30:00",
            "2026-06-10T09:30:00.123456789Z",
            "2026-06-10T09:30:00.1234567890Z",
            "2026-06-10T09:30:00+02",
            "2026-06-10T09:30:00+0200",
            "2026-06-10T09:30:00+02:00",
            "2026-06-10T09:30:00-00:00",
            "2026-06-10T09:30:00+24:00",
            "2026-06-10T09:30:60Z",
            "2026-06-10T24:00:00Z",
            "2026-02-29T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-6-10T09:30:00Z",
            "2026-06-10T09:30:00 Z",
            "2026-06-10T09:30:00ZZ",
            "2026-06-10",
            "2026-13-01",
            "2026-00-10",
            "+2026-06-10T09:30:00Z",
            "20260-06-10T09:30:00Z",
            "2026-06-10T9:30:00Z",
            "2026-06-10T09:30",
            "2026-06-10T09:30:00.Z",
            "0400-02-29T12:00:00Z",
            "0100-02-29T12:00:00Z",
        ];
        for text in times {
            assert_eq!(
                matches(crate::TIMESTAMP_PATTERN, usize::MAX, text),
                parse_timestamp(text).is_ok(),
                "timestamp {text:?}"
            );
            assert_eq!(
                matches(crate::INSTANT_PATTERN, usize::MAX, text),
                parse_instant(text, false).is_ok(),
                "instant {text:?}"
            );
        }
    }
}
