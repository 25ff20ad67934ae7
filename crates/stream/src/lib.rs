//! Ingest from an event stream (DESIGN.md §13): metric batches published
//! to a NATS JetStream stream, in the body format of `POST /api/metrics`
//! (a JSON array or NDJSON; CSV or Parquet when the message's
//! `Content-Type` header says so), read by a durable pull consumer and
//! written with the store's all-or-nothing, idempotent batch writer.
//!
//! [`settings`] checks what the operator asked for; [`decode`] turns a
//! message into samples with the HTTP endpoint's parsers and rules, or
//! into the error that endpoint would answer; [`consumer`] connects, binds
//! the durable consumer, and runs the loop that acknowledges only after
//! commit. docs/STREAM-INGEST.md is the operator's guide.

pub mod consumer;
pub mod decode;
pub mod settings;

pub use consumer::{Consumer, Totals};
pub use settings::{RawStreamSettings, StreamSettings};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A setting is malformed; nothing was started.
    #[error("{0}")]
    Config(String),
    /// The NATS server cannot be reached.
    #[error("cannot connect to NATS at {0}")]
    Connect(String),
    /// The stream, the dead-letter stream or the durable consumer is not
    /// as needed.
    #[error("{0}")]
    Setup(String),
}
