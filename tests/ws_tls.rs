//! `wss://` in `websocket_connect`, against Squall's own TLS server with certificates made in
//! the test (`tls_support`): messages both ways (text, a binary message spanning many TLS
//! records, compressed ones) and the closing handshake; the server's certificate verified by
//! default (an untrusted one, or one not valid for the URL's host, is `ConnectError::Tls`);
//! and the connect timeout covering a TLS handshake the server never answers.

mod tls_support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use squall::prelude::*;
use squall::testing::TestServer;
use squall::tls::ServerTlsConfig;
use squall::websocket::{
    websocket_connect_with, CompressionOptions, ConnectError, OwnedMessage, WebSocketConnectOptions,
};
use squall_tests::{run_sync, WsEcho};
use tls_support::{client_tls, pki, server_tls, tls_options};

/// The echo application, compressing when the client offers it.
fn echo_app() -> Application {
    Application::new(routes![(
        r"/ws",
        WsEcho {
            compression: Some(CompressionOptions::default())
        }
    )])
}

fn server_with(tls: ServerTlsConfig) -> TestServer {
    TestServer::start_with(echo_app, tls_options(tls))
}

/// Options trusting only the test CA.
fn trusting_the_test_ca() -> WebSocketConnectOptions {
    WebSocketConnectOptions {
        tls: Some(client_tls()),
        ..WebSocketConnectOptions::default()
    }
}

/// Connects and returns the error, which the test expects.
fn connect_err(url: String, options: WebSocketConnectOptions) -> ConnectError {
    run_sync(async move {
        match websocket_connect_with(&url, options).await {
            Ok(_) => panic!("connected to {url}"),
            Err(e) => e,
        }
    })
}

/// The error and its sources, as one string.
fn chain(e: &ConnectError) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(" <- ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[test]
fn wss_echoes_text_binary_and_compressed_messages_then_closes() {
    let server = server_with(server_tls());
    let port = server.addr().port();
    for (host, compression) in [
        ("localhost", None),
        ("127.0.0.1", Some(CompressionOptions::default())),
    ] {
        let url = format!("wss://{host}:{port}/ws");
        let options = WebSocketConnectOptions {
            compression,
            ..trusting_the_test_ca()
        };
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = big.clone();
        let (text, binary, code) = run_sync(async move {
            let conn = websocket_connect_with(&url, options)
                .await
                .unwrap_or_else(|e| panic!("{url}: {}", chain(&e)));
            conn.send("hello over TLS").await.unwrap();
            let text = conn.read_message().await;
            conn.send(&big[..]).await.unwrap();
            let binary = conn.read_message().await;
            let code = conn.close_and_wait(Some(1000), "").await;
            (text, binary, code)
        });
        assert_eq!(
            text,
            Some(OwnedMessage::Text("hello over TLS".into())),
            "{host}"
        );
        match binary {
            Some(OwnedMessage::Binary(b)) => assert!(b == expected, "{host}: the echo differs"),
            other => panic!("{host}: {other:?}"),
        }
        assert_eq!(code, Some(1000), "{host}");
    }
}

#[test]
fn an_untrusted_certificate_is_refused() {
    // The default options trust Mozilla's roots, not the test CA.
    let server = server_with(server_tls());
    let url = format!("wss://localhost:{}/ws", server.addr().port());
    let e = connect_err(url.clone(), WebSocketConnectOptions::default());
    assert!(matches!(e, ConnectError::Tls(_)), "{}", chain(&e));
    assert!(chain(&e).contains("UnknownIssuer"), "{}", chain(&e));
    // Issued by a CA the client does not trust either.
    let p = pki();
    let rogue = server_with(ServerTlsConfig::from_pem_files(&p.rogue_cert, &p.rogue_key).unwrap());
    let url = format!("wss://localhost:{}/ws", rogue.addr().port());
    let e = connect_err(url, trusting_the_test_ca());
    assert!(matches!(e, ConnectError::Tls(_)), "{}", chain(&e));
    // The server still serves a client that trusts it.
    let url = format!("wss://localhost:{}/ws", server.addr().port());
    run_sync(async move {
        let conn = websocket_connect_with(&url, trusting_the_test_ca())
            .await
            .expect("connect");
        conn.send("still here").await.unwrap();
        assert_eq!(
            conn.read_message().await,
            Some(OwnedMessage::Text("still here".into()))
        );
    });
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let p = pki();
    let server = server_with(ServerTlsConfig::from_pem_files(&p.a_cert, &p.a_key).unwrap());
    let url = format!("wss://localhost:{}/ws", server.addr().port());
    let e = connect_err(url, trusting_the_test_ca());
    assert!(matches!(e, ConnectError::Tls(_)), "{}", chain(&e));
    assert!(chain(&e).contains("not valid for name"), "{}", chain(&e));
}

#[test]
fn a_plain_server_is_a_tls_error_and_a_silent_one_a_timeout() {
    // A plain WebSocket server answering a ClientHello: not TLS, refused at once.
    let plain = TestServer::start(echo_app);
    let url = format!("wss://127.0.0.1:{}/ws", plain.addr().port());
    let e = connect_err(url, trusting_the_test_ca());
    assert!(matches!(e, ConnectError::Tls(_)), "{}", chain(&e));

    // A server that accepts and never answers: the connect timeout ends the attempt.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("wss://{}/ws", silent.local_addr().unwrap());
    let options = WebSocketConnectOptions {
        connect_timeout: Some(Duration::from_millis(300)),
        ..trusting_the_test_ca()
    };
    let t0 = Instant::now();
    let e = connect_err(url, options);
    assert!(matches!(e, ConnectError::Timeout), "{}", chain(&e));
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
}
