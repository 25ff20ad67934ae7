//! A configured server is tried once before anything else, so that a
//! connection that cannot work is reported in one line a newcomer can act
//! on: where it went (host, port, database, user; never the password), what
//! kind of failure it was, and which setting to change.

use std::time::Duration;

use organism_store::DbSettings;
use tokio_postgres::config::Host;

/// Where the connection settings came from: the setting names to point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--database-url` / `DATABASE_URL`.
    Url,
    /// `--timescale-host` and the other `TIMESCALE_*` settings.
    Parts,
}

/// What went wrong, as a newcomer needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens at the address (or no socket file in the directory).
    Refused,
    /// The host name does not resolve.
    HostNotFound,
    /// No answer within the bound.
    Timeout,
    /// The server refused the user or the password.
    Authentication,
    /// The server has no such database.
    UnknownDatabase,
    /// TLS was asked for but is not available, or the server demands it.
    Tls,
    /// The server is starting, stopping or full.
    ServerNotReady,
    /// Anything else.
    Other,
}

impl Cause {
    fn label(self) -> &'static str {
        match self {
            Cause::Refused => "connection refused",
            Cause::HostNotFound => "host not found",
            Cause::Timeout => "timeout",
            Cause::Authentication => "authentication failed",
            Cause::UnknownDatabase => "unknown database",
            Cause::Tls => "TLS",
            Cause::ServerNotReady => "server not ready",
            Cause::Other => "connection failed",
        }
    }
}

/// `host H, port P, database D, user U`: every host and port tried, the
/// database and user as the server will see them.
pub fn describe_target(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => format!("{} (Unix socket)", dir.display()),
        })
        .chain(config.get_hostaddrs().iter().map(|a| a.to_string()))
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(|p| p.to_string()).collect();
    let user = config.get_user().unwrap_or("(none)");
    format!(
        "host {}, port {}, database {}, user {}",
        if hosts.is_empty() {
            "(none)".to_string()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_string()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or(user),
        user
    )
}

/// The class of a failed connection attempt.
pub fn classify(error: &tokio_postgres::Error) -> Cause {
    if let Some(db) = error.as_db_error() {
        return match db.code().code() {
            "28P01" => Cause::Authentication,
            // 28000: no pg_hba.conf line allows this connection; when it
            // says "no encryption", a hostssl line wants TLS.
            "28000" if db.message().contains("no encryption") => Cause::Tls,
            "28000" => Cause::Authentication,
            "3D000" => Cause::UnknownDatabase,
            "57P03" | "57P01" | "53300" => Cause::ServerNotReady,
            _ => Cause::Other,
        };
    }
    let text = error.to_string();
    if text.starts_with("error performing TLS handshake") {
        return Cause::Tls;
    }
    if text.starts_with("authentication error") {
        return Cause::Authentication;
    }
    if text.starts_with("timeout waiting for server") {
        return Cause::Timeout;
    }
    let io = std::error::Error::source(error).and_then(|s| s.downcast_ref::<std::io::Error>());
    if let Some(io) = io {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                return Cause::Refused;
            }
            std::io::ErrorKind::TimedOut => return Cause::Timeout,
            _ => {}
        }
        let message = io.to_string();
        if [
            "lookup address",
            "Name or service not known",
            "No address associated",
            "name resolution",
            "nodename nor servname",
            "resolve any addresses",
        ]
        .iter()
        .any(|m| message.contains(m))
        {
            return Cause::HostNotFound;
        }
    }
    Cause::Other
}

/// What to change, by cause and by where the settings came from.
fn advice(cause: Cause, source: Source) -> String {
    let (host, user, db) = match source {
        Source::Url => (
            "the host and port in --database-url (DATABASE_URL)",
            "the user and password in --database-url (DATABASE_URL)",
            "the database name in --database-url (DATABASE_URL)",
        ),
        Source::Parts => (
            "--timescale-host / --timescale-port (TIMESCALE_HOST / TIMESCALE_PORT)",
            "--timescale-user / --timescale-password (TIMESCALE_USER / TIMESCALE_PASSWORD)",
            "--timescale-db (TIMESCALE_DB)",
        ),
    };
    let unset =
        "or unset --database-url, DATABASE_URL and TIMESCALE_HOST to use the embedded cluster";
    match cause {
        Cause::Refused => format!("is the server running there? Check {host}, {unset}"),
        Cause::HostNotFound => format!("the host name does not resolve: check {host}"),
        Cause::Timeout => format!(
            "no answer in time: check {host} (a firewall may drop the packets); --pool-timeout (ORGANISM_POOL_TIMEOUT) bounds the attempt"
        ),
        Cause::Authentication => format!(
            "check {user}, and that pg_hba.conf on the server admits this user from here"
        ),
        Cause::UnknownDatabase => format!(
            "create the database on the server (CREATE DATABASE), or check {db}"
        ),
        Cause::Tls => "this build connects without TLS: remove sslmode=require (or verify-*) from --database-url (DATABASE_URL), or let the server accept connections without TLS from this host (a `host` rather than `hostssl` line in pg_hba.conf)".to_string(),
        Cause::ServerNotReady => "the server is starting, shutting down or at max_connections: try again shortly".to_string(),
        Cause::Other => format!("check {host} and {user}"),
    }
}

/// The error to print for a failed attempt.
pub fn explain(
    config: &tokio_postgres::Config,
    source: Source,
    error: &dyn std::fmt::Display,
    cause: Cause,
) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot connect to the database ({}): {}: {error}; {}",
        describe_target(config),
        cause.label(),
        advice(cause, source)
    )
}

/// Connects once with the settings' connection (no session options), within
/// the pool's acquire timeout, and says what went wrong if it fails.
pub async fn probe(settings: &DbSettings, source: Source) -> anyhow::Result<()> {
    let mut config = settings.connection.clone();
    let bound = settings.acquire_timeout.max(Duration::from_millis(100));
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(bound);
    }
    config.application_name("organism-trends");
    match tokio::time::timeout(bound, config.connect(tokio_postgres::NoTls)).await {
        Ok(Ok((client, connection))) => {
            drop(client);
            let _ = connection.await;
            Ok(())
        }
        Ok(Err(e)) => Err(explain(&config, source, &chain(&e), classify(&e))),
        Err(_) => Err(explain(
            &config,
            source,
            &format!("no answer within {:.1} s", bound.as_secs_f64()),
            Cause::Timeout,
        )),
    }
}

/// The driver's error with its causes (its own text leaves them out:
/// "error connecting to server" without "Connection refused").
fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_target_names_host_port_database_and_user_but_never_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgresql://alice:s3cret@db.example:6543/metrics")
                .unwrap();
        let text = describe_target(&config);
        assert_eq!(
            text,
            "host db.example, port 6543, database metrics, user alice"
        );
        let error = explain(&config, Source::Url, &"boom", Cause::Authentication).to_string();
        assert!(!error.contains("s3cret"), "{error}");
        assert!(error.contains("--database-url (DATABASE_URL)"), "{error}");
    }

    #[test]
    fn without_a_database_name_the_server_uses_the_user_name() {
        let config = tokio_postgres::Config::from_str("host=/run/pg user=bob").unwrap();
        assert_eq!(
            describe_target(&config),
            "host /run/pg (Unix socket), port 5432, database bob, user bob"
        );
    }

    #[test]
    fn each_cause_points_at_the_settings_it_came_from() {
        let parts = advice(Cause::Authentication, Source::Parts);
        assert!(parts.contains("TIMESCALE_PASSWORD"), "{parts}");
        let url = advice(Cause::UnknownDatabase, Source::Url);
        assert!(url.contains("DATABASE_URL"), "{url}");
        let parts = advice(Cause::UnknownDatabase, Source::Parts);
        assert!(parts.contains("TIMESCALE_DB"), "{parts}");
    }
}
