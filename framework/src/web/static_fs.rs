//! The filesystem side of static files, shared by [`StaticFileHandler`](super::StaticFileHandler)
//! (`static_files.rs`) and versioned URLs (`static_url.rs`) so neither imports the other:
//! turning a URL path into a path under the root, resolving it without leaving the root,
//! opening only regular files without blocking on a FIFO, and a file's identity stamp.
//!
//! ### Invariants
//!
//! - [`relative_path`] yields only plain components: no `..`, no root, no NUL.
//! - [`canonical_inside`] returns a path only if, with every symbolic link resolved, it lies
//!   under the canonical root (403 otherwise); a missing file is 404.
//! - [`open_regular`] opens with `O_NONBLOCK` and checks the type on the opened file, so the
//!   file checked is the file read.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::{HttpError, Result};

/// Bytes read from the file per piece of the body.
pub(super) const CHUNK: usize = 64 * 1024;

/// The path below the root as a relative path of plain components, or why it is refused.
pub(super) fn relative_path(path: &str) -> std::result::Result<PathBuf, &'static str> {
    if path.contains('\0') {
        return Err("NUL byte");
    }
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` component"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    Ok(out)
}

/// Whether a path of plain components (from [`relative_path`]) has one starting with a dot.
pub(super) fn is_hidden(rel: &Path) -> bool {
    rel.components()
        .any(|c| c.as_os_str().as_encoded_bytes().first() == Some(&b'.'))
}

/// The root with every symbolic link resolved; 404 (and a log line) if it does not exist.
pub(super) fn canonical_root(root: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(root).map_err(|e| {
        HttpError::new(404)
            .log(format!("static root {}", root.display()))
            .with_source(e)
    })
}

/// `candidate` with every symbolic link resolved, if that lies under `root` (canonical).
pub(super) fn canonical_inside(root: &Path, candidate: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(candidate) {
        Ok(p) if p.starts_with(root) => Ok(p),
        Ok(p) => Err(HttpError::new(403).log(format!(
            "{} resolves to {}, outside the static root",
            candidate.display(),
            p.display()
        ))),
        Err(e) => {
            let status = if e.kind() == io::ErrorKind::PermissionDenied {
                403
            } else {
                404
            };
            Err(HttpError::new(status)
                .log(candidate.display().to_string())
                .with_source(e))
        }
    }
}

/// Opens `path` if it is a regular file. Non-blocking, so that a FIFO swapped in after the
/// checks cannot block the loop in `open`; the type is checked on the opened file.
pub(super) fn open_regular(path: &Path) -> Result<(File, Metadata)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            let status = if e.kind() == io::ErrorKind::PermissionDenied {
                403
            } else {
                404
            };
            HttpError::new(status)
                .log(path.display().to_string())
                .with_source(e)
        })?;
    let meta = file
        .metadata()
        .map_err(|e| HttpError::internal(path.display().to_string()).with_source(e))?;
    if !meta.is_file() {
        return Err(HttpError::new(403).log(format!("{} is not a regular file", path.display())));
    }
    Ok((file, meta))
}

/// What identifies one version of a file: its size, modification time and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileStamp {
    /// Size in bytes.
    pub(super) size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub(super) mtime_ns: i128,
    /// Inode number.
    pub(super) ino: u64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub(super) fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ino: meta.ino(),
        }
    }
}
