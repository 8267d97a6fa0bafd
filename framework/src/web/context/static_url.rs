//! Versioned static URLs for cache busting: [`Context::static_url`] (Tornado's `static_url`)
//! and the check a [`StaticFileHandler`](super::StaticFileHandler) makes of a request's `v`.
//!
//! What the versions are and what a matching `v` earns is documented with the handler, in
//! [`StaticFileHandler`](super::StaticFileHandler#versioned-urls); this file holds the cache of
//! hashes and the code that fills it.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Context;
use crate::web::error::{HttpError, Result};
use crate::web::static_fs::{
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

/// Whether the request carries a `v` that names the content of `file` (opened from the
/// canonical `path`, with `stamp`). A file that cannot be hashed is logged and gets no long
/// cache: the request itself can still be served.
pub(crate) async fn names_current_version(
    cx: &Context,
    path: &Path,
    file: &File,
    stamp: FileStamp,
) -> bool {
    let Some(wanted) = requested_version(cx) else {
        return false;
    };
    match cached_version(cx, path, file, stamp).await {
        Ok(current) => *wanted == *current,
        Err(e) => {
            log::error!("squall: cannot hash {}: {e}", path.display());
            false
        }
    }
}

/// The first value of the query's `v` argument, if any and not empty.
fn requested_version(cx: &Context) -> Option<String> {
    cx.query_arguments("v")
        .ok()?
        .into_iter()
        .next()
        .filter(|v| !v.is_empty())
}

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
    fn get(&self, path: &Path, stamp: FileStamp) -> Option<Arc<str>> {
        match self.entries.lock().ok()?.get(path) {
            Some((s, v)) if *s == stamp => Some(v.clone()),
            _ => None,
        }
    }

    fn insert(&self, path: PathBuf, stamp: FileStamp, version: Arc<str>) {
        if let Ok(mut e) = self.entries.lock() {
            e.insert(path, (stamp, version));
        }
    }
}

/// The version of an opened file for a request: from the cache, or hashed once on the
/// executor (the whole file is read; the loop keeps serving meanwhile).
async fn cached_version(
    cx: &Context,
    path: &Path,
    file: &File,
    stamp: FileStamp,
) -> Result<Arc<str>> {
    if let Some(v) = cx.app.static_versions.get(path, stamp) {
        return Ok(v);
    }
    let file = file.try_clone()?;
    let version: Arc<str> = cx.run_in_executor(move || hash_file(&file)).await??.into();
    cx.app
        .static_versions
        .insert(path.to_owned(), stamp, version.clone());
    Ok(version)
}

/// The first [`VERSION_LEN`] hex digits of the MD5 of a file's content. Positional reads, so
/// the file offset (shared with other handles of the same open file) is not moved.
fn hash_file(file: &File) -> io::Result<String> {
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

impl Context {
    /// The URL of static file `path` (below [`Settings::static_path`](super::Settings::static_path))
    /// with a version for cache busting: `/static/css/site.css?v=0123456789ab` (Tornado's
    /// `static_url`).
    ///
    /// The version is the start of the MD5 of the file's content, computed on the first call
    /// for each version of the file and cached by the application. A request for this URL
    /// is answered with a year-long `Cache-Control` (see
    /// [Versioned URLs](crate::web::StaticFileHandler#versioned-urls)), so pages can link assets
    /// that browsers never refetch until they change. If the file cannot be read, the URL is
    /// returned without a version and the problem is logged, as Tornado does.
    ///
    /// # Errors
    ///
    /// 500 if `static_path` is not set, or `path` is absolute or has a `..` component.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Page;
    ///
    /// #[handler]
    /// impl Page {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         let css = cx.static_url("css/site.css")?;
    ///         cx.write(format!(r#"<link rel="stylesheet" href="{css}">"#));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn static_url(&self, path: &str) -> Result<String> {
        let settings = self.settings();
        let root = settings
            .static_path
            .as_deref()
            .ok_or_else(|| HttpError::internal("static_url() needs Settings::static_path"))?;
        versioned_url(
            root,
            settings.static_url_prefix(),
            path,
            &self.app.static_versions,
        )
    }
}

/// The versioned URL of static file `path` below `root` (what [`Context::static_url`] and the
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
