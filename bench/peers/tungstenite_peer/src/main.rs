//! tokio-tungstenite peer: a WebSocket echo server on 127.0.0.1:`--port` (any path), on a
//! tokio current-thread runtime. Text and binary messages come back as they came; pings are
//! answered by tungstenite itself. TCP_NODELAY at accept. No permessage-deflate (tungstenite
//! has none), so it takes part in the uncompressed scenarios only.

#[path = "../../peer_args.rs"]
mod peer_args;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = peer_args::parse_port().unwrap_or_else(|e| {
        eprintln!("tungstenite_peer: {e}");
        std::process::exit(2)
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                match m {
                    Message::Text(_) | Message::Binary(_) => {
                        if ws.send(m).await.is_err() {
                            return;
                        }
                    }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
        });
    }
}
