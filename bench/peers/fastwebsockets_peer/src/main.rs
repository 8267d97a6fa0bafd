//! fastwebsockets peer: a WebSocket echo server on 127.0.0.1:`--port` (any path), the
//! handshake through hyper 1's upgrade (fastwebsockets' own way), on a tokio current-thread
//! runtime. Fragments are reassembled (FragmentCollector) and echoed as one message; pings and
//! closes are answered by fastwebsockets (auto_pong, auto_close). TCP_NODELAY at accept. No
//! permessage-deflate (fastwebsockets has none): uncompressed scenarios only.

#[path = "../../peer_args.rs"]
mod peer_args;

use std::convert::Infallible;

use bytes::Bytes;
use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn handle(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    match upgrade::upgrade(&mut req) {
        Ok((response, fut)) => {
            tokio::spawn(async move {
                let _ = echo(fut).await;
            });
            Ok(response)
        }
        Err(_) => Ok(Response::builder().status(400).body(Empty::new()).unwrap()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = peer_args::parse_port().unwrap_or_else(|e| {
        eprintln!("fastwebsockets_peer: {e}");
        std::process::exit(2)
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let _ = http1::Builder::new()
                .serve_connection(io, service_fn(handle))
                .with_upgrades()
                .await;
        });
    }
}
