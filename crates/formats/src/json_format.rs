//! A JSON array of objects, or NDJSON (one object per line).

use organism_domain::RawSample;
use serde_json::{Map, Value};

use crate::FormatError;
use crate::time::parse_time;

pub fn read_array(
    bytes: &[u8],
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| FormatError::Malformed(format!("invalid JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(FormatError::Malformed(
            "the body must be a JSON array of samples".into(),
        ));
    };
    for (i, item) in items.into_iter().enumerate() {
        let row = i + 1;
        push(row, raw_sample(item, row)?)?;
    }
    Ok(())
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
        .map(|t| parse_time(t).map_err(|m| FormatError::row(row, "time", m)))
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
