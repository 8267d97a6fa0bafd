//! hyper 1.x peer: `GET /plaintext` and `GET /json` on 127.0.0.1:`--port`, served by hyper's
//! HTTP/1 connection driver on a tokio current-thread runtime (one thread does everything).
//!
//! Configured as a hyper user tuning for this benchmark would: TCP_NODELAY at accept, and
//! `pipeline_flush(true)` so pipelined responses are batched into one write (hyper's own
//! TechEmpower entry does the same). hyper adds `date` and `content-length` itself and sends
//! no `server` header. Header names go out lower-case (hyper's default): same byte count as
//! the Title-Case names of the other servers.

#[path = "../../peer_args.rs"]
mod peer_args;
use peer_args::parse_port;
use std::convert::Infallible;
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

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

fn main() {
    let port = match parse_port() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("hyper_peer: {msg}\nusage: hyper_peer --port N");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(serve(port)) {
        eprintln!("hyper_peer: {e}");
        std::process::exit(1);
    }
}

async fn serve(port: u16) -> std::io::Result<()> {
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
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
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
