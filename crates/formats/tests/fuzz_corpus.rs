//! Replays the committed corpus of the cargo-fuzz target `parse_metrics`
//! (`fuzz/corpus/parse_metrics`) through the same function, on stable: every
//! entry returns without panicking, the same way twice; `ok_*` entries parse
//! and `bad_*` entries are refused; whatever parses is storable (the same
//! checks as the fuzz target's).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use organism_domain::{FLUSH_TO_ZERO_BELOW, MetricSample};

/// Times inside the fixed clock's window, every value 0 or at least
/// [`FLUSH_TO_ZERO_BELOW`], no NUL in text.
fn storable(name: &str, samples: &[MetricSample]) {
    let now = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap();
    let oldest = now - Duration::days(i64::from(organism_formats::FUZZ_KEPT_DAYS));
    for s in samples {
        assert!(
            (oldest..=now + Duration::minutes(5)).contains(&s.time),
            "{name}: {}",
            s.time
        );
        let v = s.values;
        for x in [
            v.degree_centrality,
            v.betweenness_centrality,
            v.clustering_coeff,
            v.burnout_score,
        ] {
            assert!(
                x.to_bits() == 0 || x >= FLUSH_TO_ZERO_BELOW,
                "{name}: {x:e}"
            );
        }
        assert!(!s.employee_id.as_str().contains('\0'), "{name}");
        assert!(
            !s.team.as_ref().is_some_and(|t| t.as_str().contains('\0')),
            "{name}"
        );
    }
}

#[test]
fn the_fuzz_corpus_parses_as_named_and_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/parse_metrics");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let (mut ok, mut bad) = (0, 0);
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let (_, first) = organism_formats::parse_fuzz_input(&data).unwrap();
        let (_, second) = organism_formats::parse_fuzz_input(&data).unwrap();
        assert_eq!(format!("{first:?}"), format!("{second:?}"), "{name}");
        if let Ok(samples) = &first {
            storable(&name, samples);
        }
        if name.starts_with("ok_") {
            let samples = first.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(!samples.is_empty(), "{name}");
            ok += 1;
        } else if name.starts_with("bad_") {
            assert!(first.is_err(), "{name} parsed: {first:?}");
            bad += 1;
        }
        // Anything else (entries the fuzzer found) only has to return.
    }
    assert!(ok >= 7 && bad >= 18, "{ok} ok and {bad} bad entries");
    assert!(organism_formats::parse_fuzz_input(&[]).is_none());
}
