//! The futures API of [`IOStream`]: connecting, reading up to a delimiter, a regex, a count
//! or the end, and writing.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::task::Poll;

use super::{IOStream, Kind, State, StreamError};
use crate::ioloop::{Events, IOLoop};

impl IOStream {
    /// Connects to `addr` without blocking the loop.
    ///
    /// # Errors
    ///
    /// The connection error (refused, unreachable, ...).
    pub async fn connect(addr: SocketAddr) -> Result<IOStream, StreamError> {
        let closed = |e| StreamError::Closed { cause: Some(e) };
        let domain = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let fd = crate::netutil::socket(domain, libc::SOCK_STREAM).map_err(closed)?;
        let (storage, len) = crate::netutil::sockaddr(&addr);
        // SAFETY: valid socket and address storage of `len` bytes.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                &storage as *const _ as *const libc::sockaddr,
                len,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(closed(e));
            }
        }
        let stream = IOStream::wrap(&IOLoop::current(), fd, Kind::Tcp).map_err(closed)?;
        // Connected when writable; the outcome is in SO_ERROR.
        stream.set_interest(Events::READ | Events::WRITE);
        std::future::poll_fn(|cx| {
            let mut st = stream.inner.state.borrow_mut();
            if st.closed {
                return Poll::Ready(Err(StreamError::Closed {
                    cause: st.error.take(),
                }));
            }
            match crate::netutil::socket_error(stream.inner.fd.as_raw_fd()) {
                Some(e) => {
                    drop(st);
                    stream.close_with(Some(e));
                    let cause = stream.inner.state.borrow_mut().error.take();
                    Poll::Ready(Err(StreamError::Closed { cause }))
                }
                None if is_connected(stream.inner.fd.as_raw_fd()) => Poll::Ready(Ok(())),
                None => {
                    st.writers.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await?;
        stream.update_interest();
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Reads up to and including `delimiter`.
    ///
    /// # Errors
    ///
    /// [`StreamError::Unsatisfiable`] (and the stream is closed) if `max_bytes` pass without
    /// the delimiter; [`StreamError::Closed`] if the stream closes first.
    pub async fn read_until(
        &self,
        delimiter: &[u8],
        max_bytes: usize,
    ) -> Result<Vec<u8>, StreamError> {
        let mut scanned = 0usize;
        self.read_with(max_bytes, move |buf, _eof| {
            // Resume the scan where the last one stopped: dribbled input costs O(n), not O(n²).
            let from = scanned.saturating_sub(delimiter.len().saturating_sub(1));
            match find(&buf[from..], delimiter) {
                Some(i) => Found::Take(from + i + delimiter.len()),
                None => {
                    scanned = buf.len();
                    Found::NotYet
                }
            }
        })
        .await
    }

    /// Reads up to and including the first match of `regex`.
    ///
    /// # Errors
    ///
    /// As [`read_until`](IOStream::read_until).
    pub async fn read_until_regex(
        &self,
        regex: &regex::bytes::Regex,
        max_bytes: usize,
    ) -> Result<Vec<u8>, StreamError> {
        self.read_with(max_bytes, |buf, _eof| match regex.find(buf) {
            Some(m) => Found::Take(m.end()),
            None => Found::NotYet,
        })
        .await
    }

    /// Reads exactly `n` bytes, or with `partial` as soon as at least one byte is available
    /// (at most `n`).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closes before enough data arrived.
    pub async fn read_bytes(&self, n: usize, partial: bool) -> Result<Vec<u8>, StreamError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.read_with(usize::MAX, move |buf, _eof| {
            if buf.len() >= n {
                Found::Take(n)
            } else if partial && !buf.is_empty() {
                Found::Take(buf.len())
            } else {
                Found::NotYet
            }
        })
        .await
    }

    /// Reads everything until the peer closes.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closed with an error (a reset), or
    /// [`StreamError::Unsatisfiable`] if the data exceeds `max_buffer_size`.
    pub async fn read_until_close(&self) -> Result<Vec<u8>, StreamError> {
        self.read_with(usize::MAX, |buf, eof| {
            if eof {
                Found::Take(buf.len())
            } else {
                Found::NotYet
            }
        })
        .await
    }

    /// Waits until the read buffer holds more than `have` bytes, without taking any: for
    /// parsers that work on the buffer in place ([`with_read_buffer`](IOStream::with_read_buffer))
    /// and need more input (the HTTP client's response parser).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closes or the peer finishes sending before then
    /// (`cause: None` for a clean end of input, which may still leave up to `have` bytes
    /// buffered); [`StreamError::Unsatisfiable`] if `have` reaches `max_buffer_size`.
    pub async fn wait_for_data(&self, have: usize) -> Result<(), StreamError> {
        self.read_with(usize::MAX, move |buf, _eof| {
            if buf.len() > have {
                Found::Take(0)
            } else {
                Found::NotYet
            }
        })
        .await
        .map(drop)
    }

    pub(super) async fn read_with(
        &self,
        max_bytes: usize,
        mut check: impl FnMut(&[u8], bool) -> Found,
    ) -> Result<Vec<u8>, StreamError> {
        {
            let mut st = self.inner.state.borrow_mut();
            if st.reading {
                return Err(StreamError::AlreadyReading);
            }
            st.reading = true;
        }
        let _guard = ReadingGuard(self);
        std::future::poll_fn(|cx| {
            if crate::task::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut tried_read = false;
            loop {
                let mut st = self.inner.state.borrow_mut();
                let eof = st.eof || st.closed;
                match check(st.read.bytes(), eof) {
                    Found::Take(n) if n <= max_bytes => {
                        let out = st.read.take(n);
                        drop(st);
                        self.consume(0);
                        return Poll::Ready(Ok(out));
                    }
                    Found::Take(_) => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_bytes exceeded"))
                    }
                    Found::NotYet if st.read.len() > max_bytes => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_bytes exceeded"));
                    }
                    Found::NotYet if st.closed || st.eof => {
                        let cause = st.error.take();
                        return Poll::Ready(Err(StreamError::Closed { cause }));
                    }
                    Found::NotYet if st.read.len() >= st.max_buffer_size => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_buffer_size reached"));
                    }
                    Found::NotYet => {}
                }
                // Try the socket once ourselves before parking: the data may already be there.
                if !tried_read && !st.drained {
                    drop(st);
                    tried_read = true;
                    self.fill();
                    continue;
                }
                st.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
        })
        .await
    }

    pub(super) fn fail_unsatisfiable(
        &self,
        st: std::cell::RefMut<'_, State>,
        why: &'static str,
    ) -> Result<Vec<u8>, StreamError> {
        drop(st);
        self.close();
        Err(StreamError::Unsatisfiable(why))
    }

    /// Appends `data` to the write buffer and resolves once it has reached the kernel.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream is or becomes closed before the data was sent.
    pub async fn write(&self, data: &[u8]) -> Result<(), StreamError> {
        if self.closed() {
            let cause = self.inner.state.borrow_mut().error.take();
            return Err(StreamError::Closed { cause });
        }
        self.with_write_buffer(|buf| buf.extend_from_slice(data));
        self.flush();
        self.wait_flushed().await
    }

    /// Resolves once every byte appended to the write buffer so far has reached the kernel
    /// (it does not flush by itself; the stream flushes when the fd is writable).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closes first.
    pub async fn wait_flushed(&self) -> Result<(), StreamError> {
        let target = self.inner.state.borrow().appended;
        std::future::poll_fn(|cx| {
            if crate::task::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut st = self.inner.state.borrow_mut();
            if st.flushed >= target {
                return Poll::Ready(Ok(()));
            }
            if st.closed {
                let cause = st.error.take();
                return Poll::Ready(Err(StreamError::Closed { cause }));
            }
            st.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

pub(super) enum Found {
    Take(usize),
    NotYet,
}

pub(super) struct ReadingGuard<'a>(pub(super) &'a IOStream);

impl Drop for ReadingGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.inner.state.borrow_mut();
        st.reading = false;
        st.reader = None;
    }
}

/// Finds `needle` in `hay` (first occurrence).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

pub(super) fn is_connected(fd: RawFd) -> bool {
    crate::netutil::peer_addr(fd).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_works() {
        assert_eq!(find(b"abc\r\n\r\nx", b"\r\n\r\n"), Some(3));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"aaab", b"ab"), Some(2));
        assert_eq!(find(b"", b"a"), None);
        assert_eq!(find(b"xyz", b""), Some(0));
    }
}
