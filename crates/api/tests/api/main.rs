//! HTTP-level tests: the real app on a random port, a fresh database each.
//! Every test that reaches storage runs on both engines through the storage
//! suite's macro (`<file>::portable::<test>`, `<file>::timescale::<test>`);
//! tests of HTTP alone (routing, transport timeouts, headers) run on the
//! portable engine and say so where they are.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod analytics;
mod auth;
mod corpus;
mod faults;
mod graph;
mod helpers;
mod hostile;
mod ingest;
mod interventions;
mod manager;
mod operations;
mod privacy;
mod transport;
mod trends;
