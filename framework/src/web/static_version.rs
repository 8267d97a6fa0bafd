//! Versions of static files: the start of the MD5 of a file's content that a versioned URL
//! carries as `v` (Tornado's `static_url`), the cache of those hashes, and the URL itself.
//! Plain files and strings, no request: shared by [`Context::static_url`](super::Context::static_url)(super::Context::static_url),
//! the [`StaticFileHandler`](super::StaticFileHandler)'s check of a request's `v`, and the
//! templates' `static_url`.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::error::{HttpError, Result};
use super::static_fs::{
    canonical_inside, canonical_root, open_regular, relative_path, FileStamp, CHUNK,
};

/// Hex digits of the MD5 used as the `v` of a versioned URL.
const VERSION_LEN: usize = 12;

/// `Cache-Control` of a request whose `v` names the current content.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What a path segment of a static URL keeps unescaped: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The hashes behind versioned URLs, per canonical path, with the stamp of the file version
/// they were computed from. Kept in the application and shared with its templates (whose
/// functions must be `Send + Sync`, hence the mutex; it is never contended: one loop uses it).
#[derive(Default)]
pub(crate) struct VersionCache {
    entries: Mutex<HashMap<PathBuf, (FileStamp, Arc<str>)>>,
}

impl fmt::Debug for VersionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map_or(0, |e| e.len());
        f.debug_struct("VersionCache").field("entries", &n).finish()
    }
}

impl VersionCache {
    pub(super) fn get(&self, path: &Path, stamp: FileStamp) -> Option<Arc<str>> {
        match self.entries.lock().ok()?.get(path) {
            Some((s, v)) if *s == stamp => Some(v.clone()),
            _ => None,
        }
    }

    pub(super) fn insert(&self, path: PathBuf, stamp: FileStamp, version: Arc<str>) {
        if let Ok(mut e) = self.entries.lock() {
            e.insert(path, (stamp, version));
        }
    }
}

/// The first [`VERSION_LEN`] hex digits of the MD5 of a file's content. Positional reads, so
/// the file offset (shared with other handles of the same open file) is not moved.
pub(crate) fn hash_file(file: &File) -> io::Result<String> {
    let mut ctx = md5::Context::new();
    let mut buf = vec![0; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = match file.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        ctx.consume(&buf[..n]);
        offset += n as u64;
    }
    let mut hex = format!("{:x}", ctx.finalize());
    hex.truncate(VERSION_LEN);
    Ok(hex)
}

/// The versioned URL of static file `path` below `root` (what [`Context::static_url`](super::Context::static_url) and the
/// templates' `static_url` return).
pub(crate) fn versioned_url(
    root: &Path,
    prefix: &str,
    path: &str,
    cache: &VersionCache,
) -> Result<String> {
    let rel = relative_path(path)
        .map_err(|why| HttpError::internal(format!("static_url({path:?}): {why}")))?;
    let mut url = String::from(prefix);
    for (i, part) in rel.iter().enumerate() {
        if i > 0 {
            url.push('/');
        }
        let part = part.to_string_lossy();
        url.extend(percent_encoding::utf8_percent_encode(&part, SEGMENT));
    }
    match file_version(root, &rel, cache) {
        Ok(v) => {
            url.push_str("?v=");
            url.push_str(&v);
        }
        Err(e) => log::error!("squall: static_url({path:?}): no version: {e}"),
    }
    Ok(url)
}

/// The version of `root/rel` for `static_url`, computed here on the loop if not cached
/// (as Tornado does: static assets are small, and each is hashed once per version).
fn file_version(root: &Path, rel: &Path, cache: &VersionCache) -> Result<Arc<str>> {
    let root = canonical_root(root)?;
    let target = canonical_inside(&root, &root.join(rel))?;
    let (file, meta) = open_regular(&target)?;
    let stamp = FileStamp::of(&meta);
    if let Some(v) = cache.get(&target, stamp) {
        return Ok(v);
    }
    let version: Arc<str> = hash_file(&file)?.into();
    cache.insert(target, stamp, version.clone());
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_md5_prefix() {
        let path = std::env::temp_dir().join(format!("squall-static-url-{}", std::process::id()));
        std::fs::write(&path, b"hello world").unwrap();
        let file = File::open(&path).unwrap();
        let v = hash_file(&file);
        let _ = std::fs::remove_file(&path);
        assert_eq!(v.unwrap(), "5eb63bbbe01e");
    }
}
