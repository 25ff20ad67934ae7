//! Every metrics file parser (CSV, NDJSON, JSON array, Parquet) on arbitrary
//! bytes: it must return an error or samples, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = organism_formats::parse_fuzz_input(data);
});
