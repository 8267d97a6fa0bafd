//! A request's storage: [`Parts`], everything one request holds — its head as the bytes that
//! arrived with [`Span`]s into them (at most [`MAX_HEADERS`] fields), its body or the
//! [`BodySink`] that takes it instead, the request line's facts and the peer — boxed, and the
//! [`RequestPool`] that recycles the box.
//!
//! Below the parser, which fills a `Parts`, and the `Request` that owns one.

use std::any::Any;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::method::{MethodKind, Version};

/// A byte range `[start, end)` into a request's head.
pub(crate) type Span = (u32, u32);

/// Most header fields a request may have (more: 431).
pub(crate) const MAX_HEADERS: usize = 100;

/// Receives a request body piece by piece instead of having it buffered whole (see
/// [`BodyMode::Stream`](crate::http1::BodyMode::Stream)).
pub trait BodySink: Any {
    /// A piece of the body, in order.
    ///
    /// # Errors
    ///
    /// An HTTP status (4xx/5xx) to answer with; the rest of the body is not read and the
    /// connection closes after the response.
    fn data(&mut self, chunk: &[u8]) -> Result<(), u16>;

    /// Converts the sink back into `Box<dyn Any>`, so its owner can take it back by type from
    /// [`Request::take_body_sink`](super::Request::take_body_sink).
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// Recycled request buffers, per server.
#[derive(Default)]
pub(crate) struct RequestPool {
    // Boxes on purpose: a request holds its parts boxed, and the pool hands the box over whole.
    #[allow(clippy::vec_box)]
    spare: RefCell<Vec<Box<Parts>>>,
}

/// Everything about one request — its reusable allocations, the request line's facts and the
/// peer — boxed: a [`Request`](super::Request) moves (into the delegate, into a handler's context) as two
/// pointers, and the pool recycles the box whole. A box in the pool never holds a body sink.
pub(crate) struct Parts {
    pub(crate) head: Vec<u8>,
    pub(crate) headers: Vec<(Span, Span)>,
    pub(crate) body: Vec<u8>,
    pub(crate) remote_addr: SocketAddr,
    pub(crate) remote_ip: IpAddr,
    /// When the server started reading the request.
    pub(crate) start: Instant,
    pub(crate) method: MethodKind,
    pub(crate) method_span: Span,
    pub(crate) target: Span,
    /// Length of the path within the target (before `?`).
    pub(crate) path_len: u32,
    /// The authority of an absolute-form target (it stands for `Host`); `(0, 0)` if none.
    pub(crate) authority: Span,
    pub(crate) version: Version,
    pub(crate) https: bool,
    pub(crate) keep_alive: bool,
    pub(crate) sink: Option<Box<dyn BodySink>>,
}

impl Default for Parts {
    fn default() -> Parts {
        let remote_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Parts {
            head: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            remote_addr,
            remote_ip: remote_addr.ip(),
            start: Instant::now(),
            method: MethodKind::Get,
            method_span: (0, 0),
            target: (0, 0),
            path_len: 0,
            authority: (0, 0),
            version: Version::Http11,
            https: false,
            keep_alive: true,
            sink: None,
        }
    }
}

impl RequestPool {
    pub(crate) fn take(&self) -> Box<Parts> {
        self.spare.borrow_mut().pop().unwrap_or_default()
    }

    // Inlined into `Request`'s drop, which runs once per request.
    #[inline]
    pub(crate) fn give(&self, mut parts: Box<Parts>) {
        const KEEP: usize = 256;
        const MAX_BODY: usize = 64 * 1024;
        let mut spare = self.spare.borrow_mut();
        if spare.len() < KEEP {
            parts.head.clear();
            parts.headers.clear();
            if parts.body.capacity() > MAX_BODY {
                parts.body = Vec::new();
            }
            parts.body.clear();
            // A streamed body's sink is its owner's, not the pool's: drop it now.
            parts.sink = None;
            spare.push(parts);
        }
    }
}
