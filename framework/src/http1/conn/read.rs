//! The reading phases: a request head (`Idle`/`Head`), then its body (`Body`), then dispatch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::super::chunked::ChunkedDecoder;
use super::super::parse::{self, Framing, HeadLimits, Progress, Scan};
use super::super::{apply_xheaders, BodyMode, HttpServerOptions, Request};
use super::{BodyProgress, BodyRead, Conn, Phase};

impl Conn {
    /// Tries to read one request head (phase `Idle` or `Head`). Returns whether to go on.
    #[inline]
    pub(super) fn read_head(self: &Rc<Self>) -> bool {
        let opts = &self.server.options;
        // `fresh`: no byte of this head was seen before.
        let (progress, fresh) = match self.phase.get() {
            Phase::Head(progress) => (progress, false),
            _ => (Progress::default(), true),
        };
        if self.stream.read_buffered() == 0 {
            if self.stream.at_eof() || self.server.draining.get() {
                self.close_when_flushed();
            }
            return false;
        }
        let now = self.stream.io_loop().time();
        // The header timeout runs from the first byte of the head, not from the last one. It
        // is armed (below) unless the head is complete and bodiless, when dispatch would
        // clear it at once.
        let header_deadline = || {
            if fresh {
                self.set_deadline(opts.header_timeout.map(|t| now + t));
            }
        };
        let limits = HeadLimits {
            max_header_size: opts.max_header_size,
            max_request_line: opts.max_request_line,
            allow_bare_lf: opts.allow_bare_lf,
        };
        let mut parts = self.server.pool.take();
        let scan = self.stream.with_read_buffer(|buf| {
            match parse::scan_head(buf, progress, limits, &mut parts) {
                Scan::Complete(head) => (head.consumed, Scan::Complete(head)),
                other => (0, other),
            }
        });
        let head = match scan {
            Scan::Partial(progress) => {
                header_deadline();
                self.head_arriving(progress);
                self.server.pool.give(parts);
                if self.stream.at_eof() {
                    // The client will never finish this head; responses to the requests
                    // before it are still in the write buffer and must go out first.
                    self.close_when_flushed();
                }
                return false;
            }
            Scan::Error(status) => {
                header_deadline();
                self.server.pool.give(parts);
                self.fail(status);
                return false;
            }
            Scan::Complete(head) => head,
        };
        parts.remote_addr = self.remote;
        parts.remote_ip = self.peer_ip;
        parts.start = now;
        let mut request = Request::from_parts(parts, Some(self.server.pool.clone()));
        request.set_head(&head, self.stream.is_tls());
        request.parts.keep_alive = head.keep_alive && !opts.no_keep_alive;
        if opts.xheaders {
            apply_xheaders(&mut request);
        }
        if head.framing != Framing::None {
            header_deadline();
        }
        let progress = match head.framing {
            Framing::None => {
                self.dispatch(request);
                return true;
            }
            Framing::Length(n) if n > opts.max_body_size => {
                self.fail(413);
                return false;
            }
            Framing::Length(n) => BodyProgress::Length(n),
            Framing::Chunked => BodyProgress::Chunked(ChunkedDecoder::new(
                opts.max_body_size,
                opts.max_header_size,
            )),
        };
        // Delegate code: a panic here is answered like one in `handle` (500), not left to
        // unwind through the connection, which would wedge it mid-request.
        let mode = catch_unwind(AssertUnwindSafe(|| {
            self.server.delegate.body_mode(&request)
        }))
        .unwrap_or_else(|p| {
            log::error!(
                "squall: body_mode panicked: {}",
                crate::ioloop::panic_message(&*p)
            );
            BodyMode::Reject(500)
        });
        match mode {
            // (The body grows as its bytes arrive: see `read_body`.)
            BodyMode::Buffer => {}
            BodyMode::Stream(sink) => request.parts.sink = Some(sink),
            BodyMode::Reject(status) => {
                self.fail(status);
                return false;
            }
        }
        if head.expect_continue {
            // Only now that the body will be read (RFC 9110 §10.1.1).
            self.stream
                .with_write_buffer(|w| w.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n"));
            self.stream.flush();
        }
        self.read_body_of(request, progress, now);
        true
    }

    /// Moves buffered body bytes into the request. Returns whether to go on.
    pub(super) fn read_body(self: &Rc<Self>) -> bool {
        let mut slot = self.body.borrow_mut();
        let Some(br) = slot.as_mut() else {
            // (Not reached: the Body phase always has its request.)
            drop(slot);
            self.close_when_flushed();
            return false;
        };
        let BodyRead {
            request,
            framing,
            since,
            received,
        } = br;
        let result: Result<bool, u16> = self.stream.with_read_buffer(|buf| {
            if let (BodyProgress::Length(left), None) = (&*framing, &request.parts.sink) {
                grow_for(&mut request.parts.body, buf.len(), *left);
            }
            let mut deliver = |data: &[u8]| -> Result<(), u16> {
                match request.parts.sink.as_mut() {
                    // As for body_mode: a panicking sink is a 500, not a wedged connection.
                    Some(sink) => catch_unwind(AssertUnwindSafe(|| sink.data(data)))
                        .unwrap_or_else(|p| {
                            log::error!(
                                "squall: body sink panicked: {}",
                                crate::ioloop::panic_message(&*p)
                            );
                            Err(500)
                        }),
                    None => {
                        request.parts.body.extend_from_slice(data);
                        Ok(())
                    }
                }
            };
            match framing {
                BodyProgress::Length(left) => {
                    let n = (*left as usize).min(buf.len());
                    if let Err(e) = deliver(&buf[..n]) {
                        return (n, Err(e));
                    }
                    *left -= n as u64;
                    *received += n as u64;
                    (n, Ok(*left == 0))
                }
                BodyProgress::Chunked(dec) => match dec.feed(buf, &mut deliver) {
                    Ok(n) => {
                        *received += n as u64;
                        (n, Ok(dec.is_done()))
                    }
                    Err(e) => (0, Err(e)),
                },
            }
        });
        match result {
            Err(status) => {
                // The request (and its sink) is dropped: the body will not be read.
                slot.take();
                drop(slot);
                self.fail(status);
                false
            }
            Ok(true) => {
                let br = slot.take();
                drop(slot);
                if let Some(br) = br {
                    self.dispatch(br.request);
                }
                true
            }
            Ok(false) => {
                let (since, received) = (*since, *received);
                drop(slot);
                if self.stream.at_eof() {
                    // As for a partial head: flush earlier responses, then close.
                    self.close_when_flushed();
                    return false;
                }
                let opts = &self.server.options;
                let now = self.stream.io_loop().time();
                self.set_deadline(body_deadline(opts, since, received, now));
                false
            }
        }
    }
}

/// When a body that is still arriving times out: `body_timeout` after now (the stall
/// bound), and, with `min_body_rate`, no later than `body_timeout` after it started plus the
/// time its bytes so far earn at that rate. A client that keeps sending a byte now and then
/// (never stalling) still has to average the minimum rate once the first `body_timeout` is
/// over, so it cannot hold a connection for as long as its announced length allows.
fn body_deadline(
    opts: &HttpServerOptions,
    since: Instant,
    received: u64,
    now: Instant,
) -> Option<Instant> {
    let stall = opts.body_timeout?;
    let deadline = now + stall;
    match opts.min_body_rate {
        Some(rate) if rate > 0 => {
            let earned = Duration::from_secs_f64(received as f64 / f64::from(rate));
            Some(deadline.min(since + stall + earned))
        }
        _ => Some(deadline),
    }
}

/// Makes room in `body` for the next `arrived` bytes of a body with `left` bytes still to
/// come. Memory follows the bytes that arrived, never the length the head announced (a client
/// could announce megabytes on each of many connections and send nothing): capacity doubles,
/// but never past the announced length, so a body costs at most twice what arrived and never
/// more than its length.
#[inline]
fn grow_for(body: &mut Vec<u8>, arrived: usize, left: u64) {
    let left = usize::try_from(left).unwrap_or(usize::MAX);
    let n = arrived.min(left);
    if body.capacity() - body.len() >= n {
        return;
    }
    let total = body.len().saturating_add(left);
    let want = (body.capacity() * 2).max(body.len() + n).min(total);
    body.reserve_exact(want - body.len());
}
