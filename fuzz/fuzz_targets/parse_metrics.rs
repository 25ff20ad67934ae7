//! Every metrics file parser (CSV, NDJSON, JSON array, Parquet) on arbitrary
//! bytes: it must return an error or samples, never panic or hang; and what
//! it accepts must be storable: times inside the fixed clock's window (the
//! 730 kept days before 2026-01-01 to 5 minutes after), every value exactly
//! 0 or at least 1e-100 (nothing that underflows PostgreSQL's float8), and no
//! NUL in any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// 2026-01-01T00:00:00Z, the clock of `parse_fuzz_input`.
const NOW: i64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    if let Some((_, Ok(samples))) = organism_formats::parse_fuzz_input(data) {
        let oldest = NOW - i64::from(organism_formats::FUZZ_KEPT_DAYS) * 86_400;
        for s in &samples {
            let t = s.time.timestamp();
            assert!((oldest..=NOW + 300).contains(&t), "time {}", s.time);
            let v = s.values;
            for x in [
                v.degree_centrality,
                v.betweenness_centrality,
                v.clustering_coeff,
                v.burnout_score,
            ] {
                assert!(x.to_bits() == 0 || x >= 1e-100, "value {x:e}");
            }
            assert!(!s.employee_id.as_str().contains('\0'));
            assert!(!s.team.as_ref().is_some_and(|t| t.as_str().contains('\0')));
        }
    }
});
