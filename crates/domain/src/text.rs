//! Text that PostgreSQL can store.
//!
//! PostgreSQL's `text` and `jsonb` cannot hold the NUL character (U+0000):
//! a bind parameter containing it fails with "invalid byte sequence" and a
//! `jsonb` value with "unsupported Unicode escape sequence", which would be
//! a 500. Every other Unicode scalar value can be stored in a UTF-8
//! database; invalid UTF-8 and lone surrogates (`"\ud800"`) never get this
//! far, because Rust strings cannot hold them and serde_json refuses them
//! while parsing. So NUL is the one character refused here, by name of the
//! field, before any text reaches SQL. Fields with narrower rules (ids,
//! team names, actors) refuse it already as a control character.

use serde_json::Value;

use crate::ValidationError;

/// Refuses `text` if PostgreSQL cannot store it (it contains NUL).
pub fn check_storable_text(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.contains('\0') {
        return Err(ValidationError::new(
            field,
            "must not contain the NUL character (U+0000), which the database cannot store",
        ));
    }
    Ok(())
}

/// The largest magnitude of a number in a stored JSON document. PostgreSQL
/// keeps a `jsonb` number as an exact decimal; one near the largest double
/// (1.797…e308) comes back as a 309-digit integer that a double cannot hold
/// again, so the document could be stored but never read. 1e300 leaves
/// room for every rounding.
pub const MAX_JSON_NUMBER: f64 = 1e300;

/// Refuses a JSON document with NUL in any string or object key, or a
/// number beyond ±[`MAX_JSON_NUMBER`], at any depth. The error names the place: `details.note`, `details.items[2]`,
/// and for a key the path of the object that holds it.
pub fn check_storable_json(field: &str, value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::String(s) => check_storable_text(field, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_storable_json(&format!("{field}[{i}]"), item)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.contains('\0') {
                return Err(ValidationError::new(
                    field,
                    "must not have a key containing the NUL character (U+0000), which the database cannot store",
                ));
            }
            check_storable_json(&format!("{field}.{key}"), item)
        }),
        Value::Number(n) if n.as_f64().is_some_and(|v| v.abs() > MAX_JSON_NUMBER) => {
            Err(ValidationError::new(
                field,
                format!("must be a number from -1e300 to 1e300, got {n}"),
            ))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_anywhere_in_a_document_is_named_by_its_path() {
        let doc = json!({"note": "a\u{0}b"});
        assert_eq!(
            check_storable_json("details", &doc).unwrap_err().field,
            "details.note"
        );
        let doc = json!({"a": {"b": [1, "ok", {"c": "\u{0}"}]}});
        assert_eq!(
            check_storable_json("details", &doc).unwrap_err().field,
            "details.a.b[2].c"
        );
        let doc = json!({"a": {"k\u{0}": 1}});
        assert_eq!(
            check_storable_json("details", &doc).unwrap_err().field,
            "details.a"
        );
    }

    #[test]
    fn numbers_beyond_1e300_are_refused_by_their_path() {
        let doc = json!({"a": [1, {"b": 1.7976931348623157e308}]});
        assert_eq!(
            check_storable_json("details", &doc).unwrap_err().field,
            "details.a[1].b"
        );
        assert!(check_storable_json("details", &json!({"x": -1e301})).is_err());
        assert!(
            check_storable_json("details", &json!({"x": 1e300, "y": -1e300, "z": u64::MAX}))
                .is_ok()
        );
    }

    #[test]
    fn other_text_is_storable() {
        let doc = json!({"note": "Ventes – Nord 研究 🔥 \u{1}\u{7f}", "n": 1, "x": null});
        assert!(check_storable_json("details", &doc).is_ok());
        assert!(check_storable_text("team", "\u{202e}").is_ok());
        assert!(check_storable_text("team", "\u{0}").is_err());
    }

    #[test]
    fn serde_json_refuses_lone_surrogates() {
        for text in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""a\ud800b""#,
            r#"{"\ud800": 1}"#,
        ] {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        }
        // A pair is one character and fine.
        assert_eq!(
            serde_json::from_str::<Value>(r#""\ud83d\udd25""#).unwrap(),
            json!("🔥")
        );
    }
}
