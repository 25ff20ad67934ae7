//! The live feed: Server-Sent Events of alert state changes and new
//! samples, resumable with `Last-Event-ID` (docs/REALTIME.md).
//!
//! Entitlement is the read endpoints': a reader sees the events of the
//! teams it may read (an event carries the team recorded on its samples),
//! an unrestricted reader or an admin every event; a manager, who never
//! sees an individual, and a writer have no access.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use organism_domain::ValidationError;
use organism_store::Store;
use organism_store::alerts::FeedEvent;
use serde_json::json;

use crate::params::{Params, boolean};
use crate::{ApiError, AppState, Principal};

/// How often an idle stream looks for new events.
const POLL: Duration = Duration::from_millis(500);
/// Events read from the feed at a time.
const PAGE: i64 = 500;
/// How often a stream that shows samples says it is still open.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// `last_event_id` and `samples` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StreamQuery {
    /// Resume after this event (what the `Last-Event-ID` header says, for
    /// a client that cannot set it). Without either, the stream starts
    /// with the next event.
    #[param(minimum = 0, maximum = 999_999_999_999_999_999i64, nullable = false)]
    last_event_id: Option<i64>,
    /// Also new samples (default true); `false`: alert changes only.
    #[param(nullable = false)]
    samples: Option<bool>,
}

fn event_id(text: &str) -> Result<i64, ValidationError> {
    Some(text.trim())
        .filter(|t| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| {
            ValidationError::new(
                "last_event_id",
                format!("must be an event id the stream sent, got {text:?}"),
            )
        })
}

/// The live feed (Server-Sent Events).
///
/// Events `alert` (an episode fired or resolved: the webhook payload) and
/// `samples` (samples just committed, of one team), each with its `id`;
/// reconnecting with `Last-Event-ID` (or `last_event_id`) resumes after it
/// without a gap for a day. An event `gap` says that events before the
/// first one kept were missed. A comment every 15 s keeps the connection
/// open.
#[utoipa::path(
    get,
    path = "/api/stream",
    tag = "alerts",
    operation_id = "stream_events",
    params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "resume after this event")),
    responses((status = 200, description = "the event stream", content_type = "text/event-stream", body = String,
        example = json!("id: 17\nevent: alert\ndata: {\"schema\":\"organism.alert.v1\",\"employee_id\":\"emp_017\",\"team\":\"Data Platform\",\"metric\":\"burnout_score\",\"value\":87.5,\"state\":\"firing\",\"event_id\":17,\"kind\":\"alert\"}\n\n"))),
)]
pub async fn stream(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = Params::documented::<StreamQuery>(query.as_deref())?;
    let from_query = params.optional("last_event_id", event_id)?;
    let from_header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map_err(|_| ValidationError::new("Last-Event-ID", "must be text"))
                .and_then(event_id)
                .map_err(|e| ApiError::BadParameter(e.for_field("Last-Event-ID")))
        })
        .transpose()?;
    let samples = params.or("samples", true, boolean)?;
    let resume = from_header.or(from_query);
    let cursor = match resume {
        Some(id) => id,
        None => state.store.feed_head().await?,
    };
    let listener = Listener::open(&state, samples).await?;
    let feed = Feed {
        store: state.store.clone(),
        teams: principal.teams.clone(),
        samples,
        cursor,
        check_gap: resume.is_some(),
        queue: VecDeque::new(),
        stopping: state.stopping.subscribe(),
        listener,
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream's position and what it may see.
struct Feed {
    store: Store,
    teams: Option<Vec<String>>,
    samples: bool,
    cursor: i64,
    check_gap: bool,
    queue: VecDeque<Event>,
    stopping: tokio::sync::watch::Receiver<bool>,
    listener: Listener,
}

impl Feed {
    /// The next event to send; `None` when the server stops.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if *self.stopping.borrow() {
                return None;
            }
            self.listener.keep_open(&self.store).await;
            match self.store.feed_after(self.cursor, PAGE).await {
                Ok((events, first_kept)) => {
                    if std::mem::take(&mut self.check_gap)
                        && let Some(first) = first_kept
                        && first > self.cursor + 1
                    {
                        self.queue.push_back(Event::default().event("gap").data(
                            json!({"resumed_after": self.cursor, "first_kept": first}).to_string(),
                        ));
                    }
                    let full = events.len() as i64 >= PAGE;
                    for e in events {
                        self.cursor = e.event_id;
                        if self.visible(&e) {
                            self.queue.push_back(sse_event(e));
                        }
                    }
                    if full || !self.queue.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the live feed cannot read; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = self.stopping.changed() => return None,
            }
        }
    }

    fn visible(&self, event: &FeedEvent) -> bool {
        if event.kind == "samples" && !self.samples {
            return false;
        }
        match &self.teams {
            None => true,
            Some(teams) => event
                .team
                .as_ref()
                .is_some_and(|t| teams.iter().any(|allowed| allowed == t)),
        }
    }
}

fn sse_event(e: FeedEvent) -> Event {
    let mut data = e.payload;
    if let Some(object) = data.as_object_mut() {
        object.insert("event_id".into(), json!(e.event_id));
        object.insert("kind".into(), json!(e.kind));
        object.insert("team".into(), json!(e.team));
        object.insert("feed_time".into(), json!(e.time));
    }
    Event::default()
        .id(e.event_id.to_string())
        .event(e.kind)
        .data(data.to_string())
}

/// A stream that shows samples keeps them coming into the inbox (common
/// migration 20's `realtime_listeners`) while it is open and for two
/// minutes after it closes, so that a resumed stream has no gap; every stream
/// counts in `organism_streams_open`.
struct Listener {
    id: Option<String>,
    touched: tokio::time::Instant,
    state: AppState,
}

impl Listener {
    async fn open(state: &AppState, samples: bool) -> Result<Self, ApiError> {
        let id = if samples {
            use rand::Rng;
            let id = format!("stream-{:032x}", rand::rng().random::<u128>());
            state.store.touch_listener(&id).await?;
            Some(id)
        } else {
            None
        };
        state
            .metrics
            .realtime
            .streams_open
            .fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            id,
            touched: tokio::time::Instant::now(),
            state: state.clone(),
        })
    }

    async fn keep_open(&mut self, store: &Store) {
        if let Some(id) = &self.id
            && self.touched.elapsed() >= TOUCH_EVERY
        {
            if let Err(e) = store.touch_listener(id).await {
                tracing::warn!(error = %e, "cannot keep the live stream's listener open");
            }
            self.touched = tokio::time::Instant::now();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.state
            .metrics
            .realtime
            .streams_open
            .fetch_sub(1, Ordering::Relaxed);
        if let Some(id) = self.id.take() {
            let store = self.state.store.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                // Kept for its grace (two minutes): a client that reconnects
                // with Last-Event-ID gets the samples committed meanwhile.
                runtime.spawn(async move {
                    let _ = store.release_listener(&id).await;
                });
            }
        }
    }
}
