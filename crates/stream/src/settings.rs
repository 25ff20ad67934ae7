//! What the consumer is told: where NATS is, which stream, subject and
//! durable consumer, where bad messages go. Checked once, before anything
//! connects, so that a typo starts nothing.

use std::time::Duration;

use crate::StreamError;

/// The consumer's settings, checked ([`StreamSettings::new`]).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// `nats://host:port` (or `tls://…`); several servers comma-separated.
    pub url: String,
    /// The JetStream stream that holds the metric batches.
    pub stream: String,
    /// The subject filter of the durable consumer (`metrics.>`).
    pub subject: String,
    /// The durable consumer's name: every `serve` or `consume` with the
    /// same name shares one position in the stream.
    pub durable: String,
    /// Where a message that can never be written goes (a literal subject,
    /// not matched by `subject`).
    pub dead_letter_subject: String,
    /// Create the stream (and the dead-letter stream) when absent.
    pub create_stream: bool,
    /// How long the server waits for an acknowledgement before it
    /// redelivers (also how soon a crashed consumer's messages come back).
    pub ack_wait: Duration,
    /// Messages pulled per request.
    pub batch: usize,
}

/// The settings as given (flags or environment), before they are checked.
#[derive(Debug, Clone)]
pub struct RawStreamSettings {
    pub url: String,
    pub stream: String,
    pub subject: String,
    pub durable: String,
    pub dead_letter_subject: Option<String>,
    pub create_stream: bool,
    pub ack_wait_secs: u64,
    pub batch: usize,
}

impl StreamSettings {
    /// Checks every setting; the default dead-letter subject is
    /// [`default_dead_letter_subject`].
    pub fn new(raw: RawStreamSettings) -> Result<Self, StreamError> {
        let bad = |flag: &str, why: String| StreamError::Config(format!("{flag}: {why}"));
        if raw.url.trim().is_empty() {
            return Err(bad("--nats-url", "must not be empty".into()));
        }
        check_name(&raw.stream).map_err(|why| bad("--nats-stream", why))?;
        check_name(&raw.durable).map_err(|why| bad("--nats-durable", why))?;
        check_subject(&raw.subject, true).map_err(|why| bad("--nats-subject", why))?;
        let dead_letter_subject = match raw.dead_letter_subject {
            Some(subject) => subject,
            None => default_dead_letter_subject(&raw.subject).ok_or_else(|| {
                bad(
                    "--nats-dead-letter-subject",
                    format!(
                        "the subject {:?} starts with a wildcard, so there is no default; name one",
                        raw.subject
                    ),
                )
            })?,
        };
        check_subject(&dead_letter_subject, false)
            .map_err(|why| bad("--nats-dead-letter-subject", why))?;
        if subject_matches(&raw.subject, &dead_letter_subject) {
            return Err(bad(
                "--nats-dead-letter-subject",
                format!(
                    "{dead_letter_subject:?} is matched by the consumed subject {:?}: dead letters would be consumed again",
                    raw.subject
                ),
            ));
        }
        if raw.ack_wait_secs == 0 {
            return Err(bad("--nats-ack-wait-secs", "must be at least 1".into()));
        }
        if raw.batch == 0 {
            return Err(bad("--nats-batch", "must be at least 1".into()));
        }
        Ok(Self {
            url: raw.url,
            stream: raw.stream,
            subject: raw.subject,
            durable: raw.durable,
            dead_letter_subject,
            create_stream: raw.create_stream,
            ack_wait: Duration::from_secs(raw.ack_wait_secs),
            batch: raw.batch,
        })
    }

    /// The URL with any user and password in it replaced by `***`, for
    /// messages and logs.
    pub fn printable_url(&self) -> String {
        self.url
            .split(',')
            .map(|server| match (server.find("://"), server.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}***{}", &server[..scheme + 3], &server[at..])
                }
                (None, Some(at)) => format!("***{}", &server[at..]),
                _ => server.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stream `--create-stream` makes for the dead letters.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}_DEAD", self.stream)
    }
}

/// `dead.` and the subject's literal tokens before its first wildcard:
/// `metrics.>` → `dead.metrics`. Not `metrics.dead`: the consumed filter
/// `metrics.>` would match it and dead letters would loop. `None` when the
/// subject starts with a wildcard.
pub fn default_dead_letter_subject(subject: &str) -> Option<String> {
    let literal: Vec<&str> = subject
        .split('.')
        .take_while(|token| *token != "*" && *token != ">")
        .collect();
    if literal.is_empty() {
        return None;
    }
    Some(format!("dead.{}", literal.join(".")))
}

/// Whether the subject filter `filter` (with `*` and `>`) matches the
/// literal `subject`.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for pattern in filter.split('.') {
        match (pattern, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// A NATS subject: dot-separated non-empty tokens without whitespace;
/// wildcards (`*` a token, `>` the last token) only in a filter.
fn check_subject(subject: &str, wildcards: bool) -> Result<(), String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err(format!(
                "{subject:?} is not a NATS subject (dot-separated tokens, none empty, no spaces)"
            ));
        }
        let wildcard = *token == "*" || *token == ">";
        if wildcard && !wildcards {
            return Err(format!(
                "{subject:?} must be a literal subject, without * or >"
            ));
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Err(format!("{subject:?}: > may only be the last token"));
        }
        if !wildcard && (token.contains('*') || token.contains('>')) {
            return Err(format!(
                "{subject:?}: * and > are wildcards only as whole tokens"
            ));
        }
    }
    Ok(())
}

/// A stream or consumer name: what JetStream accepts in its API subjects.
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(format!(
            "{name:?} must be 1 to 64 characters of letters, digits, '_' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn raw(subject: &str, dead: Option<&str>) -> RawStreamSettings {
        RawStreamSettings {
            url: "nats://127.0.0.1:4222".into(),
            stream: "METRICS".into(),
            subject: subject.into(),
            durable: "organism".into(),
            dead_letter_subject: dead.map(str::to_string),
            create_stream: false,
            ack_wait_secs: 30,
            batch: 64,
        }
    }

    #[test]
    fn the_default_dead_letter_subject_is_outside_the_consumed_subject() {
        let settings = StreamSettings::new(raw("metrics.>", None)).unwrap();
        assert_eq!(settings.dead_letter_subject, "dead.metrics");
        assert_eq!(
            default_dead_letter_subject("org.metrics.*.batch").as_deref(),
            Some("dead.org.metrics")
        );
        assert_eq!(default_dead_letter_subject(">"), None);
    }

    #[test]
    fn a_dead_letter_subject_the_consumer_would_read_again_is_refused() {
        let e = StreamSettings::new(raw("metrics.>", Some("metrics.dead"))).unwrap_err();
        assert!(e.to_string().contains("consumed again"), "{e}");
        let e = StreamSettings::new(raw("*.in", Some("dead.in"))).unwrap_err();
        assert!(e.to_string().contains("--nats-dead-letter-subject"), "{e}");
    }

    #[test]
    fn a_password_in_the_url_is_never_printed() {
        let mut r = raw("metrics.>", None);
        r.url = "nats://ingest:s3cret@a:4222,nats://b:4222,tok@c:4222".into();
        let printable = StreamSettings::new(r).unwrap().printable_url();
        assert_eq!(printable, "nats://***@a:4222,nats://b:4222,***@c:4222");
    }

    #[test]
    fn filters_match_as_nats_matches_them() {
        assert!(subject_matches("metrics.>", "metrics.a"));
        assert!(subject_matches("metrics.>", "metrics.a.b"));
        assert!(!subject_matches("metrics.>", "metrics"));
        assert!(subject_matches("metrics.*", "metrics.a"));
        assert!(!subject_matches("metrics.*", "metrics.a.b"));
        assert!(subject_matches("metrics", "metrics"));
        assert!(!subject_matches("metrics", "metrics.a"));
        assert!(!subject_matches("a.*.c", "a.b.d"));
    }

    #[test]
    fn malformed_subjects_and_names_are_refused_naming_the_flag() {
        for (subject, dead) in [
            ("metrics..x", None),
            ("metrics.>.x", None),
            ("met rics", None),
            ("metrics.a*", None),
            ("metrics.>", Some("dead.*")),
        ] {
            assert!(
                StreamSettings::new(raw(subject, dead)).is_err(),
                "{subject} {dead:?}"
            );
        }
        let mut bad_stream = raw("metrics.>", None);
        bad_stream.stream = "MET.RICS".into();
        let e = StreamSettings::new(bad_stream).unwrap_err();
        assert!(e.to_string().starts_with("--nats-stream"), "{e}");
    }
}
