//! HTTPS as curl (OpenSSL) sees it: an Application served over TLS, verified against the
//! test CA: `cx.protocol()` is `https`, curl reuses one TLS connection for several requests,
//! and large bodies go up and come down whole.

mod tls_support;

use squall::prelude::*;
use squall::testing::TestServer;
use tls_support::{curl, pki, tls_options};

#[derive(Clone, Default)]
struct Proto;

#[handler]
impl Proto {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let line = format!("{} {}", cx.protocol(), cx.full_url());
        cx.write(line);
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Big;

#[handler]
impl Big {
    fn get(&mut self, cx: &mut Context, n: usize) -> Result<()> {
        let body: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        cx.write(body);
        Ok(())
    }

    fn post(&mut self, cx: &mut Context, _n: usize) -> Result<()> {
        let digest = format!("{:x} {}", md5::compute(cx.body()), cx.body().len());
        cx.write(digest);
        Ok(())
    }
}

fn server() -> TestServer {
    let options = tls_options(tls_support::server_tls());
    TestServer::start_with(
        || {
            // (Default settings: no XSRF check on the uploads.)
            Application::new(routes![(r"/proto", Proto), (r"/big/(\d+)", Big)])
        },
        options,
    )
}

#[test]
fn the_application_sees_https() {
    let server = server();
    let url = server.url("/proto");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let (code, out) = curl(&[&url]);
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8_lossy(&out), format!("https {url}"));
}

/// Two URLs in one curl run share one TLS connection (curl reports 1 new connection, then 0).
#[test]
fn curl_reuses_the_tls_connection() {
    let server = server();
    let (a, b) = (server.url("/proto"), server.url("/big/5"));
    let (code, out) = curl(&[
        &a,
        "-w",
        "|%{num_connects}\n",
        &b,
        "-w",
        "|%{num_connects}\n",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("https {a}|1\nabcde|0\n")
    );
}

#[test]
fn large_download_and_upload() {
    let server = server();
    let n = 5 * 1024 * 1024 + 3;
    let (code, out) = curl(&[&server.url(&format!("/big/{n}"))]);
    assert_eq!(code, 0);
    assert_eq!(out.len(), n);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, &b)| b == b'a' + (i % 26) as u8));

    let body: Vec<u8> = (0..4 * 1024 * 1024 + 1)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let file = pki().ca.with_file_name("upload.bin");
    std::fs::write(&file, &body).unwrap();
    let data = format!("@{}", file.display());
    let (code, out) = curl(&[
        "--data-binary",
        &data,
        "-H",
        "Content-Type: application/octet-stream",
        &server.url("/big/0"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("{:x} {}", md5::compute(&body), body.len())
    );
}

/// curl refuses a server whose certificate its CA did not issue, and the server carries on.
#[test]
fn an_untrusted_certificate_is_refused_by_curl() {
    let p = pki();
    let rogue = squall::tls::ServerTlsConfig::from_pem_files(&p.rogue_cert, &p.rogue_key).unwrap();
    let server = TestServer::start_with(
        || Application::new(routes![(r"/proto", Proto)]),
        tls_options(rogue),
    );
    let (code, _) = curl(&[&server.url("/proto")]);
    assert_eq!(
        code, 60,
        "curl's 'peer certificate cannot be authenticated'"
    );
    let (code, out) = curl(&["--insecure", &server.url("/proto")]);
    assert_eq!(code, 0);
    assert!(out.starts_with(b"https "));
}

/// `hello` and `showcase` serve HTTPS with `--cert FILE --key FILE`; the showcase's cookies
/// then carry `Secure`.
#[test]
fn the_examples_take_cert_and_key() {
    let p = pki();
    let (cert, key) = (p.cert.display().to_string(), p.key.display().to_string());
    let hello = squall_tests::ExampleServer::builder("hello")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .start();
    let url = format!("https://{}/", hello.addr());
    let (code, out) = curl(&[&url]);
    assert_eq!((code, out.as_slice()), (0, &b"Hello, world"[..]));
    // Plain HTTP is not served on that port: a 400 in the clear says why.
    let (code, out) = curl(&["-w", "|%{http_code}", &format!("http://{}/", hello.addr())]);
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "This port speaks HTTPS: the request was sent in plain HTTP.\n|400"
    );

    let showcase = squall_tests::ExampleServer::builder("showcase")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .start();
    let url = format!("https://{}/cookie/set?v=tls", showcase.addr());
    let (code, out) = curl(&["-i", &url]);
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let cookie = text
        .lines()
        .find(|l| l.starts_with("Set-Cookie: user="))
        .unwrap_or_else(|| panic!("no user cookie: {text}"));
    // Over https the cookie is Secure by default (cx.protocol() is "https").
    assert!(cookie.contains("; Secure"), "{cookie}");
}
