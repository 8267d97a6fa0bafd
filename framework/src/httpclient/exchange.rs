//! One request and its response on one connection: the request written, the response head
//! parsed in the stream's read buffer, the body decoded into a sink.
//!
//! ### Ordering
//!
//! The response is read while the request is still being written: a server may answer (a
//! 413, a redirect) and close before taking a large body. If the response is complete, it is
//! the answer, and the connection is not reused unless the request went out whole. Only if
//! no response comes is a failed write the error reported.
//!
//! ### Reuse
//!
//! A connection goes back to the pool only after a response framed by length or chunks (or
//! with no body), read to its last byte, both sides willing to keep it, the request fully
//! sent, and nothing after the response in the buffer. Anything else closes it.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use std::io::{self, Write};

use flate2::write::GzDecoder;

use super::{Error, ErrorKind};
use crate::http1::{
    scan_response_head, BodyDecoder, BodyError, BodyFraming, HeadError, ResponseHead, ResponseScan,
};
use crate::iostream::{IOStream, StreamError};

/// Where a response body goes.
pub(crate) enum Sink<'a> {
    /// Into the response's body.
    Collect(&'a mut Vec<u8>),
    /// To the request's streaming callback.
    Stream(&'a mut dyn FnMut(&[u8])),
    /// Nowhere (the body of a redirect being followed).
    Discard,
}

/// Limits an exchange enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_header_size: usize,
    pub(crate) max_body: u64,
}

/// How an exchange failed: the error, and whether nothing at all had been received (a reused
/// connection that the server had closed while it was idle: safe to retry).
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) nothing_received: bool,
}

fn fail(kind: ErrorKind, url: &str, message: impl Into<String>) -> Failure {
    Failure {
        error: Error::new(kind, url, message.into()),
        nothing_received: false,
    }
}

/// Sends `request` (a complete request: head and body) on `stream` and reads the response
/// head. `head_request`: the method was HEAD.
pub(crate) async fn send_and_read_head(
    stream: &IOStream,
    request: &[u8],
    head_request: bool,
    limits: Limits,
    url: &str,
) -> Result<ResponseHead, Failure> {
    stream.with_write_buffer(|w| w.extend_from_slice(request));
    stream.flush();
    let mut write = pin!(stream.wait_flushed());
    let mut head = pin!(read_head(stream, head_request, limits, url));
    let mut write_result = None;
    let result = std::future::poll_fn(|cx| {
        if write_result.is_none() {
            if let Poll::Ready(r) = write.as_mut().poll(cx) {
                write_result = Some(r);
            }
        }
        head.as_mut().poll(cx)
    })
    .await;
    match (result, write_result) {
        // No response, and the request did not go out: that is the story to tell.
        (Err(mut f), Some(Err(StreamError::Closed { cause: Some(e) })))
            if f.error.kind() == ErrorKind::Closed =>
        {
            f.error = Error::new(ErrorKind::Closed, url, "sending the request").with_source(e);
            Err(f)
        }
        (r, _) => r,
    }
}

async fn read_head(
    stream: &IOStream,
    head_request: bool,
    limits: Limits,
    url: &str,
) -> Result<ResponseHead, Failure> {
    let mut searched = 0;
    // Bytes of 1xx interim heads so far: they count against the head limit together.
    let mut interim = 0usize;
    loop {
        let max = limits.max_header_size.saturating_sub(interim);
        let scan = stream.with_read_buffer(|buf| {
            match scan_response_head(buf, searched, max, head_request) {
                ResponseScan::Complete(head) => (head.consumed, ResponseScan::Complete(head)),
                other => (0, other),
            }
        });
        match scan {
            ResponseScan::Partial { searched: s } => {
                searched = s;
                let have = stream.read_buffered();
                if let Err(e) = stream.wait_for_data(have).await {
                    let nothing = have == 0 && interim == 0;
                    let what = if nothing {
                        "before any response"
                    } else {
                        "inside the response head"
                    };
                    return Err(closed(e, url, what, nothing, limits));
                }
            }
            ResponseScan::Complete(head) if head.status == 101 => {
                return Err(fail(
                    ErrorKind::BadResponse,
                    url,
                    "101 Switching Protocols to a request that asked for no upgrade",
                ));
            }
            ResponseScan::Complete(head) if head.status < 200 => {
                // 100 Continue, 103 Early Hints...: the real response follows.
                interim += head.consumed;
                searched = 0;
            }
            ResponseScan::Complete(head) => return Ok(head),
            ResponseScan::Error(HeadError::TooLarge) => {
                return Err(fail(
                    ErrorKind::TooLarge,
                    url,
                    format!(
                        "response head over {} bytes or {} fields",
                        limits.max_header_size,
                        crate::http1::MAX_HEADERS
                    ),
                ));
            }
            ResponseScan::Error(HeadError::Bad(why)) => {
                return Err(fail(ErrorKind::BadResponse, url, why));
            }
        }
    }
}

/// The error for a stream that ended (or could not hold more) while waiting for `what`.
fn closed(e: StreamError, url: &str, what: &str, nothing: bool, limits: Limits) -> Failure {
    match e {
        StreamError::Unsatisfiable(_) => fail(
            ErrorKind::TooLarge,
            url,
            format!("response head over {} bytes", limits.max_header_size),
        ),
        StreamError::Closed { cause } => {
            let message = format!("the connection closed {what}");
            let mut error = Error::new(ErrorKind::Closed, url, message);
            if let Some(c) = cause {
                error = error.with_source(c);
            }
            Failure {
                error,
                nothing_received: nothing,
            }
        }
        other => fail(ErrorKind::Closed, url, other.to_string()),
    }
}

impl Sink<'_> {
    fn put(&mut self, data: &[u8]) {
        match self {
            Sink::Collect(v) => v.extend_from_slice(data),
            Sink::Stream(f) => f(data),
            Sink::Discard => {}
        }
    }
}

/// Decompressed bytes on their way to the sink, counted against the body limit: a small body
/// that inflates past it fails instead of filling memory.
struct Inflated<'s, 'a> {
    sink: &'s mut Sink<'a>,
    written: u64,
    max: u64,
}

/// The marker of an inflated body over the limit.
#[derive(Debug)]
struct OverLimit;

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed body over the limit")
    }
}

impl std::error::Error for OverLimit {}

impl Write for Inflated<'_, '_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written += data.len() as u64;
        if self.written > self.max {
            return Err(io::Error::other(OverLimit));
        }
        self.sink.put(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the body's bytes go as they are decoded from the framing.
enum Out<'s, 'a> {
    Plain(&'s mut Sink<'a>),
    // Boxed: the decoder's state is large, and allocated per gzip response anyway.
    Gunzip(Box<GzDecoder<Inflated<'s, 'a>>>),
}

/// Reads the body framed as `framing` into `sink`, to its last byte; `gunzip`: the body is
/// gzip, decompressed on the way (the limit then bounds the decompressed bytes too).
///
/// # Errors
///
/// A body cut short (by a close or a reset), bad chunk framing, a body over the limit, corrupt
/// or truncated gzip.
pub(crate) async fn read_body(
    stream: &IOStream,
    framing: BodyFraming,
    sink: &mut Sink<'_>,
    gunzip: bool,
    limits: Limits,
    url: &str,
) -> Result<(), Error> {
    let body_error = |e: BodyError| match e {
        BodyError::TooLarge => Error::new(
            ErrorKind::TooLarge,
            url,
            format!("response body over {} bytes", limits.max_body),
        ),
        BodyError::Bad(why) => Error::new(ErrorKind::BadResponse, url, why),
        BodyError::Truncated {
            received,
            expected: Some(n),
        } => Error::new(
            ErrorKind::Closed,
            url,
            format!("the connection closed after {received} of {n} body bytes"),
        ),
        BodyError::Truncated { received, .. } => Error::new(
            ErrorKind::Closed,
            url,
            format!("the connection closed inside a chunked body, after {received} bytes"),
        ),
    };
    let mut decoder =
        BodyDecoder::new(framing, limits.max_body, limits.max_header_size).map_err(body_error)?;
    let mut target = if gunzip {
        Out::Gunzip(Box::new(GzDecoder::new(Inflated {
            sink,
            written: 0,
            max: limits.max_body,
        })))
    } else {
        Out::Plain(sink)
    };
    let mut inflate_error: Option<io::Error> = None;
    let gzip_error = |e: io::Error| {
        if e.get_ref().is_some_and(|inner| inner.is::<OverLimit>()) {
            Error::new(
                ErrorKind::TooLarge,
                url,
                format!(
                    "response body over {} bytes once decompressed",
                    limits.max_body
                ),
            )
        } else {
            Error::new(ErrorKind::BadResponse, url, "corrupt gzip body").with_source(e)
        }
    };
    while !decoder.is_done() {
        let mut out = |data: &[u8]| match &mut target {
            Out::Plain(sink) => sink.put(data),
            Out::Gunzip(gz) => {
                if inflate_error.is_none() {
                    if let Err(e) = gz.write_all(data) {
                        inflate_error = Some(e);
                    }
                }
            }
        };
        stream
            .with_read_buffer(|buf| match decoder.feed(buf, &mut out) {
                Ok(used) => (used, Ok(())),
                Err(e) => (0, Err(e)),
            })
            .map_err(body_error)?;
        if let Some(e) = inflate_error.take() {
            return Err(gzip_error(e));
        }
        if decoder.is_done() {
            break;
        }
        match stream.wait_for_data(stream.read_buffered()).await {
            Ok(()) => {}
            Err(StreamError::Closed { cause: None }) => {
                // The server finished sending: the end of a close-delimited body, or a cut.
                decoder.end_of_input().map_err(body_error)?;
            }
            Err(StreamError::Closed { cause: Some(c) }) => {
                let message = format!(
                    "the connection failed after {} body bytes",
                    decoder.received()
                );
                return Err(Error::new(ErrorKind::Closed, url, message).with_source(c));
            }
            Err(other) => return Err(Error::new(ErrorKind::Closed, url, other.to_string())),
        }
    }
    if let Out::Gunzip(gz) = target {
        // The gzip trailer (length and CRC) must have come whole; a response without a body
        // (to HEAD, a 304) has nothing to decompress.
        if decoder.received() > 0 {
            gz.finish().map_err(gzip_error)?;
        }
    }
    Ok(())
}
