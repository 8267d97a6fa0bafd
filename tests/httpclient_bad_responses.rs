//! `squall::httpclient` against raw fake servers sending exact bytes: ambiguous framing and
//! malformed heads are errors (and the connection is never pooled), a response cut short by a
//! close or a reset is an error rather than a shorter success, timeouts end stalls, limits
//! hold, interim responses are skipped, stale pooled connections are retried.

use std::time::{Duration, Instant};

use squall::http1::Method;
use squall::httpclient::{ErrorKind, HttpClient, HttpRequest, HttpResponse};
use squall_tests::fake_server::{FakeServer, Unanswering};
use squall_tests::run_sync;

fn req(url: String) -> HttpRequest {
    HttpRequest::new(url).request_timeout(Duration::from_secs(10))
}

/// Fetches `/` from `server` twice with one client; returns both results and the idle count
/// after each.
fn fetch_twice(
    server: &FakeServer,
) -> (
    Result<HttpResponse, squall::httpclient::Error>,
    usize,
    Result<HttpResponse, squall::httpclient::Error>,
    usize,
) {
    let url = server.url("/");
    run_sync(async move {
        let client = HttpClient::new();
        let a = client.fetch(req(url.clone())).await;
        let idle_a = client.idle_connections();
        let b = client.fetch(req(url)).await;
        (a, idle_a, b, client.idle_connections())
    })
}

/// `response` is refused with `kind`, and its connection is not reused: the second fetch
/// opens another.
fn assert_refused(response: impl Into<Vec<u8>>, kind: ErrorKind) -> String {
    let server = FakeServer::always(response);
    let (a, idle_a, b, _) = fetch_twice(&server);
    let err = a.expect_err("refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(idle_a, 0, "a refused response's connection is not pooled");
    assert_eq!(b.expect_err("refused again").kind(), kind);
    assert_eq!(server.accepted(), 2, "each fetch on a new connection");
    err.to_string()
}

#[test]
fn ambiguous_framing_is_refused() {
    let msg = assert_refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ErrorKind::BadResponse,
    );
    assert!(
        msg.contains("both Content-Length and Transfer-Encoding"),
        "{msg}"
    );
    let msg = assert_refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ErrorKind::BadResponse,
    );
    assert!(msg.contains("differing Content-Length"), "{msg}");
    assert_refused(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
        ErrorKind::BadResponse,
    );
    assert_refused(
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        ErrorKind::BadResponse,
    );
}

#[test]
fn malformed_heads_are_refused() {
    let msg = assert_refused(
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
        ErrorKind::BadResponse,
    );
    assert!(msg.contains("bare LF"), "{msg}");
    assert_refused(
        b"HTTP/1.1 200 OK\r\nX: folded\r\n  line\r\nContent-Length: 0\r\n\r\n",
        ErrorKind::BadResponse,
    );
    assert_refused(b"HTTP/1.1 99 Low\r\n\r\n", ErrorKind::BadResponse);
    assert_refused(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", ErrorKind::BadResponse);
    assert_refused(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        ErrorKind::BadResponse,
    );
}

#[test]
fn bad_chunk_framing_is_refused() {
    for raw in [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    ] {
        let server = FakeServer::once_then_close(raw);
        let url = server.url("/");
        let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadResponse, "{err}");
    }
    // A size with more hex digits than a u64 holds is over any limit.
    let server = FakeServer::once_then_close(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
    );
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BadResponse | ErrorKind::TooLarge),
        "{err}"
    );
}

#[test]
fn huge_heads_are_refused() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    while head.len() < 100 * 1024 {
        head.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let msg = assert_refused(head, ErrorKind::TooLarge);
    assert!(msg.contains("response head over 65536 bytes"), "{msg}");

    // A head that never ends is refused at the limit, not waited on.
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            c.send(b"HTTP/1.1 200 OK\r\n");
            let line = [b'a'; 1024];
            for _ in 0..100 {
                c.send(b"X: ");
                c.send(&line);
                c.send(b"\r\n");
            }
            c.wait_for_client_close();
        }
    });
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");

    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    assert_refused(many, ErrorKind::TooLarge);
}

#[test]
fn a_close_mid_body_is_an_error_not_a_short_success() {
    let server =
        FakeServer::once_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(
        err.to_string().contains("after 10 of 100 body bytes"),
        "{err}"
    );

    let server = FakeServer::once_then_close(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(err.to_string().contains("chunked body"), "{err}");

    // Cut inside the head.
    let server = FakeServer::once_then_close(b"HTTP/1.1 200 OK\r\nContent-Le");
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(
        err.to_string().contains("inside the response head"),
        "{err}"
    );
}

#[test]
fn a_reset_mid_body_is_an_error_with_its_cause() {
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            c.send(b"HTTP/1.1 200 OK\r\n\r\npart of a close-delimited body");
            std::thread::sleep(Duration::from_millis(50));
            c.reset();
        }
    });
    let url = server.url("/");
    let err = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Closed,
        "a reset is not the end of the body: {err}"
    );
    let source = std::error::Error::source(&err).expect("the reset as source");
    let io = source.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
}

#[test]
fn close_delimited_bodies_end_at_the_close() {
    let server =
        FakeServer::once_then_close(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nall of it, until the close");
    let (a, idle_a, b, _) = fetch_twice(&server);
    assert_eq!(a.unwrap().text(), "all of it, until the close");
    assert_eq!(idle_a, 0, "a close-delimited response ends its connection");
    assert_eq!(b.unwrap().text(), "all of it, until the close");
    assert_eq!(server.accepted(), 2);
}

#[test]
fn keep_alive_and_its_refusals_on_exact_bytes() {
    // Reused: HTTP/1.1 with a length.
    let server = FakeServer::always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let (a, idle_a, b, idle_b) = fetch_twice(&server);
    assert_eq!(
        (a.unwrap().text(), b.unwrap().text()),
        ("ok".into(), "ok".into())
    );
    assert_eq!((idle_a, idle_b, server.accepted()), (1, 1, 1));

    // Not reused: bytes after the response.
    let server = FakeServer::always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
    let (a, idle_a, b, _) = fetch_twice(&server);
    assert_eq!(a.unwrap().text(), "ok");
    assert!(b.is_ok());
    assert_eq!((idle_a, server.accepted()), (0, 2));

    // Not reused: HTTP/1.0 without keep-alive, or Connection: close.
    for raw in [
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".as_slice(),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ] {
        let server = FakeServer::always(raw);
        let (a, idle_a, b, _) = fetch_twice(&server);
        assert!(a.is_ok() && b.is_ok());
        assert_eq!((idle_a, server.accepted()), (0, 2));
    }
}

#[test]
fn interim_responses_are_skipped() {
    let server = FakeServer::always(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    );
    let (a, idle_a, b, _) = fetch_twice(&server);
    let a = a.unwrap();
    assert_eq!((a.status(), a.text().as_ref()), (200, "final"));
    assert_eq!(
        a.header("Link"),
        None,
        "the interim head's fields are not the response's"
    );
    assert_eq!(idle_a, 1);
    assert_eq!(b.unwrap().text(), "final");
}

#[test]
fn a_stall_mid_body_hits_the_request_timeout() {
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
            c.wait_for_client_close();
        }
    });
    let url = server.url("/");
    let t0 = Instant::now();
    let err = run_sync(async move {
        let r = HttpRequest::new(url).request_timeout(Duration::from_millis(300));
        HttpClient::new().fetch(r).await
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RequestTimeout, "{err}");
    assert!(err.is_timeout());
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "ended by the timeout"
    );

    // Stalled before any byte of the response: the same.
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            c.wait_for_client_close();
        }
    });
    let url = server.url("/");
    let err = run_sync(async move {
        let r = HttpRequest::new(url).request_timeout(Duration::from_millis(300));
        HttpClient::new().fetch(r).await
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RequestTimeout, "{err}");
}

#[test]
fn an_unanswered_connect_hits_the_connect_timeout() {
    // Linux drops a SYN to a listener whose accept queue is full: the connect gets no answer.
    let listener = Unanswering::start().expect("the accept queue of a backlog-0 listener fills");
    let url = listener.url();
    let t0 = Instant::now();
    let err = run_sync(async move {
        let r = req(url).connect_timeout(Duration::from_millis(300));
        HttpClient::new().fetch(r).await
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(8));
}

#[test]
fn max_response_size_holds_for_every_framing() {
    for raw in [
        b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let server = FakeServer::once_then_close(raw);
        let url = server.url("/");
        let err = run_sync(async move {
            HttpClient::new()
                .fetch(req(url).max_response_size(40))
                .await
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    }
}

#[test]
fn an_early_response_is_read_while_the_body_is_refused() {
    // The server answers 413 after the head and closes without reading the 8 MiB body.
    let server = FakeServer::start(|mut c| {
        if c.read_head().is_some() {
            c.send(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!");
            std::thread::sleep(Duration::from_millis(100));
            c.close();
        }
    });
    let url = server.url("/");
    let res = run_sync(async move {
        let client = HttpClient::new();
        let r = req(url).method(Method::Put).body(vec![b'x'; 8 << 20]);
        let res = client.fetch(r).await;
        (res, client.idle_connections())
    });
    let (res, idle) = res;
    let res = res.expect("the server's answer, not the failed write");
    assert_eq!((res.status(), res.text().as_ref()), (413, "too big!"));
    assert_eq!(idle, 0);
}

#[test]
fn a_pooled_connection_closed_by_the_server_is_retried_for_idempotent_methods() {
    // Each connection answers one request, then drops the next one unanswered (as a server
    // whose idle timeout fires just as the client reuses the connection).
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
        if c.read_request().is_some() {
            c.close();
        }
    });
    let url = server.url("/");
    let (get, post) = run_sync(async move {
        let client = HttpClient::new();
        client.fetch(req(url.clone())).await.unwrap();
        let get = client.fetch(req(url.clone())).await;
        let post = client
            .fetch(req(url).method(Method::Post).body("once"))
            .await;
        (get, post)
    });
    assert_eq!(get.expect("retried on a new connection").text(), "ok");
    let err = post.expect_err("a POST is not retried");
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(err.to_string().contains("before any response"), "{err}");
    assert_eq!(server.accepted(), 2);
}

#[test]
fn a_fetch_that_fails_gives_its_pool_slot_back() {
    // The first connection stalls; later ones answer.
    let server = FakeServer::start(|mut c| {
        if c.read_request().is_some() {
            if c.index == 0 {
                c.wait_for_client_close();
            } else {
                c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        }
    });
    let url = server.url("/");
    let (stalled, waited, after) = run_sync(async move {
        let client = HttpClient::with_options(squall::httpclient::HttpClientOptions {
            max_connections_per_host: 1,
            ..Default::default()
        });
        // One fetch holds the only slot while it stalls...
        let (c, u) = (client.clone(), url.clone());
        let stalled = squall::task::spawn(async move {
            let r = HttpRequest::new(u).request_timeout(Duration::from_millis(800));
            c.fetch(r).await
        });
        squall::task::sleep(Duration::from_millis(100)).await;
        // ...so another waits for it, and waiting counts against the connect timeout.
        let r = req(url.clone()).connect_timeout(Duration::from_millis(200));
        let waited = client.fetch(r).await;
        let stalled = stalled.await.unwrap();
        // The timed-out fetch's slot is free again.
        let after = client.fetch(req(url)).await;
        (stalled, waited, after)
    });
    assert_eq!(stalled.unwrap_err().kind(), ErrorKind::RequestTimeout);
    assert_eq!(waited.unwrap_err().kind(), ErrorKind::ConnectTimeout);
    assert_eq!(after.expect("the slot was given back").text(), "ok");
    assert_eq!(server.accepted(), 2);
}
