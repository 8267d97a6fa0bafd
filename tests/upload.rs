//! Black-box checks of the upload example (`examples/upload.rs`): multipart uploads streamed to
//! disk arrive intact, the size limit answers 413 (announced or not), refusals leave no file.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use squall::testing::TestClient;
use squall_tests::{roundtrip, send_while_reading, ExampleServer, ScratchDir};

const MIB: usize = 1 << 20;
/// The limit the tests run the example with.
const LIMIT: usize = 6 * MIB;

fn start(dir: &ScratchDir) -> ExampleServer {
    ExampleServer::builder("upload")
        .arg("--dir")
        .arg(dir.path().display().to_string())
        .arg("--max-size")
        .arg(LIMIT.to_string())
        .start()
}

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// The file names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits (bounded) until `dir` is empty: refused uploads must leave nothing behind.
fn assert_becomes_empty(dir: &Path) {
    let t0 = Instant::now();
    while !listing(dir).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "files left behind: {:?}",
            listing(dir)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The form's action URL (it carries the XSRF token in its query string).
fn form_action(page: &str) -> String {
    let start = page.find("action=\"").expect("a form action") + 8;
    let end = page[start..].find('"').unwrap() + start;
    squall::escape::xhtml_unescape(&page[start..end]).into_owned()
}

fn check_saved(file: &Value, dir: &Path, field: &str, name: &str, data: &[u8]) {
    assert_eq!(file["field"], json!(field));
    assert_eq!(file["filename"], json!(name));
    assert_eq!(file["size"], json!(data.len()));
    assert_eq!(file["sha256"], json!(sha256_hex(data)));
    let saved = Path::new(file["saved_as"].as_str().unwrap());
    assert_eq!(saved.parent(), Some(dir), "saved outside --dir: {saved:?}");
    let on_disk = std::fs::read(saved).unwrap();
    assert!(on_disk == data, "{name}: the bytes on disk differ");
}

#[test]
fn a_5_mib_upload_arrives_intact_on_disk() {
    let dir = ScratchDir::new("upload-ok");
    let server = start(&dir);
    let mut c = TestClient::connect_to(server.addr());
    let page = c.get("/");
    assert_eq!(page.status(), 200);
    let page = page.text();
    assert!(page.contains(r#"enctype="multipart/form-data""#), "{page}");
    let action = form_action(&page);
    assert!(action.starts_with("/upload?_xsrf="), "{action}");

    // The form's way: the token in the query string.
    let big = noise(5 * MIB, 7);
    let r = c
        .request("POST", &action)
        .multipart(&[("note", "hello")], &[("file", "big.bin", &big)])
        .send();
    assert_eq!(r.status(), 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["fields"], json!({"note": ["hello"]}));
    check_saved(&report["files"][0], dir.path(), "file", "big.bin", &big);

    // A script's way: the token in a header. Several files, one of them holding what looks
    // like the boundary (it is content unless it ends a line on its own), an empty one, and a
    // hostile file name.
    let boundary = "squall-test-boundary-7MA4YWxkTrZu0gW";
    let tricky =
        format!("a\r\n--{boundary}X\r\n--{boundary}-x\r\nb--{boundary}--\r\n").into_bytes();
    let small = noise(100_000, 9);
    let token = c.cookie("_xsrf").unwrap().to_owned();
    let r = c
        .request("POST", "/upload")
        .header("X-XSRFToken", &token)
        .multipart(
            &[("a", "1"), ("a", "2")],
            &[
                ("first", "tricky.txt", &tricky),
                ("second", "../../etc/passwd", &small),
                ("third", "empty.dat", b""),
            ],
        )
        .send();
    assert_eq!(r.status(), 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["fields"], json!({"a": ["1", "2"]}));
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    check_saved(&files[0], dir.path(), "first", "tricky.txt", &tricky);
    check_saved(&files[1], dir.path(), "second", "../../etc/passwd", &small);
    assert!(
        files[1]["saved_as"].as_str().unwrap().ends_with("-passwd"),
        "{}",
        files[1]
    );
    check_saved(&files[2], dir.path(), "third", "empty.dat", b"");
    // Four files kept, no temporary file left.
    let names = listing(dir.path());
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

/// A raw upload request head with the client's XSRF cookie and token.
fn upload_head(token: &str, framing: &str) -> Vec<u8> {
    format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nCookie: _xsrf={token}\r\nX-XSRFToken: {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\n{framing}\r\n"
    )
    .into_bytes()
}

/// A multipart body holding one file of `len` bytes.
fn one_file_body(len: usize) -> Vec<u8> {
    let mut body =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', len));
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

#[test]
fn over_the_limit_is_413_and_leaves_nothing() {
    let dir = ScratchDir::new("upload-limit");
    let server = start(&dir);
    let addr = server.addr();
    let token = TestClient::connect_to(addr).fetch_xsrf("/");
    let body = one_file_body(LIMIT + MIB);

    // Announced: refused from the head, before the body is read.
    let head = upload_head(&token, &format!("Content-Length: {}\r\n", body.len()));
    let r = send_while_reading(addr, &head, &body);
    assert_eq!(r.status, 413);
    assert_becomes_empty(dir.path());

    // Not announced (chunked): refused once the bytes received pass the limit; the part of
    // the file already written is removed.
    let mut chunked = Vec::new();
    for piece in body.chunks(256 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = upload_head(&token, "Transfer-Encoding: chunked\r\n");
    let r = send_while_reading(addr, &head, &chunked);
    assert_eq!(r.status, 413);
    assert_becomes_empty(dir.path());
    let log = server.log_text();
    assert!(log.contains("upload over the size limit"), "{log}");

    // Just under the limit is fine, chunked too.
    let body = one_file_body(LIMIT - 1024);
    let mut chunked = Vec::new();
    for piece in body.chunks(300_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut request = upload_head(
        &token,
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
    );
    request.extend_from_slice(&chunked);
    let (_, r) = roundtrip(addr, &request);
    assert_eq!(r.status, 200, "{r:?}");
    let report: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(report["files"][0]["size"], json!(LIMIT - 1024));
    assert_eq!(listing(dir.path()).len(), 1);
}

#[test]
fn refusals_leave_no_file() {
    let dir = ScratchDir::new("upload-refused");
    let server = start(&dir);
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);
    let token = c.fetch_xsrf("/");
    let file = noise(200_000, 3);

    // No token: 403, refused from the head.
    let r = c
        .request("POST", "/upload")
        .multipart(&[], &[("f", "a.bin", &file)])
        .send();
    assert_eq!(r.status(), 403);
    // A token that does not match the cookie.
    let other = TestClient::connect_to(addr).fetch_xsrf("/");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nCookie: _xsrf={token}\r\nX-XSRFToken: {other}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
        file.len()
    );
    let r = send_while_reading(addr, head.as_bytes(), &file);
    assert_eq!(r.status, 403);
    // Not multipart: 415.
    let r = c
        .request("POST", "/upload")
        .header("X-XSRFToken", &token)
        .header("Content-Type", "application/octet-stream")
        .body(file.clone())
        .send();
    assert_eq!(r.status(), 415);
    // A multipart body cut short (no close delimiter): 400.
    let mut cut =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n".to_vec();
    cut.extend_from_slice(&file);
    let mut request = upload_head(
        &token,
        &format!("Content-Length: {}\r\nConnection: close\r\n", cut.len()),
    );
    request.extend_from_slice(&cut);
    let (_, r) = roundtrip(addr, &request);
    assert_eq!(r.status, 400);
    assert_becomes_empty(dir.path());
    assert_eq!(TestClient::connect_to(addr).get("/").status(), 200);
}
