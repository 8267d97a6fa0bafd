//! The HTTP client's `https`: against Squall's own TLS server with the test CA as the root,
//! certificates are verified by default (an untrusted one, or one not valid for the URL's
//! host, is `ErrorKind::Tls`), the URL's host goes out as SNI, connections are reused, and
//! bodies go both ways.

mod tls_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use squall::httpclient::{
    Error, ErrorKind, HttpClient, HttpClientOptions, HttpRequest, HttpResponse,
};
use squall::prelude::*;
use squall::testing::TestServer;
use squall::tls::{ClientTlsConfig, ServerTlsConfig};
use squall_tests::run_sync;
use tls_support::{client_tls, pki, server_tls, tls_options};

#[derive(Clone, Default)]
struct Echo;

#[handler]
impl Echo {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let line = format!("{} {}", cx.protocol(), cx.host());
        cx.write(line);
        Ok(())
    }

    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let body = cx.body().to_vec();
        cx.write(body);
        Ok(())
    }
}

fn server_with(tls: ServerTlsConfig) -> TestServer {
    TestServer::start_with(
        || Application::new(routes![(r"/.*", Echo)]),
        tls_options(tls),
    )
}

/// A client trusting only the test CA.
fn client() -> HttpClient {
    HttpClient::with_options(HttpClientOptions {
        tls: Some(client_tls()),
        ..HttpClientOptions::default()
    })
}

/// One fetch on a fresh loop.
fn fetch(client: HttpClient, req: impl Into<HttpRequest>) -> Result<HttpResponse, Error> {
    let req = req.into();
    run_sync(async move { client.fetch(req).await })
}

#[test]
fn https_fetch_verifies_and_reuses_the_connection() {
    let server = server_with(server_tls());
    let client = client();
    let url = server.url("/hello");
    assert!(url.starts_with("https://127.0.0.1:"));
    let (a, b, idle) = run_sync(async move {
        let a = client.fetch(url.clone()).await.expect("first fetch");
        let b = client.fetch(url).await.expect("second fetch");
        (a, b, client.idle_connections())
    });
    let host = server.addr().to_string();
    assert_eq!(a.status(), 200);
    assert_eq!(a.text(), format!("https {host}"));
    assert_eq!(b.text(), a.text());
    // One connection, reused for the second fetch.
    assert_eq!(idle, 1);
}

#[test]
fn bodies_both_ways() {
    let server = server_with(server_tls());
    let client = client();
    let body: Vec<u8> = (0..2 * 1024 * 1024 + 5).map(|i| (i % 253) as u8).collect();
    let req = HttpRequest::new(server.url("/up"))
        .method(Method::Post)
        .body(body.clone());
    let res = fetch(client, req).expect("post");
    assert_eq!(res.status(), 200);
    assert!(res.body() == body.as_slice(), "the echoed body differs");
}

/// The URL's host is the SNI name: the server's default certificate is for a.test, and only
/// a client asking for `localhost` gets the one valid for it.
#[test]
fn the_url_host_is_sent_as_sni() {
    let p = pki();
    let tls = ServerTlsConfig::builder()
        .certificate_pem_files(&p.a_cert, &p.a_key)
        .and_then(|b| b.certificate_pem_files(&p.cert, &p.key))
        .and_then(|b| b.build())
        .unwrap();
    let server = server_with(tls);
    let url = format!("https://localhost:{}/sni", server.addr().port());
    let res = fetch(client(), url).expect("fetch by name");
    assert_eq!(
        res.text(),
        format!("https localhost:{}", server.addr().port())
    );
    // By address no SNI is sent: the default certificate (a.test) does not match 127.0.0.1.
    let err = fetch(client(), server.url("/sni")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let p = pki();
    let server = server_with(ServerTlsConfig::from_pem_files(&p.a_cert, &p.a_key).unwrap());
    let err = fetch(client(), server.url("/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let chain = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(chain.contains("NotValidForName"), "{chain}");
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let p = pki();
    // Issued by a CA the client does not trust.
    let server = server_with(ServerTlsConfig::from_pem_files(&p.rogue_cert, &p.rogue_key).unwrap());
    let err = fetch(client(), server.url("/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // And the default client (Mozilla's roots) does not trust the test CA either.
    let server = server_with(server_tls());
    let err = fetch(HttpClient::new(), server.url("/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let chain = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(chain.contains("UnknownIssuer"), "{chain}");
}

/// `https` to a server that answers in plain HTTP: its bytes are not TLS, the handshake
/// fails at once (not at the connect timeout).
#[test]
fn a_server_that_does_not_speak_tls() {
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", plain.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = plain.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let started = std::time::Instant::now();
    let err = fetch(client(), url).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    server.join().unwrap();
}

/// A server that accepts but never answers the ClientHello: the connect timeout covers the
/// handshake.
#[test]
fn a_stalled_handshake_is_a_connect_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", silent.local_addr().unwrap());
    let req = HttpRequest::new(url).connect_timeout(Duration::from_millis(300));
    let err = fetch(client(), req).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
}

/// A self-signed certificate (what `openssl req -x509` or a dev server makes): refused by
/// the default client (Mozilla's roots), with `ErrorKind::Tls` and the reason, and accepted
/// once the client trusts that very certificate.
#[test]
fn a_self_signed_certificate_is_refused_unless_trusted() {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (made.cert.pem(), made.signing_key.serialize_pem());
    let tls = ServerTlsConfig::builder()
        .certificate_pem(cert.as_bytes(), key.as_bytes())
        .and_then(|b| b.build())
        .unwrap();
    let server = server_with(tls);
    let err = fetch(HttpClient::new(), server.url("/self")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let chain = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(chain.contains("UnknownIssuer"), "{chain}");

    let trusting = ClientTlsConfig::builder()
        .add_root_pem(cert.as_bytes())
        .and_then(|b| b.build())
        .unwrap();
    let client = HttpClient::with_options(HttpClientOptions {
        tls: Some(trusting),
        ..HttpClientOptions::default()
    });
    let res = fetch(client, server.url("/self")).expect("trusted self-signed");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), format!("https {}", server.addr()));
}
