//! Checks of a command's arguments made before anything starts: a mistake
//! is named with the argument it came from, and no embedded cluster is
//! started (or created) for it.

use std::path::Path;

/// `--flag PATH` or, for a positional argument, just `PATH`.
fn named(flag: &str, path: &Path) -> String {
    if flag.is_empty() {
        path.display().to_string()
    } else {
        format!("{flag} {}", path.display())
    }
}

/// The file exists, is a regular file (not a directory) and can be opened
/// for reading.
pub fn readable_file(flag: &str, path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|f| {
            if f.metadata()?.is_dir() {
                Err(std::io::Error::other("it is a directory"))
            } else {
                Ok(())
            }
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot be read: {e}; nothing was started",
                named(flag, path)
            )
        })
}

/// A file to be written at the end: an existing one must be a regular file
/// that can be opened for writing (it is not truncated now); a new one
/// needs an existing directory where a file can be created.
pub fn writable_file(flag: &str, path: &Path) -> anyhow::Result<()> {
    let fail = |why: String| {
        anyhow::anyhow!(
            "{}: cannot be written: {why}; nothing was started",
            named(flag, path)
        )
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Err(fail("it is a directory".into())),
        Ok(_) => {
            return std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map(drop)
                .map_err(|e| fail(e.to_string()));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e.to_string())),
        Err(_) => {}
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(fail(format!(
            "its directory {} does not exist",
            parent.display()
        )));
    }
    // Whether a file can be made there: one is, and removed at once.
    let probe = parent.join(format!(".organism-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(format!("cannot create a file in {}: {e}", parent.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A directory the command will create or use: if it exists it must be a
/// directory; if not, its nearest existing ancestor must be one.
pub fn usable_dir(flag: &str, path: &Path) -> anyhow::Result<()> {
    let fail = |why: String| anyhow::anyhow!("{}: {why}; nothing was started", named(flag, path));
    if path.exists() {
        if !path.is_dir() {
            return Err(fail("exists and is not a directory".into()));
        }
        return Ok(());
    }
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if dir.exists() {
            return Err(fail(format!("{} is not a directory", dir.display())));
        }
        ancestor = dir.parent();
    }
    Ok(())
}

/// A count that must be at least 1.
pub fn at_least_one(flag: &str, value: impl Into<u64>) -> anyhow::Result<()> {
    if value.into() == 0 {
        anyhow::bail!("{flag} must be at least 1; nothing was started");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("organism-check-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_missing_file_or_a_directory_is_not_readable_and_the_flag_is_named() {
        let dir = scratch("readable");
        let e = readable_file("--directory", &dir.join("nope.csv")).unwrap_err();
        assert!(e.to_string().starts_with("--directory "), "{e}");
        assert!(e.to_string().contains("nope.csv: cannot be read"), "{e}");
        let e = readable_file("--directory", &dir).unwrap_err();
        assert!(e.to_string().contains("it is a directory"), "{e}");
        std::fs::write(dir.join("ok.csv"), "x").unwrap();
        readable_file("--directory", &dir.join("ok.csv")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_output_needs_an_existing_directory_and_is_not_created_by_the_check() {
        let dir = scratch("writable");
        let out = dir.join("report.json");
        writable_file("--json", &out).unwrap();
        assert!(!out.exists(), "the check creates nothing");
        let e = writable_file("--json", &dir.join("no/such/report.json")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = writable_file("--json", &dir).unwrap_err();
        assert!(e.to_string().contains("it is a directory"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_argument_may_not_be_a_file_nor_under_one() {
        let dir = scratch("dirs");
        usable_dir("--data-dir", &dir.join("new/deeper")).unwrap();
        std::fs::write(dir.join("file"), "x").unwrap();
        let e = usable_dir("--data-dir", &dir.join("file")).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        let e = usable_dir("--data-dir", &dir.join("file/below")).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
