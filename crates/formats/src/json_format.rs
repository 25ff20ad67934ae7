//! A JSON array of objects, or NDJSON (one object per line).

use organism_domain::{RawSample, parse_timestamp};
use serde_json::{Map, Value};

use crate::FormatError;

/// The array is read one element at a time: only one row's `Value` exists
/// at once, never a tree of the whole document (which cost about 8 times
/// the body's size).
pub fn read_array(
    bytes: &[u8],
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'[') {
        // Valid JSON that is not an array, or not JSON at all.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => FormatError::Malformed("the body must be a JSON array of samples".into()),
                Err(e) => FormatError::Malformed(format!("invalid JSON: {e}")),
            },
        );
    }
    let mut failed = None;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let rows = Rows {
        push,
        failed: &mut failed,
    };
    let read = serde::Deserializer::deserialize_seq(&mut deserializer, rows)
        .and_then(|()| deserializer.end());
    match (failed, read) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(FormatError::Malformed(format!("invalid JSON: {e}"))),
        (None, Ok(())) => Ok(()),
    }
}

/// Visits the array's elements, pushing each as it is read; a row's error
/// is kept in `failed` and stops the reading.
struct Rows<'a, F> {
    push: &'a mut F,
    failed: &'a mut Option<FormatError>,
}

impl<'de, F> serde::de::Visitor<'de> for Rows<'_, F>
where
    F: FnMut(usize, RawSample) -> Result<(), FormatError>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of samples")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut row = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            row += 1;
            if let Err(e) = raw_sample(item, row).and_then(|raw| (self.push)(row, raw)) {
                *self.failed = Some(e);
                return Err(serde::de::Error::custom("row refused"));
            }
        }
        Ok(())
    }
}

/// Blank lines are skipped and not counted; row N is the Nth object.
pub fn read_lines(
    bytes: &[u8],
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut row = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        row += 1;
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| FormatError::row(row, "row", format!("is not valid JSON: {e}")))?;
        push(row, raw_sample(value, row)?)?;
    }
    Ok(())
}

fn raw_sample(value: Value, row: usize) -> Result<RawSample, FormatError> {
    let Value::Object(map) = value else {
        return Err(FormatError::row(row, "row", "must be a JSON object"));
    };
    let number = |field: &str| -> Result<Option<f64>, FormatError> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| FormatError::row(row, field, "must be a finite number")),
            Some(other) => Err(FormatError::row(
                row,
                field,
                format!("must be a number, got {}", kind(other)),
            )),
        }
    };
    let time = string(&map, "time", row)?
        .map(|t| parse_timestamp(t).map_err(|e| FormatError::row(row, "time", e.to_string())))
        .transpose()?;
    Ok(RawSample {
        time,
        employee_id: string(&map, "employee_id", row)?.map(str::to_string),
        team: string(&map, "team", row)?.map(str::to_string),
        degree_centrality: number("degree_centrality")?,
        betweenness_centrality: number("betweenness_centrality")?,
        clustering_coeff: number("clustering_coeff")?,
        burnout_score: number("burnout_score")?,
    })
}

fn string<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    row: usize,
) -> Result<Option<&'a str>, FormatError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FormatError::row(
            row,
            field,
            format!("must be a string, got {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
