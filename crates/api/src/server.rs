//! The HTTP server: hyper's HTTP/1.1 connections under the axum router, with
//! the bounds a hostile client needs (issue 13, item 7).
//!
//! * **Connections**: at most `max_connections` are served at once. At the
//!   cap the server stops accepting: new connections wait in the kernel's
//!   listen backlog (they hold no descriptor of ours) and are served as soon
//!   as one closes, which the timeouts below guarantee within seconds.
//! * **Header-read timeout**: a request's header must arrive completely
//!   within `header_read_timeout` of the connection being ready for it (a
//!   slowloris client sending half a header is closed). hyper starts this
//!   timer as soon as the connection waits for its next request, so it is
//!   also how long an idle keep-alive connection stays open.
//! * **Idle timeout**: a connection on which no byte moves in either
//!   direction for `idle_timeout` is closed, unless a handler is computing
//!   its answer: a stalled request body, or a client that stops reading the
//!   response, does not hold a connection.
//! * **Request timeout**: a handler that has not answered `request_timeout`
//!   plus one second per MiB of body after the request's body arrived
//!   (after the header, when it reads no body; the allowance is for the
//!   parse and the write of a large batch: 64 MiB of CSV is 940,000 rows)
//!   is abandoned and the client gets 503 `request_timeout` with
//!   Retry-After. This is the client-side bound on a database that stopped
//!   answering without closing its socket (frozen, or a partition the
//!   kernel has not noticed): the database's own `statement_timeout` cannot
//!   fire there.
//!
//! HTTP/2 is not offered: there is no TLS (so no ALPN), browsers speak
//! HTTP/1.1 to such a server, and the timeouts above are HTTP/1 ones.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::{ApiConfig, ApiError};

/// Serves `router` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish, and returns once every connection closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: Arc<ApiConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let router = router.clone();
            let request_timeout = config.request_timeout;
            hyper::service::service_fn(move |request: Request<Incoming>| {
                handle(router.clone(), activity.clone(), request_timeout, request)
            })
        };
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        let idle_timeout = config.idle_timeout;
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = activity.idle(idle_timeout) => {
                    tracing::debug!("closing a connection idle for {idle_timeout:?}");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One request: the router, bounded by the request timeout.
async fn handle(
    router: Router,
    activity: Arc<Activity>,
    request_timeout: Duration,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let _computing = activity.handler_started();
    let progress = Arc::new(Mutex::new(BodyProgress::default()));
    let request = request.map(|body| {
        Body::new(WatchedBody {
            inner: body,
            activity: activity.clone(),
            progress: progress.clone(),
            waiting: false,
        })
    });
    let answer = router.oneshot(request);
    tokio::pin!(answer);
    loop {
        let bound = |p: &BodyProgress| request_timeout + Duration::from_secs(p.bytes >> 20);
        let deadline = match progress.lock().map(|p| *p).unwrap_or_default() {
            // The body is still arriving: the idle timeout bounds stalls.
            BodyProgress {
                started: true,
                done_at: None,
                ..
            } => Instant::now() + request_timeout,
            p @ BodyProgress {
                done_at: Some(done),
                ..
            } => done + bound(&p),
            BodyProgress { .. } => started + request_timeout,
        };
        tokio::select! {
            response = &mut answer => return Ok(response.unwrap_or_else(|e| match e {})),
            () = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                let body = progress.lock().map(|p| *p).unwrap_or_default();
                let due = match body {
                    BodyProgress { started: true, done_at: None, .. } => false,
                    p @ BodyProgress { done_at: Some(done), .. } => now >= done + bound(&p),
                    BodyProgress { .. } => now >= started + request_timeout,
                };
                if due {
                    tracing::warn!(?request_timeout, "a request did not complete in time; answering 503");
                    return Ok(timed_out(request_timeout));
                }
            }
        }
    }
}

fn timed_out(limit: Duration) -> Response {
    ApiError::Unavailable {
        code: "request_timeout",
        message: format!(
            "the request did not complete within {} s of being received; the database may be slow or unavailable; retry later",
            limit.as_secs_f64()
        ),
        retry_after_s: 5,
    }
    .into_response()
}

/// What a connection is doing, for the idle timeout.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Handlers running.
    handlers: AtomicUsize,
    /// Of those, how many are waiting for request body bytes.
    waiting_for_body: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            handlers: AtomicUsize::new(0),
            waiting_for_body: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// A handler computing its answer (not waiting for its body) keeps the
    /// connection from being idle.
    fn computing(&self) -> bool {
        self.handlers.load(Ordering::Relaxed) > self.waiting_for_body.load(Ordering::Relaxed)
    }

    fn handler_started(self: &Arc<Self>) -> HandlerGuard {
        self.handlers.fetch_add(1, Ordering::Relaxed);
        HandlerGuard(self.clone())
    }

    /// Completes once the connection has been idle for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let silent = self.silent_for();
            if silent >= limit && !self.computing() {
                return;
            }
            let wait = if silent >= limit {
                limit
            } else {
                limit - silent
            };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

#[derive(Debug)]
struct HandlerGuard(Arc<Activity>);

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        self.0.handlers.fetch_sub(1, Ordering::Relaxed);
        // The answer is written from here on: count from now.
        self.0.touch();
    }
}

/// The socket, noting every byte that moves.
#[derive(Debug)]
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How far a request's body has arrived.
#[derive(Debug, Clone, Copy, Default)]
struct BodyProgress {
    /// The handler started reading it.
    started: bool,
    /// Its end (or an error) was read.
    done_at: Option<Instant>,
    /// Bytes of it read so far.
    bytes: u64,
}

/// A request body that tells the connection when the handler waits for it.
#[derive(Debug)]
struct WatchedBody {
    inner: Incoming,
    activity: Arc<Activity>,
    progress: Arc<Mutex<BodyProgress>>,
    waiting: bool,
}

impl WatchedBody {
    fn set_waiting(&mut self, waiting: bool) {
        if waiting != self.waiting {
            self.waiting = waiting;
            if waiting {
                self.activity
                    .waiting_for_body
                    .fetch_add(1, Ordering::Relaxed);
            } else {
                self.activity
                    .waiting_for_body
                    .fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut BodyProgress)) {
        if let Ok(mut p) = self.progress.lock() {
            f(&mut p);
        }
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.set_waiting(false);
    }
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.update(|p| p.started = true);
        let result = Pin::new(&mut self.inner).poll_frame(cx);
        match &result {
            Poll::Pending => self.set_waiting(true),
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.update(|p| p.bytes += n);
                self.set_waiting(false);
                if self.inner.is_end_stream() {
                    self.update(|p| p.done_at = Some(Instant::now()));
                }
            }
            Poll::Ready(None | Some(Err(_))) => {
                self.set_waiting(false);
                self.update(|p| p.done_at = Some(Instant::now()));
            }
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
