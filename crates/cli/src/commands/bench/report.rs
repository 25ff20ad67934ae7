//! The benchmark's figures beside the requirements' targets and ours
//! (issue 6), as one printed table and as JSON.
//!
//! A requirement gives a bound without a percentile ("single write < 10
//! ms"): it is held against the p99, the strictest reading. Our targets
//! name their percentile.

use serde::{Serialize, Serializer};

/// A bound a figure should meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The figure must be below this.
    Below(f64),
    /// The figure must be at least this.
    AtLeast(f64),
    /// No bound.
    None,
}

impl Bound {
    fn met(self, value: Option<f64>) -> Option<bool> {
        let value = value?;
        match self {
            Bound::Below(b) => Some(value < b),
            Bound::AtLeast(b) => Some(value >= b),
            Bound::None => None,
        }
    }
}

/// One line of the table: a measure, its figure(s), and both bounds.
#[derive(Debug, Clone)]
pub struct Line {
    pub measure: String,
    /// What is shown as the figure ("p50 1.2 / p95 … ms").
    pub shown: String,
    /// The requirement as written, the statistic it is held against, and
    /// that statistic's value.
    pub requirement: (&'static str, Bound, Option<f64>),
    /// Our target as written, its statistic's value.
    pub target: (&'static str, Bound, Option<f64>),
}

impl Line {
    pub fn requirement_met(&self) -> Option<bool> {
        self.requirement.1.met(self.requirement.2)
    }

    pub fn target_met(&self) -> Option<bool> {
        self.target.1.met(self.target.2)
    }
}

/// A line as the JSON report gives it: the texts, the values and whether
/// each bound is met.
#[derive(Serialize)]
struct LineJson<'a> {
    measure: &'a str,
    figure: &'a str,
    requirement: &'static str,
    requirement_value: Option<f64>,
    requirement_met: Option<bool>,
    target: &'static str,
    target_value: Option<f64>,
    target_met: Option<bool>,
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        LineJson {
            measure: &self.measure,
            figure: &self.shown,
            requirement: self.requirement.0,
            requirement_value: self.requirement.2,
            requirement_met: self.requirement_met(),
            target: self.target.0,
            target_value: self.target.2,
            target_met: self.target_met(),
        }
        .serialize(serializer)
    }
}

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "MISS",
        None => "-",
    }
}

/// Each figure of this run beside the same measure's in an earlier run's
/// JSON report (`organism bench --compare OLD.json`), with the change of
/// the statistic our target is held against. A measure the earlier run did
/// not have says so; one it had and this run lacks is listed last.
pub fn comparison(lines: &[Line], old: &serde_json::Value) -> Result<String, String> {
    let old_lines = old
        .get("targets")
        .and_then(serde_json::Value::as_array)
        .ok_or(
            "the earlier report has no \"targets\" array: is it an `organism bench --json` file?",
        )?;
    let old_of = |measure: &str| {
        old_lines
            .iter()
            .find(|l| l.get("measure").and_then(|m| m.as_str()) == Some(measure))
    };
    let mut rows: Vec<[String; 4]> = lines
        .iter()
        .map(|l| {
            let before = old_of(&l.measure);
            let shown_before = before
                .and_then(|b| b.get("figure"))
                .and_then(|f| f.as_str())
                .unwrap_or("(not measured)")
                .to_string();
            let value_before = before
                .and_then(|b| b.get("target_value"))
                .and_then(serde_json::Value::as_f64);
            let change = match (l.target.2, value_before) {
                (Some(now), Some(was)) if was != 0.0 => {
                    format!("{:+.1} %", 100.0 * (now - was) / was.abs())
                }
                _ => "-".to_string(),
            };
            [l.measure.clone(), l.shown.clone(), shown_before, change]
        })
        .collect();
    for gone in old_lines {
        let Some(measure) = gone.get("measure").and_then(|m| m.as_str()) else {
            continue;
        };
        if !lines.iter().any(|l| l.measure == measure) {
            let figure = gone.get("figure").and_then(|f| f.as_str()).unwrap_or("?");
            rows.push([
                measure.to_string(),
                "(not measured)".to_string(),
                figure.to_string(),
                "-".to_string(),
            ]);
        }
    }
    Ok(render_table(
        &[
            "measure",
            "this run",
            "earlier run",
            "change of the target's statistic",
        ],
        &rows,
    ))
}

/// The table, as printed.
pub fn table(lines: &[Line]) -> String {
    let headers = [
        "measure",
        "figure",
        "requirement",
        "met",
        "our target",
        "met",
    ];
    let rows: Vec<[String; 6]> = lines
        .iter()
        .map(|l| {
            [
                l.measure.clone(),
                l.shown.clone(),
                l.requirement.0.to_string(),
                mark(l.requirement_met()).to_string(),
                l.target.0.to_string(),
                mark(l.target_met()).to_string(),
            ]
        })
        .collect();
    render_table(&headers, &rows)
}

/// A Markdown-style table of `rows` under `headers`, columns padded.
fn render_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = String::new();
    out.push_str(&render(&headers.map(String::from)));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in rows {
        out.push_str(&render(row));
        out.push('\n');
    }
    out
}

/// Milliseconds for the table.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_judge_figures_and_say_nothing_without_one() {
        assert_eq!(Bound::Below(10.0).met(Some(9.9)), Some(true));
        assert_eq!(Bound::Below(10.0).met(Some(10.0)), Some(false));
        assert_eq!(Bound::AtLeast(85.0).met(Some(85.0)), Some(true));
        assert_eq!(Bound::None.met(Some(1.0)), None);
        assert_eq!(Bound::Below(1.0).met(None), None);
    }

    #[test]
    fn the_table_has_a_header_a_rule_and_one_row_per_line() {
        let line = Line {
            measure: "single write".into(),
            shown: "p50 1.00 ms".into(),
            requirement: ("< 10 ms (p99)", Bound::Below(10.0), Some(3.0)),
            target: ("p50 < 2 ms", Bound::Below(2.0), Some(1.0)),
        };
        let t = table(&[line]);
        assert_eq!(t.lines().count(), 3);
        assert!(t.lines().nth(2).unwrap().contains("| yes"));
    }

    #[test]
    fn a_comparison_puts_each_figure_beside_the_earlier_runs_with_the_change() {
        let line = |measure: &str, shown: &str, value: f64| Line {
            measure: measure.into(),
            shown: shown.into(),
            requirement: ("< 1 s (p99)", Bound::Below(1000.0), Some(value)),
            target: ("p99 < 20 ms", Bound::Below(20.0), Some(value)),
        };
        let now = [
            line("team trend", "p99 15 ms", 15.0),
            line("health", "p50 1 ms", 1.0),
        ];
        let old = serde_json::json!({"targets": [
            serde_json::to_value(line("team trend", "p99 20 ms", 20.0)).unwrap(),
            serde_json::to_value(line("ingest", "100 rows/s", 100.0)).unwrap(),
        ]});
        let t = comparison(&now, &old).unwrap();
        let rows: Vec<&str> = t.lines().collect();
        assert_eq!(rows.len(), 2 + 3, "{t}");
        assert!(
            rows[2].contains("p99 15 ms")
                && rows[2].contains("p99 20 ms")
                && rows[2].contains("-25.0 %"),
            "{t}"
        );
        assert!(
            rows[3].contains("health") && rows[3].contains("(not measured)"),
            "{t}"
        );
        assert!(
            rows[4].contains("ingest") && rows[4].contains("100 rows/s"),
            "{t}"
        );
        let err = comparison(&now, &serde_json::json!({"engine": "portable"})).unwrap_err();
        assert!(err.contains("targets"), "{err}");
    }

    #[test]
    fn a_line_serialises_as_its_texts_values_and_verdicts() {
        let line = Line {
            measure: "batch of 100".into(),
            shown: "p50 12 ms".into(),
            requirement: ("< 1 s (p99)", Bound::Below(1000.0), Some(30.0)),
            target: ("p50 < 10 ms", Bound::Below(10.0), Some(12.0)),
        };
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            serde_json::json!({
                "measure": "batch of 100",
                "figure": "p50 12 ms",
                "requirement": "< 1 s (p99)",
                "requirement_value": 30.0,
                "requirement_met": true,
                "target": "p50 < 10 ms",
                "target_value": 12.0,
                "target_met": false,
            })
        );
    }
}
