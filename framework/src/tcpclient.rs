//! Opening TCP connections to a host and port: Tornado's `tornado.tcpclient`. The one way
//! Squall's clients (the [HTTP client](crate::httpclient), the
//! [WebSocket client](crate::websocket::websocket_connect)) reach a server.
//!
//! ### Invariants
//!
//! - The loop never blocks: the host is resolved by [`netutil::resolve`] (an IP literal
//!   without a lookup, a name on the executor's threads) and each connect is non-blocking.
//! - The addresses are tried in the resolver's order, one at a time, until one accepts; the
//!   error names the last one tried. (No "happy eyeballs" racing of IPv4 against IPv6: a
//!   caller that needs a bound on the whole attempt wraps it in a timeout, as the HTTP
//!   client does with its connect timeout.)

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::iostream::{IOStream, StreamError};
use crate::netutil;

/// Why [`connect`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host did not resolve to any address.
    Resolve {
        /// The host as given.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// No address accepted the connection.
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Its connection error (refused, unreachable, ...).
        source: io::Error,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve { host, .. } => write!(f, "cannot resolve {host}"),
            ConnectError::Connect { addr, .. } => write!(f, "cannot connect to {addr}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Resolve { source, .. } | ConnectError::Connect { source, .. } => {
                Some(source)
            }
        }
    }
}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> io::Error {
        let kind = match &e {
            ConnectError::Resolve { source, .. } | ConnectError::Connect { source, .. } => {
                source.kind()
            }
        };
        io::Error::new(kind, e)
    }
}

/// A connected stream to `host` (a name or an IP literal) on `port`, on the current loop.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
///
/// IOLoop::current().run_sync(async {
///     let stream = squall::tcpclient::connect("localhost", 8888).await?;
///     stream.write(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
///     Ok::<_, std::io::Error>(())
/// }).unwrap();
/// ```
///
/// # Errors
///
/// [`ConnectError::Resolve`] if the host does not resolve, [`ConnectError::Connect`] with the
/// last address's error if none accepts.
pub async fn connect(host: &str, port: u16) -> Result<IOStream, ConnectError> {
    let addrs = netutil::resolve(host, port)
        .await
        .map_err(|source| ConnectError::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut last = None;
    for addr in addrs {
        match IOStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some((addr, e)),
        }
    }
    // `resolve` gives at least one address, so one was tried.
    let (addr, e) = last.ok_or_else(|| ConnectError::Resolve {
        host: host.to_owned(),
        source: io::Error::new(io::ErrorKind::NotFound, "no address"),
    })?;
    let source = match e {
        StreamError::Closed { cause: Some(c) } => c,
        other => io::Error::from(other),
    };
    Err(ConnectError::Connect { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioloop::IOLoop;

    #[test]
    fn connects_by_name_and_by_literal() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let l = IOLoop::new().unwrap();
        for host in ["127.0.0.1", "localhost"] {
            let stream = l.run_sync(connect(host, port));
            // "localhost" may resolve to ::1 first, where nothing listens: the next
            // address is tried.
            let stream = stream.unwrap_or_else(|e| panic!("{host}: {e}"));
            assert_eq!(stream.peer_addr().unwrap().port(), port);
            let _ = listener.accept().unwrap();
        }
    }

    #[test]
    fn a_refused_connection_names_the_address() {
        // Bind then drop: nothing listens on the port any more.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let l = IOLoop::new().unwrap();
        match l.run_sync(connect("127.0.0.1", port)) {
            Err(ConnectError::Connect { addr, source }) => {
                assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], port)));
                assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            }
            other => panic!("{other:?}"),
        }
        match l.run_sync(connect("bad\0name", port)) {
            Err(e @ ConnectError::Resolve { .. }) => {
                assert!(e.to_string().starts_with("cannot resolve"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
