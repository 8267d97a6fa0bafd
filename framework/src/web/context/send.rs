//! Putting the response on the wire: [`flush`](Context::flush) (the head, then the body
//! so far), [`finish`](Context::finish), [`abort`](Context::abort), the hand-over of the
//! stream to another protocol, and what the head gets by default (a `Content-Type`, a valid
//! status).

use super::encoding::Plan;
use super::{hooks, sanitize_status, Context, Encoding};
use crate::http1::MethodKind;
use crate::httputil::same_name;
use crate::web::error::{HttpError, Result};
use crate::web::etag;

impl Context {
    /// Sends the head and the body written so far; the rest of the body follows in chunks
    /// (HTTP/1.1) or until the connection closes (HTTP/1.0), unless its length was declared
    /// with [`set_content_length`](Context::set_content_length).
    ///
    /// # Errors
    ///
    /// 500 if the response is finished or the connection failed.
    pub fn flush(&mut self) -> Result<()> {
        if self.finished {
            return Err(HttpError::internal("flush() after finish()"));
        }
        if !self.head_sent && self.app.settings.hooks.any() {
            hooks::run_after(self);
        }
        let status = sanitize_status(self.status);
        if !self.head_sent {
            let plan = if self.app.settings.compress_response && self.encoding != Encoding::Off {
                self.plan_encoding(true)
            } else {
                Plan::NONE
            };
            let default_ct = self.default_content_type_line(status == 204 || status == 304);
            let Some(res) = self.responder.as_mut() else {
                return Err(HttpError::internal("no connection"));
            };
            self.head_sent = true;
            let mut lines: [&[u8]; 3] = [&[], &[], &[]];
            let mut n = 0;
            if let Some(line) = default_ct {
                lines[n] = line;
                n += 1;
            }
            n += plan.add_lines(&mut lines[n..], status);
            res.write_head_validated(
                status,
                self.reason.as_deref(),
                self.parts.headers.iter(),
                lines.get(..n).unwrap_or_default(),
                // A compressed body's length is not known: it goes chunked.
                if plan.coding.is_some() {
                    None
                } else {
                    self.content_length
                },
            )?;
        }
        if self.parts.lease.is_some() {
            self.write_encoded(false)?;
        } else {
            let Some(res) = self.responder.as_mut() else {
                return Err(HttpError::internal("no connection"));
            };
            res.write(&self.parts.body)?;
        }
        self.parts.body.clear();
        if let Some(res) = self.responder.as_ref() {
            res.flush();
        }
        Ok(())
    }

    /// Flushes, then waits until the client's socket has taken the data: await it between
    /// pieces of a large streamed body to keep memory bounded.
    ///
    /// # Errors
    ///
    /// 500 if the connection failed or closed.
    pub async fn flush_and_wait(&mut self) -> Result<()> {
        self.flush()?;
        match self.responder.as_ref() {
            Some(r) => r.drain().await.map_err(HttpError::from),
            None => Ok(()),
        }
    }

    /// Finishes the response: sends the head (with `Content-Length` and, for a 200 GET without
    /// a declared length, an ETag — answering 304 if the client has it) and the body. Called automatically after the
    /// handler method returns.
    ///
    /// # Errors
    ///
    /// 500 if already finished or the connection failed.
    #[inline]
    pub fn finish(&mut self) -> Result<()> {
        // The application's `after` hook, before the head goes; kept out of `send_rest` so
        // that an application without hooks runs the same code as before hooks existed.
        if self.app.settings.hooks.any() && !self.head_sent && !self.finished {
            hooks::run_after(self);
            if self.finished {
                return Ok(());
            }
        }
        self.send_rest()
    }

    /// [`finish`](Context::finish) after the hooks: completes the response.
    fn send_rest(&mut self) -> Result<()> {
        if self.finished {
            return Err(HttpError::internal("finish() called twice"));
        }
        self.finished = true;
        // Compression, when on, goes first: it may replace the body and code the ETag (the
        // tag names the representation sent), then the response completes as usual (a HEAD
        // of a compressed representation it completes itself, taking the responder).
        if !self.head_sent && self.app.settings.compress_response && self.may_encode() {
            self.encode_complete_body()?;
        }
        let Some(mut res) = self.responder.take() else {
            return Ok(());
        };
        if !self.head_sent {
            let parts = &mut *self.parts;
            // One scan of the handler's headers for the two that finishing looks at.
            let mut has_content_type = false;
            let mut own_etag = None;
            for (name, value) in parts.headers.iter() {
                if same_name(name, "Content-Type") {
                    has_content_type = true;
                } else if own_etag.is_none() && same_name(name, "Etag") {
                    own_etag = Some(value);
                }
            }
            // The ETag of a complete 200 GET: the handler's own, or computed from the body
            // (then sent as an extra header). A match of `If-None-Match` makes it a 304.
            let mut computed_etag = false;
            if self.etag_enabled
                && self.content_length.is_none()
                && self.status == 200
                && self.dispatch_method == MethodKind::Get
            {
                let tag = match own_etag {
                    Some(own) => own,
                    None => {
                        computed_etag = true;
                        parts.etag.tag_of(&parts.body)
                    }
                };
                if etag::request_matches(&self.request, tag) {
                    self.status = 304;
                    self.reason = None;
                    parts.body.clear();
                    for h in etag::REPRESENTATION_HEADERS {
                        parts.headers.remove(h);
                    }
                }
            }
            let status = sanitize_status(self.status);
            let no_body = status == 304 || status == 204;
            if no_body {
                parts.body.clear();
            }
            let len = if no_body {
                0
            } else {
                self.content_length.unwrap_or(parts.body.len() as u64)
            };
            // The headers finishing adds, as whole lines after the handler's.
            let mut lines: [&[u8]; 2] = [&[], &[]];
            let mut n = 0;
            if !no_body && !has_content_type {
                lines[n] = DEFAULT_CONTENT_TYPE_LINE;
                n += 1;
            }
            if computed_etag {
                lines[n] = parts.etag.last_line();
                n += 1;
            }
            res.complete(
                status,
                self.reason.as_deref(),
                parts.headers.iter(),
                lines.get(..n).unwrap_or_default(),
                Some(len),
                false,
                &parts.body,
            )?;
            return Ok(());
        }
        if self.parts.lease.is_some() {
            self.responder = Some(res);
            self.write_encoded(true)?;
            let Some(res) = self.responder.take() else {
                return Err(HttpError::internal("no connection"));
            };
            self.parts.lease = None;
            res.finish()?;
            return Ok(());
        }
        res.write(&self.parts.body)?;
        res.finish()?;
        Ok(())
    }

    /// Closes the connection without completing the response.
    pub fn abort(&mut self) {
        self.finished = true;
        if let Some(r) = self.responder.take() {
            r.abort();
        }
    }

    /// Counts the client's end of input while this response is pending as the client leaving
    /// (see [`Responder::close_on_client_eof`](crate::http1::Responder::close_on_client_eof)). Done automatically for async handlers that
    /// define `on_connection_close`.
    pub fn close_on_client_eof(&self) {
        if let Some(r) = self.responder.as_ref() {
            r.close_on_client_eof();
        }
    }

    /// Runs `f` if the client closes the connection before the response is finished (once it
    /// is finished there is nothing left to interrupt, and `f` is dropped).
    pub fn on_connection_close<F: FnOnce() + 'static>(&mut self, f: F) {
        if let Some(r) = self.responder.as_ref() {
            r.set_close_callback(f);
        }
    }

    pub(crate) fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.parts.body
    }

    /// The connection's stream (a WebSocket upgrade builds its connection on it).
    pub(crate) fn stream(&self) -> Option<crate::iostream::IOStream> {
        self.responder.as_ref().map(|r| r.stream().clone())
    }

    /// Answers `101 Switching Protocols` with `headers` and hands the stream over (see
    /// [`Responder::upgrade`]), with where the new protocol joins the server's graceful
    /// shutdown; the context is finished.
    pub(crate) fn upgrade(
        &mut self,
        headers: &[(&str, &str)],
    ) -> Result<(crate::iostream::IOStream, crate::http1::ShutdownWatch)> {
        if self.finished || self.head_sent {
            return Err(HttpError::internal("upgrade after the response started"));
        }
        self.finished = true;
        let res = self
            .responder
            .take()
            .ok_or_else(|| HttpError::internal("no connection"))?;
        let watch = res.shutdown_watch();
        Ok((res.upgrade(headers.iter().copied())?, watch))
    }
}

/// The `Content-Type` a response gets when the handler set none (Tornado's default), as the
/// header line sent.
const DEFAULT_CONTENT_TYPE_LINE: &[u8] = b"Content-Type: text/html; charset=UTF-8\r\n";

impl Context {
    /// The default `Content-Type` header line, when the response has a body and none was set.
    pub(super) fn default_content_type_line(&self, no_body: bool) -> Option<&'static [u8]> {
        (!no_body && !self.parts.headers.contains("Content-Type"))
            .then_some(DEFAULT_CONTENT_TYPE_LINE)
    }
}
