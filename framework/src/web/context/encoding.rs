//! The [`Context`]'s side of response compression: deciding, when the head is written, what
//! compression does to this response ([`Plan`]), and compressing the body as it is flushed or
//! finished. A complete body is compressed before `finish` completes the response
//! ([`encode_complete_body`](Context::encode_complete_body)), which turns the response into the
//! compressed one (body, `Content-Encoding`, `Vary`, the coded ETag as the response's own) so
//! that `finish` then sends it as it sends any other: one path, with no compression branch. The rules themselves (eligibility, negotiation, coded ETags, the compressor pool)
//! are `web/compression.rs`'s; this file only applies them to the response being built.
//!
//! ### Cost when unused
//!
//! `flush` and `finish` test `Settings::compress_response` (and, in `finish`, the body's
//! length against `min_length`) before calling anything here, so a response that compression
//! cannot touch pays one or two comparisons.

use super::Context;
use crate::http1::MethodKind;
use crate::web::compression::{self, ContentCoding, Lease, VARY_LINE};
use crate::web::error::{HttpError, Result};

/// How a response's body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Decided when the head is written, from the settings, the response and
    /// `Accept-Encoding` (adding `Vary` and coding the ETag as needed).
    Auto,
    /// Never compressed, nothing added (`set_compression_enabled(false)`, or a handler that
    /// took care of `Vary` itself).
    Off,
    /// Compressed with this coding; the handler set `Vary` and the representation's
    /// validators itself (the static file handler).
    Fixed(ContentCoding),
}

/// What compression does to one response, decided when its head is written.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    /// The coding the response is sent with (or, for HEAD, announced with).
    pub(super) coding: Option<ContentCoding>,
    /// Whether to add [`VARY_LINE`] (the handler set no `Vary` to merge into).
    vary_line: bool,
    /// A HEAD request: the headers of the compressed response, no body to compress.
    pub(super) head_only: bool,
}

impl Plan {
    /// Compression does nothing.
    pub(super) const NONE: Plan = Plan {
        coding: None,
        vary_line: false,
        head_only: false,
    };

    /// Writes the header lines the plan adds for a response of `status` into `lines`;
    /// returns how many (at most 2).
    #[inline(always)]
    pub(super) fn add_lines(&self, lines: &mut [&[u8]], status: u16) -> usize {
        let mut n = 0;
        if let Some(coding) = self.coding.filter(|_| status != 304 && status != 204) {
            if let Some(slot) = lines.get_mut(n) {
                *slot = coding.header_line();
                n += 1;
            }
        }
        if self.vary_line {
            if let Some(slot) = lines.get_mut(n) {
                *slot = VARY_LINE;
                n += 1;
            }
        }
        n
    }
}

/// Compresses `input` with the lease's compressor.
pub(super) fn compress<'a>(lease: &'a mut Lease, input: &[u8], last: bool) -> Result<&'a [u8]> {
    let encoder = lease
        .encoder()
        .ok_or_else(|| HttpError::internal("compressor already returned"))?;
    encoder
        .compress(input, last)
        .map_err(|e| HttpError::internal(e.to_string()))
}

impl Context {
    /// Turns response compression off (or back on) for this response, when
    /// [`Settings::compress_response`](crate::web::Settings::compress_response) is on: for a
    /// body the client must get byte for byte, or a stream that must not be held in a
    /// compressor. Has no effect once the head is sent. A response with its own
    /// `Content-Encoding` is never compressed anyway.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Events;
    ///
    /// #[handler]
    /// impl Events {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         cx.set_compression_enabled(false);
    ///         cx.set_header("Content-Type", "text/event-stream")?;
    ///         cx.write("data: hello\n\n");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_compression_enabled(&mut self, on: bool) {
        if self.head_sent {
            return;
        }
        self.encoding = if on { Encoding::Auto } else { Encoding::Off };
        if !on {
            self.parts.lease = None;
        }
    }

    /// Decides now that the body goes out compressed with `coding`, for a handler that
    /// chose the representation itself (and set `Vary` and its validators): the static file
    /// handler. `false` (and nothing compressed) when a streamed response cannot get a
    /// compressor (`max_streams` are out) or the head is already sent.
    pub(crate) fn compress_with(&mut self, coding: ContentCoding) -> bool {
        if self.head_sent {
            return false;
        }
        if self.request.method_kind() != MethodKind::Head {
            let options = &self.app.settings.compression;
            match self.app.encoders.lease(coding, options, true) {
                Some(lease) => self.parts.lease = Some(lease),
                None => {
                    self.encoding = Encoding::Off;
                    return false;
                }
            }
        }
        self.encoding = Encoding::Fixed(coding);
        true
    }

    /// Makes this response's `Vary` name `Accept-Encoding` (merged into the handler's, never
    /// repeated), for a handler whose representation depends on it.
    pub(crate) fn vary_on_accept_encoding(&mut self) {
        if compression::merge_vary(&mut self.parts.headers) {
            self.parts.headers.append("Vary", "Accept-Encoding");
        }
    }

    /// Whether a complete body may be compressed (asked when `compress_response` is on):
    /// cheap tests only, the rest is [`plan_encoding`](Context::plan_encoding)'s.
    #[inline]
    pub(super) fn may_encode(&self) -> bool {
        match self.encoding {
            Encoding::Auto => self.parts.body.len() >= self.app.settings.compression.min_length,
            Encoding::Off => false,
            Encoding::Fixed(_) => true,
        }
    }

    /// Decides what compression does to this response as its head is written: `streamed`
    /// when it is flushed before being complete. May merge `Vary`, code the handler's ETag,
    /// drop a `Content-Length` header that described the uncompressed body, and take a
    /// compressor for a stream.
    #[inline(never)]
    pub(super) fn plan_encoding(&mut self, streamed: bool) -> Plan {
        let head_only = self.request.method_kind() == MethodKind::Head;
        match self.encoding {
            Encoding::Off => return Plan::NONE,
            Encoding::Fixed(coding) => {
                return Plan {
                    coding: Some(coding),
                    vary_line: false,
                    head_only,
                }
            }
            Encoding::Auto => {}
        }
        if !self.eligible(streamed) {
            return Plan::NONE;
        }
        let vary_line = compression::merge_vary(&mut self.parts.headers);
        let identity = Plan {
            coding: None,
            vary_line,
            head_only,
        };
        let Some(coding) = compression::negotiate(self.request.header_all("Accept-Encoding"))
        else {
            return identity;
        };
        if streamed && !head_only {
            let options = &self.app.settings.compression;
            match self.app.encoders.lease(coding, options, true) {
                Some(lease) => self.parts.lease = Some(lease),
                None => return identity,
            }
        }
        // The handler's own validator and length described the uncompressed body.
        if let Some(coded) = self
            .parts
            .headers
            .get("Etag")
            .and_then(|tag| compression::coded_etag(tag, coding))
        {
            self.parts.headers.insert("Etag", coded);
        }
        self.parts.headers.remove("Content-Length");
        Plan {
            coding: Some(coding),
            vary_line,
            head_only,
        }
    }

    /// Turns a complete response into what compression makes of it, before `finish` sends it
    /// (called when `compress_response` is on and [`may_encode`](Context::may_encode), a
    /// test `finish` makes in line so that a small body costs no call): adds
    /// `Vary`; and when a coding applies, sets the coded ETag as the response's own (so that
    /// `finish` answers a matching `If-None-Match` with 304 without compressing anything),
    /// adds `Content-Encoding`, and replaces the body with its compressed form. A HEAD it
    /// answers itself: the headers of the compressed GET, without a length (known only by
    /// compressing a body that is not sent).
    ///
    /// # Errors
    ///
    /// 500 if the body differs from a declared length, or the compressor fails.
    #[inline(never)]
    pub(super) fn encode_complete_body(&mut self) -> Result<()> {
        let plan = self.plan_encoding(false);
        if plan.vary_line {
            self.parts.headers.append("Vary", "Accept-Encoding");
        }
        let Some(coding) = plan.coding else {
            return Ok(());
        };
        let status = self.status;
        if status == 204 || status == 304 {
            return Ok(());
        }
        // The automatic ETag of the coded representation, set as the response's own.
        let automatic = self.etag_enabled
            && self.content_length.is_none()
            && status == 200
            && self.dispatch_method == MethodKind::Get;
        if automatic {
            let parts = &mut *self.parts;
            if !parts.headers.contains("Etag") {
                let tag = parts.etag.tag_of(&parts.body);
                if let Some(coded) = compression::coded_etag(tag, coding) {
                    parts.headers.append("Etag", coded);
                }
            }
            // A loop of its own rather than `etag::request_matches`: as that function's
            // second caller this made LLVM outline it (and its iterator) from `finish`, the
            // path of every response, at ~40 instructions per request.
            let mut matched = false;
            if let Some(tag) = parts.headers.get("Etag") {
                for line in self.request.header_all("If-None-Match") {
                    matched |= crate::web::etag::if_none_match(line, tag);
                }
            }
            if matched {
                // `finish` answers 304 (with `Vary` and this tag): nothing to compress.
                return Ok(());
            }
        }
        self.parts.headers.append("Content-Encoding", coding.name());
        if plan.head_only {
            return self.complete_head();
        }
        if let Some(declared) = self.content_length {
            if declared != self.parts.body.len() as u64 {
                return Err(HttpError::internal(
                    "response body length differs from its declared Content-Length",
                ));
            }
            // The handler's length and validators described the identity body: the length
            // is now the compressed one, and no ETag is computed from compressed bytes.
            self.content_length = None;
            self.etag_enabled = false;
        }
        let held = self.parts.lease.take();
        let options = &self.app.settings.compression;
        let mut lease = held
            .or_else(|| self.app.encoders.lease(coding, options, false))
            .ok_or_else(|| HttpError::internal("no compressor"))?;
        let encoder = lease
            .encoder()
            .ok_or_else(|| HttpError::internal("compressor already returned"))?;
        encoder
            .compress(&self.parts.body, true)
            .map_err(|e| HttpError::internal(e.to_string()))?;
        // The compressed bytes become the body; the encoder keeps the old body's buffer for
        // its next output (no copy either way).
        encoder.swap_output(&mut self.parts.body);
        Ok(())
    }

    /// Sends the head of a HEAD response whose representation is compressed, without
    /// `Content-Length`, and finishes it (`finish` then finds no responder left).
    fn complete_head(&mut self) -> Result<()> {
        let Some(mut res) = self.responder.take() else {
            return Ok(());
        };
        let status = super::sanitize_status(self.status);
        let default_ct = self.default_content_type_line(false);
        res.write_head_validated(
            status,
            self.reason.as_deref(),
            self.parts.headers.iter(),
            default_ct.as_slice(),
            None,
        )?;
        res.finish()?;
        Ok(())
    }

    /// Whether the response is one compression applies to (the module docs of
    /// `compression.rs` list the rules).
    fn eligible(&self, streamed: bool) -> bool {
        let status = self.status;
        if !(200..=599).contains(&status) || matches!(status, 204 | 206 | 304) {
            return false;
        }
        let min = self.app.settings.compression.min_length as u64;
        let long_enough = match self.content_length {
            Some(declared) => declared >= min,
            None => streamed || self.parts.body.len() as u64 >= min,
        };
        let headers = &self.parts.headers;
        long_enough
            && !headers.contains("Content-Encoding")
            && !headers.contains("Content-Range")
            && headers
                .get("Content-Type")
                .is_none_or(compression::compressible_type)
    }

    /// Compresses the body written since the last flush (`last`: and ends the stream), writes
    /// the output, and holds the handler to a declared length, which counts uncompressed
    /// bytes: more than declared, or fewer at the end, closes the connection.
    pub(super) fn write_encoded(&mut self, last: bool) -> Result<()> {
        let taken = self
            .parts
            .lease
            .as_mut()
            .and_then(|l| l.encoder())
            .map_or(0, |e| e.taken());
        let total = taken + self.parts.body.len() as u64;
        if let Some(declared) = self.content_length {
            if total > declared || (last && total < declared) {
                self.parts.lease = None;
                self.abort();
                return Err(HttpError::internal(
                    "response body length differs from its declared Content-Length",
                ));
            }
        }
        let (Some(lease), Some(res)) = (self.parts.lease.as_mut(), self.responder.as_mut()) else {
            return Err(HttpError::internal("no connection"));
        };
        let out = compress(lease, &self.parts.body, last)?;
        res.write(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ContentCoding, Plan, VARY_LINE};

    #[test]
    fn plan_lines() {
        let plan = Plan {
            coding: Some(ContentCoding::Gzip),
            vary_line: true,
            head_only: false,
        };
        let mut lines: [&[u8]; 2] = [&[], &[]];
        assert_eq!(plan.add_lines(&mut lines, 200), 2);
        assert_eq!(lines, [b"Content-Encoding: gzip\r\n" as &[u8], VARY_LINE]);
        // A 304 keeps Vary, not the coding of a body it does not carry.
        let mut lines: [&[u8]; 2] = [&[], &[]];
        assert_eq!(plan.add_lines(&mut lines, 304), 1);
        assert_eq!(lines[0], VARY_LINE);
        assert_eq!(Plan::NONE.add_lines(&mut lines, 200), 0);
    }
}
