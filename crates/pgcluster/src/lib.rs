//! A private PostgreSQL cluster, made from the server binaries installed on
//! the machine (DESIGN.md §6).
//!
//! `organism serve` and `organism demo` use it when no database is
//! configured, and the test suite uses it for throwaway clusters. The cluster
//! listens only on a Unix socket in a directory of its own, with `trust`
//! authentication, so nothing outside this machine's file permissions can
//! reach it.
//!
//! Why the server runs as a child of a supervisor thread, in its own process
//! group, with a parent-death signal:
//! * its own process group, so that Ctrl-C in a terminal reaches only our
//!   binary, which then drains requests and stops the database last;
//! * a parent-death signal (`SIGINT`, PostgreSQL's fast shutdown), so that the
//!   server never outlives us, even when we are killed with `SIGKILL` or a
//!   test process exits without running destructors. The kernel sends it when
//!   the *thread* that spawned the child ends, so the child is spawned by a
//!   dedicated thread that lives exactly as long as the cluster.
//!
//! `initdb` refuses to run as root; then every server binary runs as an
//! unprivileged system user (`postgres` when it exists, else `nobody`).

mod binaries;
mod cluster;
mod user;

pub use binaries::PgBinaries;
pub use cluster::{ClusterError, ClusterOptions, EmbeddedCluster};
