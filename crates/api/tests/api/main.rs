//! HTTP-level tests: the real app on a random port, a fresh database each.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

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
