//! Running server binaries as an unprivileged user when we are root.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Uid, User};

use crate::ClusterError;

/// The system account the server binaries run as, when they cannot run as us.
#[derive(Debug, Clone)]
pub struct ServerUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// `None` when we are not root (the binaries run as us); otherwise the named
/// user, or `postgres`, or `nobody`.
pub fn server_user(requested: Option<&str>) -> Result<Option<ServerUser>, ClusterError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let names: Vec<&str> = match requested {
        Some(name) => vec![name],
        None => vec!["postgres", "nobody"],
    };
    for name in names {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(ServerUser {
                name: user.name,
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            }));
        }
    }
    Err(ClusterError::NoServerUser)
}

/// Checks that `user` can walk down to `dir`: every existing ancestor must
/// grant it search (x) permission. A data directory under /root, for example,
/// is out of reach of the `postgres` user; saying so early beats a cryptic
/// "permission denied" from initdb.
pub fn check_reachable(user: &ServerUser, dir: &Path) -> Result<(), ClusterError> {
    let mut current = Some(dir);
    while let Some(p) = current {
        if let Ok(meta) = std::fs::metadata(p) {
            let mode = meta.mode();
            let can_search = if meta.uid() == user.uid {
                mode & 0o100 != 0
            } else if meta.gid() == user.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if meta.is_dir() && !can_search {
                return Err(ClusterError::Unreachable {
                    user: user.name.clone(),
                    dir: p.display().to_string(),
                });
            }
        }
        current = p.parent();
    }
    Ok(())
}
