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
//! [`tcpclient::connect`](crate::tcpclient::connect) resolves the host without blocking the
//! loop (an IP literal as it is, a name on the executor's threads: a slow DNS server stalls
//! only this fetch, and the connect timeout covers it) and tries its addresses in turn.

use super::url::Url;
use super::{Error, ErrorKind, HttpClientOptions};
use crate::iostream::IOStream;
#[cfg(feature = "tls")]
use crate::iostream::StreamError;
use crate::tcpclient::ConnectError;

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
    let stream = crate::tcpclient::connect(&url.host, url.port)
        .await
        .map_err(|e| match e {
            ConnectError::Resolve { host, source } => Error::new(
                ErrorKind::Resolve,
                url.to_string(),
                format!("resolving {host}"),
            )
            .with_source(source),
            ConnectError::Connect { addr, source } => Error::new(
                ErrorKind::Connect,
                url.to_string(),
                format!("connecting to {addr}"),
            )
            .with_source(source),
        })?;
    stream.set_max_buffer_size(max_buffer);
    Ok(stream)
}
