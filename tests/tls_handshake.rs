//! The TLS handshake of an HTTPS server, against a real TLS client (Python's ssl, through
//! `tls_support::Bridge`): certificates chosen by SNI, ALPN `http/1.1`, TLS 1.2 and 1.3; and
//! what is not a handshake: a client that stalls (closed by the header timeout), plain HTTP
//! sent to the TLS port (a TLS alert, then the close), garbage. After each negative case a
//! fresh TLS connection is served.

mod tls_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::testing::{normalize_date, TestServer, ALIVE_PATH, READ_TIMEOUT};
use squall::tls::ServerTlsConfig;
use squall_tests::echo;
use tls_support::{server_tls, server_tls_sni, tls_options, Bridge};

fn assert_served(bridge: &Bridge) {
    let mut c = bridge.connect();
    c.send(format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"alive"[..]), "{r:?}");
    c.assert_closed();
}

/// The certificate is the first one valid for the client's SNI name (wildcards included);
/// the client verifies it against that name, so a wrong choice fails the handshake.
#[test]
fn sni_chooses_the_certificate() {
    let server = TestServer::start_with(|| echo, tls_options(server_tls_sni()));
    for (sni, san) in [
        ("a.test", "a.test"),
        ("x.b.test", "*.b.test"),
        ("localhost", "localhost"),
    ] {
        let bridge = Bridge::start(server.addr(), &["--sni", sni]);
        assert_served(&bridge);
        let hs = bridge.handshake();
        assert!(hs.get("error").is_none(), "{sni}: {hs}");
        let sans: Vec<&str> = hs["san"]
            .as_array()
            .expect("san list")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(sans.contains(&san), "{sni}: got {sans:?}");
    }
    // A name no certificate has gets the default one (localhost), which the client refuses
    // for that name.
    let bridge = Bridge::start(server.addr(), &["--sni", "c.test"]);
    let mut c = bridge.connect();
    assert_eq!(c.read_to_close(), b"");
    let hs = bridge.handshake();
    let err = hs["error"].as_str().unwrap_or_default();
    assert!(err.contains("certificate verify failed"), "{hs}");
    // An IP address sends no SNI at all: the default certificate, valid for 127.0.0.1.
    let bridge = Bridge::start(server.addr(), &[]);
    assert_served(&bridge);
    assert!(bridge.handshake().get("version").is_some());
}

#[test]
fn alpn_negotiates_http11_and_refuses_only_h2() {
    let server = TestServer::start_with(|| echo, tls_options(server_tls()));
    for (offer, chosen) in [("h2,http/1.1", "http/1.1"), ("http/1.1", "http/1.1")] {
        let bridge = Bridge::start(server.addr(), &["--alpn", offer]);
        assert_served(&bridge);
        let hs = bridge.handshake();
        assert_eq!(hs["alpn"], chosen, "{offer}: {hs}");
    }
    // No ALPN at all: fine, HTTP/1.1 is assumed.
    let bridge = Bridge::start(server.addr(), &["--alpn", ""]);
    assert_served(&bridge);
    assert!(bridge.handshake()["alpn"].is_null());
    // Only h2: refused with no_application_protocol (RFC 7301 §3.2).
    let bridge = Bridge::start(server.addr(), &["--alpn", "h2"]);
    let mut c = bridge.connect();
    assert_eq!(c.read_to_close(), b"");
    let hs = bridge.handshake();
    let err = hs["error"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        err.contains("no_application_protocol") || err.contains("no application protocol"),
        "{hs}"
    );
    let bridge = Bridge::start(server.addr(), &[]);
    assert_served(&bridge);
}

#[test]
fn tls_12_and_13_are_both_served() {
    let server = TestServer::start_with(|| echo, tls_options(server_tls()));
    for (version, name) in [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")] {
        let bridge = Bridge::start(server.addr(), &["--tls", version]);
        assert_served(&bridge);
        let hs = bridge.handshake();
        assert_eq!(hs["version"], name, "{hs}");
    }
}

/// Reads until the server closes; returns what it sent and how long the close took.
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // A reset (the server closed with our bytes unread) is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
    (got, start.elapsed())
}

fn short_header_timeout() -> HttpServerOptions {
    HttpServerOptions {
        header_timeout: Some(Duration::from_millis(300)),
        ..tls_options(server_tls())
    }
}

/// A whole ClientHello from OpenSSL (Python's ssl on memory buffers), as a client sends it.
fn client_hello() -> Vec<u8> {
    let script = "import ssl,sys\n\
        c=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
        c.check_hostname=False\n\
        c.verify_mode=ssl.CERT_NONE\n\
        i,o=ssl.MemoryBIO(),ssl.MemoryBIO()\n\
        s=c.wrap_bio(i,o,server_hostname='localhost')\n\
        try:\n s.do_handshake()\n\
        except ssl.SSLWantReadError:\n pass\n\
        sys.stdout.write(o.read().hex())\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 is needed for the TLS tests");
    assert!(out.status.success(), "{out:?}");
    let hex = String::from_utf8(out.stdout).unwrap();
    let hello: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(hello.first(), Some(&0x16), "not a handshake record: {hex}");
    hello
}

/// A client that opens TCP and sends nothing, or half a ClientHello, or a whole ClientHello
/// and then never answers the server's flight, is closed by the header timeout (not kept for
/// the hour-long idle timeout).
#[test]
fn a_stalled_handshake_is_closed_by_the_header_timeout() {
    let server = TestServer::start_with(|| echo, short_header_timeout());
    // Nothing at all.
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    // The first bytes of a ClientHello record (type 22, TLS 1.0 record version, length 512),
    // then nothing.
    let mut partial = TcpStream::connect(server.addr()).unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    for s in [&mut silent, &mut partial] {
        let (got, took) = read_until_closed(s);
        assert_eq!(got, b"", "a stalled handshake got bytes");
        assert!(took < READ_TIMEOUT, "closed only after {took:?}");
    }
    // Mid-handshake: the server answers the ClientHello (ServerHello, a handshake record,
    // then its encrypted flight), the client never sends its Finished.
    let hello = client_hello();
    let mut midway = TcpStream::connect(server.addr()).unwrap();
    midway.write_all(&hello).unwrap();
    let (got, took) = read_until_closed(&mut midway);
    assert_eq!(got.first(), Some(&0x16), "no ServerHello: {got:?}");
    assert!(got.len() > 100, "not a server flight: {got:?}");
    assert!(took < READ_TIMEOUT, "closed only after {took:?}");
    let bridge = Bridge::start(server.addr(), &[]);
    assert_served(&bridge);
}

/// Plain HTTP sent to the TLS port (an `http://` URL with the HTTPS port) gets a 400 in the
/// clear saying so, then the close; other input that is not TLS gets a TLS alert record
/// (content type 21) or nothing, and the close. Never a panic or a hang.
#[test]
fn plain_http_to_the_tls_port_is_closed_cleanly() {
    let server = TestServer::start_with(|| echo, tls_options(server_tls()));
    let body = "This port speaks HTTPS: the request was sent in plain HTTP.\n";
    let expected = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nDate: <date>\r\n\r\n{body}",
        body.len()
    );
    for input in [
        &b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        &b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na=b"[..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
    ] {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(input).unwrap();
        let (got, _) = read_until_closed(&mut s);
        assert_eq!(normalize_date(&got), expected, "for {input:?}");
        assert_served(&Bridge::start(server.addr(), &[]));
    }
    for input in [
        &b"\x16\x03\x01\x00\x05hello"[..], // a handshake record that is not a ClientHello
        &b"\x17\x03\x03\x00\x05hello"[..], // application data before any handshake
        &[0u8; 64][..],
        &b"\x80\x2e\x01\x00\x02"[..], // the start of an SSLv2 hello
    ] {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(input).unwrap();
        let (got, _) = read_until_closed(&mut s);
        if !got.is_empty() {
            assert_eq!(got[0], 21, "not a TLS alert: {got:?} for {input:?}");
        }
        assert!(got.len() <= 64, "{got:?}");
    }
    let bridge = Bridge::start(server.addr(), &[]);
    assert_served(&bridge);
}

/// Two connections from one Python ssl client, the second offering the first's session:
/// "VERSION REUSED ANSWERED" for each, `;`-separated.
fn two_connections(server: &TestServer, version: &str) -> String {
    let script = r#"
import socket, ssl, sys
port, ca, version, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
if version == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
session, out = None, []
for _ in range(2):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ssl.SSLEOFError:
                    break
                if not chunk:
                    break
                data += chunk
            # (TLS 1.3 tickets come after the handshake: the session is read after the answer.)
            session = s.session
            out.append("%s %s %s" % (s.version(), s.session_reused, data.endswith(b"alive")))
print(";".join(out))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(server.addr().port().to_string())
        .arg(&tls_support::pki().ca)
        .arg(version)
        .arg(ALIVE_PATH)
        .output()
        .expect("python3 is needed for the TLS tests");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A returning client resumes its session (TLS 1.3 tickets, TLS 1.2 session IDs), unless the
/// configuration turns resumption off: then every connection makes a full handshake.
#[test]
fn sessions_resume_unless_turned_off() {
    let p = tls_support::pki();
    let on = TestServer::start_with(|| echo, tls_options(server_tls()));
    let off = ServerTlsConfig::builder()
        .certificate_pem_files(&p.cert, &p.key)
        .map(|b| b.session_resumption(false))
        .and_then(|b| b.build())
        .unwrap();
    let off = TestServer::start_with(|| echo, tls_options(off));
    for (version, name) in [("1.3", "TLSv1.3"), ("1.2", "TLSv1.2")] {
        assert_eq!(
            two_connections(&on, version),
            format!("{name} False True;{name} True True"),
            "resumption on"
        );
        assert_eq!(
            two_connections(&off, version),
            format!("{name} False True;{name} False True"),
            "resumption off"
        );
    }
}

/// Certificate files that cannot serve are refused when the configuration is built, with an
/// error naming the file and the reason, never at the first handshake.
#[test]
fn unusable_pem_files_are_refused_with_a_clear_error() {
    let p = tls_support::pki();
    let cert = p.cert.display().to_string();
    // A key that is not the certificate's.
    let e = ServerTlsConfig::from_pem_files(&p.cert, &p.a_key).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{cert}: key and certificate")),
        "{text}"
    );
    // The key file given as the certificate, and the other way round.
    let e = ServerTlsConfig::from_pem_files(&p.key, &p.key).unwrap_err();
    assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
    let e = ServerTlsConfig::from_pem_files(&p.cert, &p.cert).unwrap_err();
    assert!(e.to_string().contains("no usable private key"), "{e}");
    // A second certificate for SNI is checked the same way.
    let e = ServerTlsConfig::builder()
        .certificate_pem_files(&p.cert, &p.key)
        .and_then(|b| b.certificate_pem_files(&p.a_cert, &p.key))
        .unwrap_err();
    assert!(e.to_string().contains("key and certificate"), "{e}");
}
