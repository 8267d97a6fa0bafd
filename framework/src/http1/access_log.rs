//! The access log: one line per response (target `squall::access`; info below 400, warn for
//! 4xx, error for 5xx), `STATUS METHOD URI (IP) MS`.
//!
//! The [`Responder`](super::Responder) owns the entry of its request: started when the request
//! is dispatched (method, target, client address, start time), written when the response is
//! finished. Entries are recycled by the server ([`AccessLog`]), so a logged request costs no
//! allocation in steady state; with `access_log` off, or no logger listening at
//! `squall::access`, no entry is made at all.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Instant;

use super::Request;

/// One request's pending access-log line.
pub(super) struct AccessEntry {
    /// `METHOD uri`.
    line: String,
    ip: IpAddr,
    start: Instant,
}

/// Spare entries, per server.
#[derive(Default)]
pub(crate) struct AccessLog {
    // Boxes on purpose: a responder holds its entry boxed (one pointer), and it is recycled whole.
    #[allow(clippy::vec_box)]
    spare: RefCell<Vec<Box<AccessEntry>>>,
}

impl AccessLog {
    /// An entry for `request`, if access logging is `enabled` and someone listens.
    #[inline]
    pub(super) fn start(&self, enabled: bool, request: &Request) -> Option<Box<AccessEntry>> {
        if enabled && log::log_enabled!(target: "squall::access", log::Level::Error) {
            Some(self.start_entry(request))
        } else {
            None
        }
    }

    #[cold]
    #[inline(never)]
    fn start_entry(&self, request: &Request) -> Box<AccessEntry> {
        let mut e = self.spare.borrow_mut().pop().unwrap_or_else(|| {
            Box::new(AccessEntry {
                line: String::new(),
                ip: request.remote_ip(),
                start: Instant::now(),
            })
        });
        e.line.clear();
        e.line.push_str(request.method_str());
        e.line.push(' ');
        e.line.push_str(request.uri());
        e.ip = request.remote_ip();
        e.start = Instant::now();
        e
    }

    /// Writes `entry`'s line for a response with `status`, and keeps the entry for reuse.
    #[cold]
    #[inline(never)]
    pub(super) fn finish(&self, entry: Box<AccessEntry>, status: u16) {
        let ms = entry.start.elapsed().as_secs_f64() * 1000.0;
        let level = match status {
            0..=399 => log::Level::Info,
            400..=499 => log::Level::Warn,
            _ => log::Level::Error,
        };
        log::log!(
            target: "squall::access",
            level,
            "{} {} ({}) {:.2}ms",
            status,
            entry.line,
            entry.ip,
            ms
        );
        const KEEP: usize = 64;
        let mut spare = self.spare.borrow_mut();
        if spare.len() < KEEP {
            spare.push(entry);
        }
    }
}
