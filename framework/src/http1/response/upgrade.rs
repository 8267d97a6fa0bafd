//! Switching protocols (RFC 9110 §7.8): the work behind [`Responder::upgrade`], which writes
//! `101 Switching Protocols`, ends HTTP on the connection and hands its stream to the caller;
//! and what a protocol taking the connection over needs from the responder before that (the
//! stream to build on, where to join the server's graceful shutdown).
//!
//! The rest of the response's life (its head, framing, access-log entry) is the parent
//! module's; the 101 is written with the same header rule and logged the same way.
//! `upgrade` itself, with its docs, stays in `response.rs`: rustc names an inherent method by
//! the module of its `impl` block when that is not the type's own, so defined here it would
//! read `http1::response::upgrade::<impl Responder>::upgrade` in users' error messages (a
//! responder used after `upgrade` consumed it, say).

use super::{refused, Responder, ResponseError};
use crate::http1::wire::{is_name, put_all, write_status_line};
use crate::http1::{ShutdownWatch, Version};
use crate::httputil::header_ok;
use crate::iostream::IOStream;

impl Responder {
    /// [`upgrade`](Responder::upgrade)'s work: the 101 written (headers checked as for any
    /// head, a `Date` added unless given), logged, flushed, and the connection handed off.
    pub(super) fn switch_protocols<'a, I>(mut self, headers: I) -> Result<IOStream, ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        if self.head_written {
            return Err(ResponseError::HeadAlreadyWritten);
        }
        if self.version != Version::Http11 {
            return Err(ResponseError::NotUpgradable);
        }
        self.head_written = true;
        let stream = self.conn.stream();
        let server = self.conn.server();
        let now = stream.io_loop().time();
        let written = stream.with_open_write_buffer(|w| {
            let start = w.len();
            write_status_line(w, Version::Http11, 101, None);
            let mut has_date = false;
            for (name, value) in headers {
                if !header_ok(name, value) {
                    w.truncate(start);
                    return Err(refused(name, value));
                }
                has_date |= name.len() == 4 && is_name(name.as_bytes(), b"date");
                put_all(w, [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
            }
            if !has_date {
                server.write_date_line(now, w);
            }
            w.extend_from_slice(b"\r\n");
            Ok(())
        });
        match written {
            Some(Ok(())) => {}
            Some(Err(refusal)) => {
                // Dropped with nothing written: the client gets a 500.
                self.head_written = false;
                return Err(refusal);
            }
            None => {
                self.done = true;
                return Err(ResponseError::Closed);
            }
        }
        self.done = true;
        self.status = 101;
        self.log_access();
        self.conn.stream().flush();
        self.conn.hand_off(self.seq).ok_or(ResponseError::Closed)
    }
    /// The connection's stream (a protocol upgrade builds its connection on it before the
    /// `101` is written).
    pub(crate) fn stream(&self) -> &IOStream {
        self.conn.stream()
    }

    /// Where the protocol this response upgrades to joins the server's graceful shutdown (take
    /// it before [`upgrade`](Responder::upgrade), which consumes the responder).
    pub(crate) fn shutdown_watch(&self) -> ShutdownWatch {
        self.conn.shutdown_watch()
    }
}
