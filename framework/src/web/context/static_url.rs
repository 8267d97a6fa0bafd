//! Versioned static URLs for cache busting: [`Context::static_url`] (Tornado's `static_url`)
//! and the check a [`StaticFileHandler`](super::StaticFileHandler) makes of a request's `v`.
//!
//! What the versions are and what a matching `v` earns is documented with the handler, in
//! [`StaticFileHandler`](super::StaticFileHandler#versioned-urls); the versions themselves
//! (hashing, their cache, the URL) are `static_version.rs`'s, this file asks them for a request.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::Context;
use crate::web::error::{HttpError, Result};
use crate::web::static_fs::FileStamp;
use crate::web::static_version::{hash_file, versioned_url};

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
