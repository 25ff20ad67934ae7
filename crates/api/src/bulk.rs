//! A metrics document (a request body, a file) written in one transaction
//! without holding all of its rows in memory.
//!
//! Two passes over the bytes. The first validates every row and keeps
//! none, so a bad row is refused (naming it) before the database is
//! touched. The second parses again with the same window, which gives the
//! same samples, and streams them in chunks into
//! [`Store::write_chunks`]: at any time only a few chunks exist beside the
//! bytes themselves. Parsing twice costs CPU, not memory; the memory of a
//! 64 MiB body is what a server under hostile load runs out of first.

use bytes::Bytes;
use organism_domain::{MetricSample, SampleWindow};
use organism_formats::{Format, FormatError};
use organism_store::writer::WriteSummary;
use organism_store::{Store, StoreError};

/// Rows per chunk: about 3 MB of samples.
pub const CHUNK_ROWS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The document is malformed or a row broke a rule; nothing was written.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The database refused or failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates `body`, then writes it in one transaction. `on_chunk` is told
/// the size of each chunk as it goes to the database (progress bars).
pub async fn write_document(
    store: &Store,
    format: Format,
    body: Bytes,
    window: SampleWindow,
    chunk_rows: usize,
    on_chunk: impl Fn(usize) + Send + 'static,
) -> Result<WriteSummary, BulkError> {
    let checked = body.clone();
    tokio::task::spawn_blocking(move || {
        organism_formats::parse_samples_chunked(format, &checked, &window, chunk_rows, |_| Ok(()))
    })
    .await
    .map_err(task_failed)??;

    type Chunk = Result<Vec<MetricSample>, StoreError>;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(1);
    let parser = tokio::task::spawn_blocking(move || {
        let parsed =
            organism_formats::parse_samples_chunked(format, &body, &window, chunk_rows, |chunk| {
                sender
                    .blocking_send(Ok(chunk))
                    .map_err(|_| FormatError::Malformed("the write stopped".to_string()))
            });
        // The first pass accepted these bytes, so this cannot fail; if it
        // did, an error item makes the write roll back instead of
        // committing what came before it.
        if let Err(e) = parsed {
            let _ = sender.blocking_send(Err(StoreError::Database(format!(
                "the second parse of a validated document failed: {e}"
            ))));
        }
    });
    let chunks = futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx).map(|item| {
            item.inspect(|chunk| {
                if let Ok(rows) = chunk {
                    on_chunk(rows.len());
                }
            })
        })
    });
    let written = store.write_chunks(chunks).await;
    // The parser ends once the stream is dropped (its send fails).
    parser.await.map_err(task_failed)?;
    Ok(written?)
}

fn task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Database(format!("parser task: {e}"))
}
