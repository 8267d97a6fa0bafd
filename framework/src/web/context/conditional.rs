//! Conditional requests a handler checks itself: [`Context::check_preconditions`] (RFC 9110
//! §13.1.1 `If-Match`, §13.1.4 `If-Unmodified-Since`), lost-update protection for unsafe
//! methods. The comparisons are [`etag`](crate::web::etag)'s; the automatic `If-None-Match`
//! check of GET and HEAD responses is in `context.rs`'s `finish`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Context;
use crate::web::compression::coded_etags;
use crate::web::error::{HttpError, Result};
use crate::web::etag::if_match;

impl Context {
    /// Checks the request's `If-Match` and `If-Unmodified-Since` preconditions (RFC 9110
    /// §13.1.1, §13.1.4, evaluated in §13.2.2's order) against the resource's current ETag and
    /// modification time, as declared by the handler. For unsafe methods (PUT, PATCH, DELETE,
    /// POST) that must not overwrite a representation the client has not seen: lost-update
    /// protection.
    ///
    /// `etag: None` means the resource does not exist (then `If-Match` never matches, not even
    /// `*`). With `compress_response` on, the tags of the compressed representations of
    /// `etag` (`"v3-gzip"`, `"v3-deflate"`) match too: they name the same state. `If-Unmodified-Since` is only consulted without `If-Match`, and only when
    /// `last_modified` is given.
    ///
    /// # Errors
    ///
    /// 412 Precondition Failed when a precondition does not hold.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Doc;
    ///
    /// #[handler]
    /// impl Doc {
    ///     fn put(&mut self, cx: &mut Context) -> Result<()> {
    ///         cx.check_preconditions(Some("\"v3\""), None)?; // 412 unless If-Match: "v3" (or none)
    ///         cx.write("saved");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn check_preconditions(
        &self,
        etag: Option<&str>,
        last_modified: Option<SystemTime>,
    ) -> Result<()> {
        let failed = || HttpError::new(412).log("precondition failed");
        let mut fields = self.request().header_all("If-Match").peekable();
        if fields.peek().is_some() {
            let ok = match etag {
                Some(tag) => {
                    // With compression on, the client may hold the ETag of a compressed
                    // representation of the same state.
                    let coded = if self.settings().compress_response {
                        coded_etags(tag)
                    } else {
                        [None, None]
                    };
                    fields
                        .any(|h| if_match(h, tag) || coded.iter().flatten().any(|c| if_match(h, c)))
                }
                None => false,
            };
            return if ok { Ok(()) } else { Err(failed()) };
        }
        let since = self
            .header("If-Unmodified-Since")
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok());
        if let (Some(since), Some(modified)) = (since, last_modified) {
            // HTTP dates have one-second resolution: compare whole seconds.
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if secs(modified) > secs(since) {
                return Err(failed());
            }
        }
        Ok(())
    }
}
