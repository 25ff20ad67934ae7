//! Creating, starting, reusing and stopping the private cluster.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::PgBinaries;
use crate::user::{ServerUser, check_reachable, server_user};

/// The database superuser created by `initdb`.
const SUPERUSER: &str = "postgres";
/// Unix socket paths are limited to 107 bytes; leave room for the file name.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries (initdb, postgres, pg_ctl) found on PATH or under /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql) or point --pg-bin-dir at them"
    )]
    BinariesNotFound,
    #[error(
        "running as root, but there is no unprivileged user (postgres or nobody) to run the PostgreSQL server as"
    )]
    NoServerUser,
    #[error(
        "the PostgreSQL server runs as user {user:?} (initdb refuses root), which cannot enter {dir}; choose a data directory it can reach, for example under /var/tmp"
    )]
    Unreachable { user: String, dir: String },
    #[error(
        "the data directory {dir} was made by PostgreSQL {found}, but the installed server is {installed}"
    )]
    VersionMismatch {
        dir: String,
        found: String,
        installed: u32,
    },
    #[error("{0}")]
    Command(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the PostgreSQL server did not become ready: {0}")]
    NotReady(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// How to make and run the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Our directory: `pgdata/` (the cluster), `run/` (the socket) and
    /// `postgres.log` live in it. Reused across runs.
    pub root: PathBuf,
    /// The directory of the server binaries, when not searched for.
    pub bin_dir: Option<PathBuf>,
    /// The `PATH` to search, read once by the caller.
    pub search_path: Option<String>,
    /// The system user to run the server as when we are root.
    pub server_user: Option<String>,
    /// `false` for throwaway clusters: no fsync, which makes tests several
    /// times faster and is safe only for data one can lose.
    pub durable: bool,
    /// Socket port number (only names the socket file; nothing listens on
    /// TCP).
    pub port: u16,
    /// Extra `-c name=value` server settings; they override ours.
    pub settings: Vec<(String, String)>,
    /// Preload TimescaleDB when its extension files are installed.
    pub timescaledb: bool,
    pub start_timeout: Duration,
}

impl ClusterOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            bin_dir: None,
            search_path: None,
            server_user: None,
            durable: true,
            port: 5432,
            settings: Vec::new(),
            timescaledb: true,
            start_timeout: Duration::from_secs(60),
        }
    }

    /// Memory and checkpoint settings for a cluster that serves the
    /// application (the embedded default, benchmarks): sized for a small
    /// machine that bulk-loads time series.
    pub fn for_service(mut self) -> Self {
        self.settings.extend(
            [
                ("shared_buffers", "512MB"),
                ("maintenance_work_mem", "256MB"),
                ("work_mem", "32MB"),
                ("max_wal_size", "4GB"),
                ("checkpoint_timeout", "15min"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        self
    }
}

/// A running private cluster. Dropping it stops the server (fast shutdown).
#[derive(Debug)]
pub struct EmbeddedCluster {
    root: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    binaries: PgBinaries,
    timescaledb: bool,
    pid: i32,
    supervisor: Option<Supervisor>,
}

#[derive(Debug)]
struct Supervisor {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl EmbeddedCluster {
    /// Creates the cluster on first use (initdb), then starts the server and
    /// waits until it accepts connections.
    pub fn start(options: ClusterOptions) -> Result<Self, ClusterError> {
        let binaries =
            PgBinaries::locate(options.bin_dir.as_deref(), options.search_path.as_deref())?;
        let user = server_user(options.server_user.as_deref())?;
        let root = absolute(&options.root)?;
        fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
        if let Some(user) = &user {
            check_reachable(user, &root)?;
            chown(&root, user)?;
        }
        let pgdata = root.join("pgdata");
        init_if_needed(&binaries, user.as_ref(), &pgdata, options.durable)?;

        let socket_dir = socket_dir_for(&root);
        fs::create_dir_all(&socket_dir)
            .map_err(io(format!("creating {}", socket_dir.display())))?;
        if let Some(user) = &user {
            chown(&socket_dir, user)?;
        }
        let timescaledb = options.timescaledb && binaries.has_timescaledb();
        let log_path = root.join("postgres.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        let log_err = log.try_clone().map_err(io("duplicating the log handle"))?;

        let mut command = Command::new(binaries.binary("postgres"));
        command
            .arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&socket_dir)
            .arg("-p")
            .arg(options.port.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        for (name, value) in server_settings(&options, timescaledb) {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        if let Some(user) = &user {
            command.uid(user.uid).gid(user.gid);
        }
        set_parent_death_signal(&mut command);

        let (supervisor, pid) = Supervisor::spawn(command)?;
        let cluster = Self {
            root,
            socket_dir,
            port: options.port,
            binaries,
            timescaledb,
            pid,
            supervisor: Some(supervisor),
        };
        cluster.wait_ready(&pgdata, &log_path, options.start_timeout)?;
        tracing::info!(
            root = %cluster.root.display(),
            pid,
            timescaledb,
            "embedded PostgreSQL {} is ready",
            cluster.binaries.major
        );
        Ok(cluster)
    }

    fn wait_ready(&self, pgdata: &Path, log: &Path, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let pid_file = pgdata.join("postmaster.pid");
        loop {
            // Line 1 is the postmaster's pid, line 8 its status: "ready" once
            // it accepts connections (PostgreSQL 10 and later), "standby"
            // for a hot standby that accepts read-only ones.
            if let Ok(text) = fs::read_to_string(&pid_file) {
                let lines: Vec<&str> = text.lines().collect();
                let ours = lines
                    .first()
                    .is_some_and(|l| l.trim() == self.pid.to_string());
                if ours
                    && lines
                        .get(7)
                        .is_some_and(|l| matches!(l.trim(), "ready" | "standby"))
                {
                    return Ok(());
                }
            }
            if self
                .supervisor
                .as_ref()
                .is_none_or(|s| s.thread.is_finished())
            {
                return Err(ClusterError::NotReady(format!(
                    "the server exited; the end of {}:\n{}",
                    log.display(),
                    tail(log, 15)
                )));
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady(format!(
                    "timed out after {timeout:?}; the end of {}:\n{}",
                    log.display(),
                    tail(log, 15)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A libpq-style connection string for `dbname` as the superuser.
    pub fn connection_string(&self, dbname: &str) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host={} port={} user={} dbname={}",
            quote(&self.socket_dir.to_string_lossy()),
            self.port,
            SUPERUSER,
            quote(dbname)
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server was started with TimescaleDB preloaded.
    pub fn timescaledb(&self) -> bool {
        self.timescaledb
    }

    pub fn binaries(&self) -> &PgBinaries {
        &self.binaries
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Makes `root/pgdata` a streaming replica of this cluster with
    /// `pg_basebackup -R` (as the server's user): started with
    /// [`EmbeddedCluster::start`] on `root`, it is a hot standby that
    /// replays this cluster's WAL over its socket. For tests of reads
    /// from a replica; `root` must not hold a cluster yet.
    pub fn base_backup_into(
        &self,
        root: &Path,
        server_user: Option<&str>,
    ) -> Result<(), ClusterError> {
        let user = crate::user::server_user(server_user)?;
        let root = absolute(root)?;
        fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
        if let Some(user) = &user {
            check_reachable(user, &root)?;
            chown(&root, user)?;
        }
        let pgdata = root.join("pgdata");
        if pgdata.join("PG_VERSION").exists() {
            return Err(ClusterError::Command(format!(
                "{} already holds a cluster",
                pgdata.display()
            )));
        }
        let mut backup = Command::new(self.binaries.binary("pg_basebackup"));
        backup
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER])
            .arg("-D")
            .arg(&pgdata)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
            .stdin(Stdio::null());
        if let Some(user) = &user {
            backup.uid(user.uid).gid(user.gid);
        }
        let out = backup.output().map_err(io("running pg_basebackup"))?;
        if !out.status.success() {
            return Err(ClusterError::Command(format!(
                "pg_basebackup failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Stops the server (fast shutdown: open transactions are rolled back,
    /// then a checkpoint) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.stop.send(());
            let _ = supervisor.thread.join();
            tracing::info!(root = %self.root.display(), "embedded PostgreSQL stopped");
        }
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Supervisor {
    /// Spawns the server from a thread of its own (see the crate docs for
    /// why) and returns the server's pid.
    fn spawn(mut command: Command) -> Result<(Self, i32), ClusterError> {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (pid_tx, pid_rx) = mpsc::channel::<Result<i32, std::io::Error>>();
        let thread = std::thread::Builder::new()
            .name("postgres-supervisor".into())
            .spawn(move || match command.spawn() {
                Ok(child) => {
                    let _ = pid_tx.send(Ok(child.id() as i32));
                    supervise(child, stop_rx);
                }
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
            })
            .map_err(io("starting the supervisor thread"))?;
        let pid = pid_rx
            .recv()
            .map_err(|_| ClusterError::Command("the supervisor thread ended early".into()))?
            .map_err(io("starting postgres"))?;
        Ok((
            Self {
                stop: stop_tx,
                thread,
            },
            pid,
        ))
    }
}

/// Waits for a stop request (or for our owner to vanish), then stops the
/// server: SIGINT (fast shutdown), and SIGQUIT if it has not exited within
/// 30 s.
fn supervise(mut child: Child, stop: mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(Duration::from_millis(500)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    tracing::error!(%status, "embedded PostgreSQL exited unexpectedly");
                    return;
                }
            }
        }
    }
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::warn!("embedded PostgreSQL did not stop within 30 s; sending SIGQUIT");
    let _ = kill(pid, Signal::SIGQUIT);
    let _ = child.wait();
}

#[allow(unsafe_code)]
fn set_parent_death_signal(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and calls only
    // prctl(2), which is async-signal-safe; it allocates nothing. It runs
    // after std has switched uid/gid, which matters: a credential change
    // clears the parent-death signal.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)
        });
    }
}

fn server_settings(options: &ClusterOptions, timescaledb: bool) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = [
        ("listen_addresses", ""),
        ("unix_socket_permissions", "0700"),
        ("max_connections", "200"),
        ("max_worker_processes", "32"),
        ("log_min_messages", "warning"),
        ("log_line_prefix", "%m [%p] %d "),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if !options.durable {
        for (k, v) in [
            ("fsync", "off"),
            ("synchronous_commit", "off"),
            ("full_page_writes", "off"),
        ] {
            settings.push((k.into(), v.into()));
        }
    }
    if timescaledb {
        for (k, v) in [
            ("shared_preload_libraries", "timescaledb"),
            ("timescaledb.telemetry_level", "off"),
            ("timescaledb.max_background_workers", "16"),
        ] {
            settings.push((k.into(), v.into()));
        }
    }
    for (k, v) in &options.settings {
        settings.retain(|(name, _)| name != k);
        settings.push((k.clone(), v.clone()));
    }
    settings
}

fn init_if_needed(
    binaries: &PgBinaries,
    user: Option<&ServerUser>,
    pgdata: &Path,
    durable: bool,
) -> Result<(), ClusterError> {
    let version_file = pgdata.join("PG_VERSION");
    if let Ok(found) = fs::read_to_string(&version_file) {
        let found = found.trim().to_string();
        if found != binaries.major.to_string() {
            return Err(ClusterError::VersionMismatch {
                dir: pgdata.display().to_string(),
                found,
                installed: binaries.major,
            });
        }
        return Ok(());
    }
    if pgdata.exists() {
        // Left by an initdb that did not finish: nothing in it is data.
        fs::remove_dir_all(pgdata).map_err(io(format!("removing {}", pgdata.display())))?;
    }
    let mut initdb = Command::new(binaries.binary("initdb"));
    initdb
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ])
        .stdin(Stdio::null());
    if !durable {
        initdb.arg("--no-sync");
    }
    if let Some(user) = user {
        initdb.uid(user.uid).gid(user.gid);
    }
    let out = initdb.output().map_err(io("running initdb"))?;
    if !out.status.success() {
        return Err(ClusterError::Command(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// The socket lives in `root/run` unless that path is too long for a Unix
/// socket; then in a directory under /tmp named after the root's path.
fn socket_dir_for(root: &Path) -> PathBuf {
    let preferred = root.join("run");
    if preferred.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return preferred;
    }
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    PathBuf::from(format!("/tmp/organism-pg-{hash:016x}"))
}

fn absolute(path: &Path) -> Result<PathBuf, ClusterError> {
    std::path::absolute(path).map_err(io(format!("resolving {}", path.display())))
}

fn chown(path: &Path, user: &ServerUser) -> Result<(), ClusterError> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io(format!(
        "giving {} to user {}",
        path.display(),
        user.name
    )))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_root_gets_a_short_socket_directory() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        let dir = socket_dir_for(&long);
        assert!(dir.as_os_str().len() <= MAX_SOCKET_DIR_LEN);
        assert_eq!(
            dir,
            socket_dir_for(&long),
            "the same root gets the same socket directory"
        );
        assert_eq!(
            socket_dir_for(Path::new("/tmp/a")),
            PathBuf::from("/tmp/a/run")
        );
    }

    #[test]
    fn throwaway_clusters_skip_fsync_and_caller_settings_win() {
        let mut options = ClusterOptions::new("/tmp/x");
        options.durable = false;
        options
            .settings
            .push(("max_connections".into(), "50".into()));
        let settings = server_settings(&options, false);
        assert!(settings.contains(&("fsync".into(), "off".into())));
        let max: Vec<_> = settings
            .iter()
            .filter(|(k, _)| k == "max_connections")
            .collect();
        assert_eq!(
            max,
            vec![&("max_connections".to_string(), "50".to_string())]
        );
    }
}
