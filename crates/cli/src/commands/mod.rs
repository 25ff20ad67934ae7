//! One module per command.

pub mod analyze;
pub mod audit;
pub mod bench;
pub mod consume;
pub mod demo;
pub mod graph;
pub mod ingest;
pub mod keys;
pub mod maintain;
pub mod migrate;
pub mod serve;
