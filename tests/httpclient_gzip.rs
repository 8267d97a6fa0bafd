//! `HttpRequest::decompress_response` (Tornado's, on by default): the client asks for gzip and
//! decompresses it, against Squall's own server with `compress_response` on; off, it asks for
//! nothing and passes the body as it came. Bad gzip from a raw server: a small body that would
//! inflate past `max_response_size` is TooLarge, corrupt or truncated gzip is BadResponse.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use squall::httpclient::{ErrorKind, HttpClient, HttpRequest};
use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::fake_server::FakeServer;
use squall_tests::{gunzip, run_sync};

/// 20 KiB of text that compresses well, the same on every call.
fn text() -> String {
    (0..2048)
        .map(|i| format!("line {:04}\n", i % 1000))
        .collect()
}

/// `text()` as text/plain, with the request's `Accept-Encoding` echoed in `X-Asked`.
#[derive(Clone, Default)]
struct Text;

#[handler]
impl Text {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let asked = cx.header("Accept-Encoding").unwrap_or("-").to_owned();
        cx.set_header("X-Asked", asked)?;
        cx.set_header("Content-Type", "text/plain")?;
        cx.write(text());
        Ok(())
    }
}

fn server() -> TestServer {
    TestServer::start(|| {
        let settings = Settings {
            compress_response: true,
            ..Settings::default()
        };
        Application::with_settings(routes![(r"/text", Text)], settings).unwrap()
    })
}

fn req(url: String) -> HttpRequest {
    HttpRequest::new(url).request_timeout(Duration::from_secs(10))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_is_asked_for_and_decompressed_by_default() {
    let server = server();
    let r = run_sync({
        let url = server.url("/text");
        async move { HttpClient::new().fetch(req(url)).await }
    })
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("X-Asked"), Some("gzip"));
    assert_eq!(r.header("X-Consumed-Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.text(), text());
}

#[test]
fn a_streaming_callback_gets_the_decompressed_bytes() {
    let server = server();
    let got = Rc::new(RefCell::new(Vec::new()));
    let r = run_sync({
        let url = server.url("/text");
        let got = got.clone();
        async move {
            let request = req(url).streaming_callback(move |piece| {
                got.borrow_mut().extend_from_slice(piece);
            });
            HttpClient::new().fetch(request).await
        }
    })
    .unwrap();
    assert_eq!(r.header("X-Consumed-Content-Encoding"), Some("gzip"));
    assert!(r.body().is_empty());
    assert_eq!(String::from_utf8(got.take()).unwrap(), text());
}

#[test]
fn off_nothing_is_asked_for_and_the_body_comes_as_sent() {
    let server = server();
    let url = server.url("/text");
    let (plain, raw) = run_sync(async move {
        let client = HttpClient::new();
        let plain = client
            .fetch(req(url.clone()).decompress_response(false))
            .await;
        // Asking for gzip itself, the request gets the compressed bytes.
        let raw = client
            .fetch(
                req(url)
                    .decompress_response(false)
                    .header("Accept-Encoding", "gzip"),
            )
            .await;
        (plain, raw)
    });
    let plain = plain.unwrap();
    assert_eq!(plain.header("X-Asked"), Some("-"));
    assert_eq!(plain.header("Content-Encoding"), None);
    assert_eq!(plain.text(), text());
    let raw = raw.unwrap();
    assert_eq!(raw.header("Content-Encoding"), Some("gzip"));
    assert_eq!(raw.header("X-Consumed-Content-Encoding"), None);
    assert!(
        raw.body().len() < text().len() / 4,
        "{} bytes",
        raw.body().len()
    );
    assert_eq!(gunzip(raw.body()), text().as_bytes());
}

/// The outcome of fetching from a raw server that answers with `body` as gzip.
fn fetch_gzip(body: Vec<u8>, max: u64) -> Result<Vec<u8>, ErrorKind> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let server = FakeServer::always(response);
    let url = server.url("/");
    run_sync(async move {
        HttpClient::new()
            .fetch(req(url).max_response_size(max))
            .await
            .map(|r| r.into_body())
            .map_err(|e| e.kind())
    })
}

#[test]
fn a_body_inflating_past_the_limit_is_too_large() {
    // 8 MiB of zeros gzip to about 8 KiB: well under the 1 MiB limit as sent.
    let bomb = gzip(&vec![0u8; 8 << 20]);
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    assert_eq!(fetch_gzip(bomb.clone(), 1 << 20), Err(ErrorKind::TooLarge));
    // Under a limit it fits, the same body is whole.
    assert_eq!(fetch_gzip(bomb, 16 << 20).map(|b| b.len()), Ok(8 << 20));
}

#[test]
fn corrupt_or_truncated_gzip_is_a_bad_response() {
    let good = gzip(text().as_bytes());
    assert_eq!(
        fetch_gzip(good.clone(), 1 << 20).as_deref(),
        Ok(text().as_bytes())
    );
    // Not gzip at all.
    assert_eq!(
        fetch_gzip(b"plain text, not gzip".to_vec(), 1 << 20),
        Err(ErrorKind::BadResponse)
    );
    // Cut before its trailer (Content-Length says so: the framing is complete).
    let cut = good[..good.len() - 6].to_vec();
    assert_eq!(fetch_gzip(cut, 1 << 20), Err(ErrorKind::BadResponse));
    // One bit of the compressed data flipped: the CRC (or the inflater) catches it.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    assert_eq!(fetch_gzip(flipped, 1 << 20), Err(ErrorKind::BadResponse));
}

#[test]
fn a_gzip_response_without_a_body_is_fine() {
    // A 304 (and the answer to HEAD) names the encoding of a body it does not carry.
    let server = FakeServer::always(
        &b"HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\nETag: \"x\"\r\n\r\n"[..],
    );
    let url = server.url("/");
    let r = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.body().is_empty());
    let server = FakeServer::always(
        &b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 120\r\n\r\n"[..],
    );
    let url = server.url("/");
    let r = run_sync(async move {
        HttpClient::new()
            .fetch(req(url).method(squall::http1::Method::Head))
            .await
    })
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.body().is_empty());
}
