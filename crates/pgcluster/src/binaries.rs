//! Finding the PostgreSQL server binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ClusterError;

const REQUIRED: [&str; 3] = ["initdb", "postgres", "pg_ctl"];

/// The directory holding `initdb`, `postgres` and `pg_ctl` of one
/// PostgreSQL installation, and what it tells about itself.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bin_dir: PathBuf,
    /// Major version, from `postgres --version`.
    pub major: u32,
    /// `SHAREDIR` (extension control files live in `SHAREDIR/extension`).
    pub share_dir: Option<PathBuf>,
}

impl PgBinaries {
    /// Finds the binaries: `explicit` if given; else the directory on `PATH`
    /// that holds all of them (symbolic links resolved, so that a link in
    /// /usr/local/bin leads to the real installation with its share
    /// directory); else the newest `/usr/lib/postgresql/*/bin`.
    pub fn locate(explicit: Option<&Path>, path_env: Option<&str>) -> Result<Self, ClusterError> {
        if let Some(dir) = explicit {
            return Self::inspect(dir);
        }
        for dir in path_env
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.is_empty())
        {
            let initdb = Path::new(dir).join("initdb");
            if let Ok(real) = initdb.canonicalize()
                && let Some(real_dir) = real.parent()
                && has_all(real_dir)
            {
                return Self::inspect(real_dir);
            }
        }
        let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_all(&bin).then_some((major, bin))
            })
            .collect();
        candidates.sort();
        match candidates.pop() {
            Some((_, bin)) => Self::inspect(&bin),
            None => Err(ClusterError::BinariesNotFound),
        }
    }

    fn inspect(dir: &Path) -> Result<Self, ClusterError> {
        if !has_all(dir) {
            return Err(ClusterError::BinariesNotFound);
        }
        let version = run_for_text(&dir.join("postgres"), &["--version"])?;
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let major = version
            .split_whitespace()
            .find_map(|w| w.split('.').next()?.parse::<u32>().ok())
            .ok_or_else(|| ClusterError::Command(format!("unexpected version text {version:?}")))?;
        let share_dir = run_for_text(&dir.join("pg_config"), &["--sharedir"])
            .ok()
            .map(|s| PathBuf::from(s.trim()))
            .or_else(|| {
                let debian = PathBuf::from(format!("/usr/share/postgresql/{major}"));
                debian.is_dir().then_some(debian)
            });
        Ok(Self {
            bin_dir: dir.to_path_buf(),
            major,
            share_dir,
        })
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Whether the TimescaleDB extension is installed for this server.
    pub fn has_timescaledb(&self) -> bool {
        self.share_dir
            .as_ref()
            .is_some_and(|d| d.join("extension/timescaledb.control").is_file())
    }
}

fn has_all(dir: &Path) -> bool {
    REQUIRED.iter().all(|b| dir.join(b).is_file())
}

fn run_for_text(program: &Path, args: &[&str]) -> Result<String, ClusterError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| ClusterError::Command(format!("{}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(ClusterError::Command(format!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
