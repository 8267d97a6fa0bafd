//! Opening a connection: resolving the host without blocking the loop, connecting to each
//! address in turn, and the transport the exchange runs over.
//!
//! ### The transport
//!
//! An exchange needs a stream that presents the response's plaintext in its read buffer and
//! takes the request's plaintext in its write buffer: an [`IOStream`]. Plain `http` is the
//! socket itself. `https` is one step more after the TCP connect: the stream starts a TLS
//! client session under its buffers ([`IOStream::start_tls_client`], the URL's host as SNI
//! and as the name the certificate must be valid for) and the handshake completes under the
//! connect timeout; a failed one is [`ErrorKind::Tls`]. Nothing above this module changes.
//! Without the `tls` feature an `https` URL is [`ErrorKind::Unsupported`].
//!
//! ### Resolving
//!
//! An IP literal is used as it is. A name is resolved by the system resolver
//! (`getaddrinfo`, through [`ToSocketAddrs`]) on the executor's threads, so a slow DNS server
//! stalls only this fetch; the connect timeout covers it.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use super::url::Url;
use super::{Error, ErrorKind, HttpClientOptions};
use crate::iostream::{IOStream, StreamError};

/// A connected stream to `url`'s origin, ready for requests (its TLS handshake done for
/// `https`).
pub(crate) async fn open(
    url: &Url,
    max_buffer: usize,
    options: &HttpClientOptions,
) -> Result<IOStream, Error> {
    #[cfg(not(feature = "tls"))]
    if url.is_https() {
        let _ = options;
        return Err(Error::new(
            ErrorKind::Unsupported,
            url.to_string(),
            "https needs Squall's `tls` feature, which this build does not have",
        ));
    }
    let stream = connect_tcp(url, max_buffer).await?;
    #[cfg(feature = "tls")]
    if url.is_https() {
        start_tls(&stream, url, options).await?;
    }
    Ok(stream)
}

/// The TLS handshake of an `https` connection, verifying the server for the URL's host.
#[cfg(feature = "tls")]
async fn start_tls(stream: &IOStream, url: &Url, options: &HttpClientOptions) -> Result<(), Error> {
    let config = options.tls.clone().unwrap_or_default();
    let failed = |message: String| Error::new(ErrorKind::Tls, url.to_string(), message);
    stream
        .start_tls_client(&config, &url.host)
        .map_err(|e| failed(format!("starting TLS with {}", url.host)).with_source(e))?;
    match stream.tls_handshake().await {
        Ok(()) => Ok(()),
        Err(StreamError::Closed { cause: Some(e) }) => {
            stream.close();
            Err(failed(format!("TLS handshake with {}", url.host)).with_source(e))
        }
        Err(e) => {
            stream.close();
            Err(failed(format!(
                "TLS handshake with {}: the server closed the connection ({e})",
                url.host
            )))
        }
    }
}

/// A TCP connection to the first of the origin's addresses that accepts.
async fn connect_tcp(url: &Url, max_buffer: usize) -> Result<IOStream, Error> {
    let addrs = resolve(url).await?;
    let mut last = None;
    for addr in addrs {
        match IOStream::connect(addr).await {
            Ok(stream) => {
                stream.set_max_buffer_size(max_buffer);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.expect("resolve returns at least one address");
    let cause = match e {
        StreamError::Closed { cause: Some(c) } => c,
        other => io::Error::from(other),
    };
    Err(Error::new(
        ErrorKind::Connect,
        url.to_string(),
        format!("connecting to {addr}"),
    )
    .with_source(cause))
}

async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = url.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, url.port)]);
    }
    let host = url.host.clone();
    let port = url.port;
    let found = crate::executor::run_in_executor(move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
    })
    .await;
    let failed = |msg: String| Error::new(ErrorKind::Resolve, url.to_string(), msg);
    match found {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(failed(format!("{} has no address", url.host))),
        Ok(Err(e)) => Err(failed(format!("resolving {}", url.host)).with_source(e)),
        Err(e) => Err(failed(format!("resolving {}: {e}", url.host))),
    }
}
