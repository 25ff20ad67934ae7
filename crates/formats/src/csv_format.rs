//! CSV with a header line.

use organism_domain::{RawSample, parse_timestamp};

use crate::{FormatError, REQUIRED_COLUMNS};

/// Where each column is in the header.
struct Columns {
    time: usize,
    employee_id: usize,
    team: Option<usize>,
    metrics: [usize; 4],
}

fn columns(header: &csv::ByteRecord) -> Result<Columns, FormatError> {
    let find = |name: &str| header.iter().position(|h| trim_bom(h) == name.as_bytes());
    let need = |name: &str| find(name).ok_or_else(|| FormatError::MissingColumn(name.to_string()));
    Ok(Columns {
        time: need(REQUIRED_COLUMNS[0])?,
        employee_id: need(REQUIRED_COLUMNS[1])?,
        team: find("team"),
        metrics: [
            need(REQUIRED_COLUMNS[2])?,
            need(REQUIRED_COLUMNS[3])?,
            need(REQUIRED_COLUMNS[4])?,
            need(REQUIRED_COLUMNS[5])?,
        ],
    })
}

fn trim_bom(field: &[u8]) -> &[u8] {
    field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
}

pub fn read(
    bytes: &[u8],
    push: &mut impl FnMut(usize, RawSample) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| FormatError::Malformed(format!("cannot read the CSV header: {e}")))?
        .clone();
    if header.is_empty() {
        return Ok(());
    }
    let cols = columns(&header)?;
    let mut record = csv::ByteRecord::new();
    let mut row = 0usize;
    loop {
        row += 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(FormatError::row(row, "row", format!("cannot be read: {e}"))),
        }
        push(row, raw_sample(&record, &cols, row)?)?;
    }
    Ok(())
}

fn text<'a>(
    record: &'a csv::ByteRecord,
    index: usize,
    field: &str,
    row: usize,
) -> Result<Option<&'a str>, FormatError> {
    match record.get(index) {
        None | Some(b"") => Ok(None),
        Some(b) => std::str::from_utf8(b)
            .map(Some)
            .map_err(|_| FormatError::row(row, field, "is not valid UTF-8")),
    }
}

fn raw_sample(
    record: &csv::ByteRecord,
    cols: &Columns,
    row: usize,
) -> Result<RawSample, FormatError> {
    let time = text(record, cols.time, "time", row)?
        .map(|t| parse_timestamp(t).map_err(|e| FormatError::row(row, "time", e.to_string())))
        .transpose()?;
    let number = |i: usize, field: &str| -> Result<Option<f64>, FormatError> {
        text(record, cols.metrics[i], field, row)?
            .map(|t| {
                t.trim().parse::<f64>().map_err(|_| {
                    FormatError::row(row, field, format!("must be a number, got {t:?}"))
                })
            })
            .transpose()
    };
    Ok(RawSample {
        time,
        employee_id: text(record, cols.employee_id, "employee_id", row)?.map(str::to_string),
        team: match cols.team {
            Some(i) => text(record, i, "team", row)?.map(str::to_string),
            None => None,
        },
        degree_centrality: number(0, REQUIRED_COLUMNS[2])?,
        betweenness_centrality: number(1, REQUIRED_COLUMNS[3])?,
        clustering_coeff: number(2, REQUIRED_COLUMNS[4])?,
        burnout_score: number(3, REQUIRED_COLUMNS[5])?,
    })
}
