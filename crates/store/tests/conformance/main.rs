//! The storage conformance suite: every test runs on the portable engine,
//! and on the timescale engine wherever the TimescaleDB extension is
//! installed (elsewhere each timescale case prints `SKIPPED … because …`).
//! Every test gets a fresh database in the process's throwaway cluster.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod alerts;
mod audit;
mod backfill;
mod compression;
mod data;
mod entitlement;
mod jobs;
mod keys;
mod migrations;
mod numerics;
mod queries;
mod retention;
mod rollup;
mod scheduler;
mod schema;
mod writer;
