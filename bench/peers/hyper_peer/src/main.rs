//! hyper 1.x peer: `GET /plaintext` and `GET /json` on 127.0.0.1:`--port`, served by hyper's
//! HTTP/1 connection driver on a tokio current-thread runtime (one thread does everything).
//!
//! Configured as a hyper user tuning for this benchmark would: TCP_NODELAY at accept, and
//! `pipeline_flush(true)` so pipelined responses are batched into one write (hyper's own
//! TechEmpower entry does the same). hyper adds `date` and `content-length` itself and sends
//! no `server` header. Header names go out lower-case (hyper's default): same byte count as
//! the Title-Case names of the other servers.
//!
//! With `--cert FILE --key FILE` it serves HTTPS through tokio-rustls, configured as Squall's
//! `ServerTlsConfig` is: rustls 0.23 with the `ring` provider, TLS 1.3 and 1.2, ALPN
//! `http/1.1`, rustls's default session cache and tickets (none with `--no-resumption`, as
//! Squall's `session_resumption(false)`). The same client then negotiates the same cipher
//! suite with both.

#[path = "../../peer_args.rs"]
mod peer_args;
use peer_args::parse_args;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!(
                "hyper_peer: {msg}\nusage: hyper_peer --port N [--cert FILE --key FILE [--no-resumption]]"
            );
            std::process::exit(2);
        }
    };
    let resumption = !args.no_resumption;
    let acceptor = args.tls.map(|(cert, key)| {
        tls_acceptor(&cert, &key, resumption).unwrap_or_else(|e| {
            eprintln!("hyper_peer: --cert/--key: {e}");
            std::process::exit(2);
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(serve(args.port, acceptor)) {
        eprintln!("hyper_peer: {e}");
        std::process::exit(1);
    }
}

fn tls_acceptor(cert: &str, key: &str, resumption: bool) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resumption {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(port: u16, acceptor: Option<TlsAcceptor>) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                eprintln!("hyper_peer: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut http = http1::Builder::new();
            http.pipeline_flush(true);
            match acceptor {
                None => {
                    let _ = http
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .await;
                }
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = http
                            .serve_connection(TokioIo::new(tls), service_fn(handle))
                            .await;
                    }
                }
            }
        });
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, ctype, body) = match req.uri().path() {
        "/plaintext" => (
            StatusCode::OK,
            "text/plain",
            Bytes::from_static(b"Hello, World!"),
        ),
        "/json" => {
            // Serialised per request, as TechEmpower's json test requires.
            let body = serde_json::to_vec(&Message {
                message: "Hello, World!",
            })
            .unwrap_or_default();
            (StatusCode::OK, "application/json", Bytes::from(body))
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"Not Found"),
        ),
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(resp)
}
