//! JSON by default; CSV when the client's `Accept` asks for `text/csv`.
//!
//! # Formula injection
//!
//! A spreadsheet opening the CSV runs a cell that begins with `=`, `+`, `-`
//! or `@` (and, in some, a tab or carriage return) as a formula: a team
//! named `=HYPERLINK("http://x","y")` becomes a link, and worse formulas can
//! run commands or send data away. Team names are human text and may start
//! with any of these, so every **text** cell that starts with one is
//! neutralised the way OWASP recommends ("CSV Injection"): a single quote
//! `'` is put in front and the cell is quoted. Numbers are left alone (a
//! number is not a formula, and `-0.5` must stay a number); a cell counts as
//! a number when the row's JSON form has a number there, so a text cell that
//! merely looks numeric (an id `-5`) is neutralised too.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::ApiError;

pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|part| part.trim().starts_with("text/csv"))
        })
}

/// `body` as JSON, or `rows` as CSV with a header line when asked.
pub fn json_or_csv<B: Serialize, R: Serialize>(
    headers: &HeaderMap,
    body: &B,
    rows: &[R],
) -> Result<Response, ApiError> {
    if !wants_csv(headers) {
        return Ok(Json(body).into_response());
    }
    let bytes = csv_of(rows)?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

/// The rows as CSV with a header line, text cells neutralised (module docs).
///
/// The csv crate decides the columns and the text of each cell, as it always
/// has; each row's JSON form tells which cells are text.
fn csv_of<R: Serialize>(rows: &[R]) -> Result<Vec<u8>, ApiError> {
    let internal = |e: &dyn std::fmt::Display| ApiError::Internal(format!("csv: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(|e| internal(&e))?;
    }
    let plain = writer.into_inner().map_err(|e| internal(&e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(plain.as_slice());
    let names = reader.headers().map_err(|e| internal(&e))?.clone();
    let mut out = Vec::with_capacity(plain.len() + plain.len() / 16);
    if !names.is_empty() {
        let header: Vec<&str> = names.iter().collect();
        write_record(&mut out, header.iter().map(|h| (*h, false)));
    }
    for (record, row) in reader.records().zip(rows) {
        let record = record.map_err(|e| internal(&e))?;
        let json = serde_json::to_value(row).map_err(|e| internal(&e))?;
        let cells = record.iter().zip(names.iter()).map(|(cell, name)| {
            let text = !matches!(json.get(name), Some(Value::Number(_)));
            (cell, text)
        });
        write_record(&mut out, cells);
    }
    Ok(out)
}

/// Whether a spreadsheet could take this text cell for a formula.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// One CSV line (RFC 4180): a cell is quoted when it holds a separator,
/// a quote or a line break, and a formula-like text cell gets a leading `'`
/// and is quoted.
fn write_record<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = (&'a str, bool)>) {
    for (i, (cell, text)) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let neutralise = text && is_formula_like(cell);
        let quote = neutralise || cell.contains([',', '"', '\r', '\n']);
        if quote {
            out.push(b'"');
        }
        if neutralise {
            out.push(b'\'');
        }
        out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
        if quote {
            out.push(b'"');
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        team: Option<String>,
        employee_id: String,
        value: f64,
        count: i64,
    }

    #[test]
    fn formula_like_text_cells_are_quoted_behind_a_single_quote() {
        let rows = [
            Row {
                team: Some("=HYPERLINK(\"http://x\",\"y\")".into()),
                employee_id: "@emp".into(),
                value: -0.5,
                count: -3,
            },
            Row {
                team: Some("+Core".into()),
                employee_id: "-5".into(),
                value: 0.25,
                count: 7,
            },
            Row {
                team: None,
                employee_id: "emp,1".into(),
                value: 1e-5,
                count: 0,
            },
        ];
        let text = String::from_utf8(csv_of(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "team,employee_id,value,count\n\
             \"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"'@emp\",-0.5,-3\n\
             \"'+Core\",\"'-5\",0.25,7\n\
             ,\"emp,1\",0.00001,0\n"
        );
        // A CSV reader gets the text back with its leading quote.
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let first = reader.records().next().unwrap().unwrap();
        assert_eq!(&first[0], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(&first[2], "-0.5");
    }

    #[derive(Serialize)]
    struct Text {
        a: &'static str,
        b: &'static str,
        c: &'static str,
    }

    #[test]
    fn tabs_and_carriage_returns_at_the_start_are_neutralised() {
        let text = String::from_utf8(
            csv_of(&[Text {
                a: "\tcmd",
                b: "\rcmd",
                c: "x\ny",
            }])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(text, "a,b,c\n\"'\tcmd\",\"'\rcmd\",\"x\ny\"\n");
    }

    #[test]
    fn plain_cells_are_written_as_the_csv_crate_writes_them() {
        let rows = [
            Row {
                team: Some("Data Platform".into()),
                employee_id: "emp_1".into(),
                value: 42.0,
                count: 3,
            },
            Row {
                team: Some("Ventes – Nord \"A\"".into()),
                employee_id: "e".into(),
                value: 0.0,
                count: 0,
            },
        ];
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in &rows {
            writer.serialize(row).unwrap();
        }
        assert_eq!(csv_of(&rows).unwrap(), writer.into_inner().unwrap());
        assert!(csv_of(&Vec::<Row>::new()).unwrap().is_empty());
    }
}
