//! `StaticFileHandler` over real sockets: validators and conditional requests, HEAD, byte
//! ranges, path traversal, directories, versioned URLs (`static_url`), and a large file
//! streamed with bounded memory.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use squall::prelude::*;
use squall::testing::{TestClient, TestResponse, TestServer};

/// A folder under the system temp dir, unique to one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "squall-static-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// 2020-09-13 12:26:40 UTC: a fixed modification time, so `Last-Modified` is known exactly.
const MTIME_SECS: u64 = 1_600_000_000;
const MTIME_HTTP: &str = "Sun, 13 Sep 2020 12:26:40 GMT";
const SECRET: &str = "TOP SECRET, outside the root";

fn write_file(path: &Path, content: &[u8]) {
    fs::write(path, content).unwrap();
    set_mtime(path, UNIX_EPOCH + Duration::from_secs(MTIME_SECS));
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// The 1000-byte file the range tests read.
fn numbers() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 251) as u8).collect()
}

/// `base/` holds secrets; `base/root/` is served.
///
/// ```text
/// base/secret.txt, base/x                 outside the root
/// root/hello.txt, numbers.bin, empty.txt, page.html, a b.txt
/// root/sub/index.html, root/sub/style.css, root/noindex/file.txt
/// root/inside-link -> hello.txt            (served)
/// root/outside-link -> ../secret.txt       (403)
/// root/updir -> ..                         (403 for anything through it)
/// ```
fn fixture(tag: &str) -> (TempDir, PathBuf) {
    let base = TempDir::new(tag);
    let root = base.0.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join("noindex")).unwrap();
    write_file(&base.0.join("secret.txt"), SECRET.as_bytes());
    write_file(&base.0.join("x"), SECRET.as_bytes());
    write_file(&root.join("hello.txt"), b"hello static\n");
    write_file(&root.join("numbers.bin"), &numbers());
    write_file(&root.join("empty.txt"), b"");
    write_file(&root.join("page.html"), b"<p>page</p>");
    write_file(&root.join("a b.txt"), b"spaced");
    write_file(&root.join("sub/index.html"), b"<h1>sub index</h1>");
    write_file(&root.join("sub/style.css"), b"body{}");
    write_file(&root.join("noindex/file.txt"), b"file");
    std::os::unix::fs::symlink("hello.txt", root.join("inside-link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("outside-link")).unwrap();
    std::os::unix::fs::symlink("..", root.join("updir")).unwrap();
    (base, root)
}

fn app(root: PathBuf) -> Application {
    Application::new(routes![
        (r"/static/(.*)", StaticFileHandler::new(root.clone())),
        (
            r"/site/(.*)",
            StaticFileHandler::new(root)
                .default_filename(Some("index.html"))
                .cache_max_age(Duration::from_secs(60))
        ),
    ])
}

fn start(tag: &str) -> (TempDir, PathBuf, TestServer) {
    let (base, root) = fixture(tag);
    let r = root.clone();
    let server = TestServer::start(move || app(r));
    (base, root, server)
}

fn get_with(c: &mut TestClient, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = c.request("GET", path);
    for (n, v) in headers {
        req = req.header(n, v);
    }
    req.send()
}

fn etag_of(c: &mut TestClient, path: &str) -> String {
    c.get(path).header("Etag").unwrap().to_owned()
}

#[test]
fn full_response_has_validators_type_and_length() {
    let (_base, root, server) = start("full");
    let mut c = TestClient::new(&server);
    let r = c.get("/static/hello.txt");
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"hello static\n");
    assert_eq!(r.header("Content-Length"), Some("13"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(r.header("Last-Modified"), Some(MTIME_HTTP));
    assert_eq!(
        r.header("Cache-Control"),
        None,
        "no caching unless configured"
    );
    // Strong, quoted, hex: size-mtime_ns-inode.
    let etag = r.header("Etag").unwrap().to_owned();
    let re = regex::Regex::new(r#"^"d-([0-9a-f]+)-([0-9a-f]+)"$"#).unwrap();
    let caps = re
        .captures(&etag)
        .unwrap_or_else(|| panic!("ETag {etag:?}"));
    assert_eq!(
        u128::from_str_radix(&caps[1], 16).unwrap(),
        u128::from(MTIME_SECS) * 1_000_000_000
    );
    let ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(root.join("hello.txt")).unwrap());
    assert_eq!(u64::from_str_radix(&caps[2], 16).unwrap(), ino);
    assert_eq!(etag_of(&mut c, "/static/hello.txt"), etag, "stable");

    // Other types from the extension; no charset outside text/*.
    let r = c.get("/static/page.html");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    let r = c.get("/static/numbers.bin");
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.body(), numbers());
    let r = c.get("/static/empty.txt");
    assert_eq!((r.status(), r.header("Content-Length")), (200, Some("0")));
    // A file served through a URL with spaces (percent-decoded group).
    assert_eq!(c.get("/static/a%20b.txt").text(), "spaced");

    // Touching the file changes the validators.
    set_mtime(
        &root.join("hello.txt"),
        UNIX_EPOCH + Duration::from_secs(MTIME_SECS + 1),
    );
    let r = c.get("/static/hello.txt");
    assert_ne!(r.header("Etag"), Some(etag.as_str()));
    assert_eq!(
        r.header("Last-Modified"),
        Some("Sun, 13 Sep 2020 12:26:41 GMT")
    );
    assert_eq!(c.get("/static/missing.txt").status(), 404);
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let (_base, _root, server) = start("head");
    let mut c = TestClient::new(&server);
    let g = c.get("/static/numbers.bin");
    let h = c.request("HEAD", "/static/numbers.bin").send();
    assert_eq!(h.status(), 200);
    assert!(h.body().is_empty());
    for name in [
        "Content-Length",
        "Content-Type",
        "Etag",
        "Last-Modified",
        "Accept-Ranges",
    ] {
        assert_eq!(h.header(name), g.header(name), "{name}");
    }
    assert_eq!(h.header("Content-Length"), Some("1000"));
    // Ranges are for GET only (RFC 9110 §14.2): HEAD describes the whole file.
    let h = c
        .request("HEAD", "/static/numbers.bin")
        .header("Range", "bytes=0-9")
        .send();
    assert_eq!(
        (h.status(), h.header("Content-Length")),
        (200, Some("1000"))
    );
    // The connection stayed in sync: no body bytes followed the HEAD responses.
    assert_eq!(c.get("/static/hello.txt").text(), "hello static\n");
    let r = c.request("OPTIONS", "/static/hello.txt").send();
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(c.post("/static/hello.txt", "x").status(), 405);
}

#[test]
fn if_none_match_gives_304() {
    let (_base, _root, server) = start("inm");
    let mut c = TestClient::new(&server);
    let etag = etag_of(&mut c, "/static/hello.txt");
    let weak = format!("W/{etag}");
    let list = format!(r#""nope", {etag}, "other""#);
    for inm in [etag.as_str(), &weak, &list, "*"] {
        let r = get_with(&mut c, "/static/hello.txt", &[("If-None-Match", inm)]);
        assert_eq!(r.status(), 304, "If-None-Match: {inm}");
        assert!(r.body().is_empty());
        assert_eq!(r.header("Etag"), Some(etag.as_str()));
        assert_eq!(r.header("Last-Modified"), Some(MTIME_HTTP));
        assert_eq!(r.header("Content-Type"), None);
        assert_eq!(r.header("Transfer-Encoding"), None);
        // HEAD is conditional too.
        let h = c
            .request("HEAD", "/static/hello.txt")
            .header("If-None-Match", inm)
            .send();
        assert_eq!(h.status(), 304);
    }
    for inm in [r#""nope""#, r#""nope", W/"other""#, "garbage"] {
        let r = get_with(&mut c, "/static/hello.txt", &[("If-None-Match", inm)]);
        assert_eq!(r.status(), 200, "If-None-Match: {inm}");
        assert_eq!(r.body(), b"hello static\n");
    }
    // The 304s left the connection in sync.
    assert_eq!(c.get("/static/hello.txt").status(), 200);
}

#[test]
fn if_modified_since_and_its_precedence() {
    let (_base, _root, server) = start("ims");
    let mut c = TestClient::new(&server);
    let etag = etag_of(&mut c, "/static/hello.txt");
    let later = "Sun, 13 Sep 2020 12:26:41 GMT";
    let earlier = "Sun, 13 Sep 2020 12:26:39 GMT";
    for (ims, status) in [
        (MTIME_HTTP, 304),
        (later, 304),
        (earlier, 200),
        ("not a date", 200),
    ] {
        let r = get_with(&mut c, "/static/hello.txt", &[("If-Modified-Since", ims)]);
        assert_eq!(r.status(), status, "If-Modified-Since: {ims}");
    }
    // If-None-Match wins over If-Modified-Since, both ways (RFC 9110 §13.2.2).
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[
            ("If-None-Match", r#""stale""#),
            ("If-Modified-Since", later),
        ],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"hello static\n");
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[("If-None-Match", &etag), ("If-Modified-Since", earlier)],
    );
    assert_eq!(r.status(), 304);
}

#[test]
fn if_match_and_if_unmodified_since_give_412() {
    let (_base, _root, server) = start("ifmatch");
    let mut c = TestClient::new(&server);
    let etag = etag_of(&mut c, "/static/hello.txt");
    let r = get_with(&mut c, "/static/hello.txt", &[("If-Match", &etag)]);
    assert_eq!(r.status(), 200);
    let r = get_with(&mut c, "/static/hello.txt", &[("If-Match", r#""other""#)]);
    assert_eq!(r.status(), 412);
    // Weak tags never match If-Match (strong comparison).
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[("If-Match", &format!("W/{etag}"))],
    );
    assert_eq!(r.status(), 412);
    let earlier = "Sun, 13 Sep 2020 12:26:39 GMT";
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[("If-Unmodified-Since", earlier)],
    );
    assert_eq!(r.status(), 412);
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[("If-Unmodified-Since", MTIME_HTTP)],
    );
    assert_eq!(r.status(), 200);
    // If-Match present: If-Unmodified-Since is not looked at.
    let r = get_with(
        &mut c,
        "/static/hello.txt",
        &[("If-Match", "*"), ("If-Unmodified-Since", earlier)],
    );
    assert_eq!(r.status(), 200);
}

#[test]
fn single_byte_ranges() {
    let (_base, _root, server) = start("range");
    let mut c = TestClient::new(&server);
    let data = numbers();
    let cases: [(&str, usize, usize); 6] = [
        ("bytes=0-9", 0, 9),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=0-", 0, 999),
        ("bytes=500-5000", 500, 999),
        ("bytes=-5000", 0, 999),
    ];
    for (range, first, last) in cases {
        let r = get_with(&mut c, "/static/numbers.bin", &[("Range", range)]);
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes {first}-{last}/1000").as_str()),
            "{range}"
        );
        let len = last - first + 1;
        assert_eq!(r.header("Content-Length"), Some(len.to_string().as_str()));
        assert_eq!(r.body(), &data[first..=last], "{range}");
        assert!(r.header("Etag").is_some());
    }

    for range in ["bytes=1000-", "bytes=1000-2000", "bytes=-0"] {
        let r = get_with(&mut c, "/static/numbers.bin", &[("Range", range)]);
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(r.header("Content-Range"), Some("bytes */1000"));
        assert!(r.body().is_empty());
    }

    // Several ranges, malformed headers, other units: ignored, the whole file with 200.
    for range in [
        "bytes=0-1,5-6",
        "bytes=5-1",
        "bytes=x-y",
        "bytes=",
        "items=0-1",
        "bytes 0-1",
    ] {
        let r = get_with(&mut c, "/static/numbers.bin", &[("Range", range)]);
        assert_eq!(r.status(), 200, "{range}");
        assert_eq!(r.body(), data, "{range}");
        assert_eq!(r.header("Content-Range"), None);
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    }
    // An empty file has no satisfiable range: 200 with the (empty) file.
    let r = get_with(&mut c, "/static/empty.txt", &[("Range", "bytes=-5")]);
    assert_eq!((r.status(), r.body().len()), (200, 0));
    assert_eq!(c.get("/static/hello.txt").status(), 200, "still serving");
}

#[test]
fn if_range_applies_the_range_only_to_the_current_version() {
    let (_base, _root, server) = start("ifrange");
    let mut c = TestClient::new(&server);
    let data = numbers();
    let etag = etag_of(&mut c, "/static/numbers.bin");
    let range = ("Range", "bytes=10-19");
    for (if_range, status) in [
        (etag.as_str(), 206),
        (MTIME_HTTP, 206),
        (r#""old""#, 200),
        (&*format!("W/{etag}"), 200),
        ("Sun, 13 Sep 2020 12:26:39 GMT", 200),
        ("Sun, 13 Sep 2020 12:26:41 GMT", 200),
        ("garbage", 200),
    ] {
        let r = get_with(
            &mut c,
            "/static/numbers.bin",
            &[range, ("If-Range", if_range)],
        );
        assert_eq!(r.status(), status, "If-Range: {if_range}");
        let want = if status == 206 {
            &data[10..20]
        } else {
            &data[..]
        };
        assert_eq!(r.body(), want, "If-Range: {if_range}");
    }
}

#[test]
fn traversal_is_refused_and_never_leaks() {
    let (_base, root, server) = start("traversal");
    let mut c = TestClient::new(&server);
    for path in [
        "/static/../Cargo.toml",
        "/static/../secret.txt",
        "/static/%2e%2e/x",
        "/static/%2E%2E/secret.txt",
        "/static/..%2fx",
        "/static/..%2Fsecret.txt",
        "/static/%2e%2e%2fx",
        "/static/sub/../../x",
        "/static/sub/%2e%2e/%2e%2e/secret.txt",
        "/static/./../x",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/%2F..%2Fx",
        "/static/hello.txt%00",
        "/static/hello.txt%00.png",
        "/static/outside-link",
        "/static/updir/secret.txt",
        "/site/../secret.txt",
        "/site/updir/",
    ] {
        let r = c.get(path);
        assert!(
            r.status() == 403 || r.status() == 404,
            "{path}: status {}",
            r.status()
        );
        assert!(!r.text().contains("SECRET"), "{path} leaked: {r:?}");
        assert!(!r.text().contains("root:"), "{path} leaked: {r:?}");
    }
    // The symbolic link out of the root is refused as such, the one inside is followed.
    assert_eq!(c.get("/static/outside-link").status(), 403);
    assert_eq!(c.get("/static/updir/secret.txt").status(), 403);
    assert_eq!(c.get("/static/inside-link").text(), "hello static\n");
    // A link that leaves the root and comes back in resolves inside: served.
    assert_eq!(
        c.get("/static/updir/root/hello.txt").text(),
        "hello static\n"
    );
    // Not a regular file: a FIFO is refused, without blocking the server in open().
    let fifo = root.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    assert_eq!(c.get("/static/fifo").status(), 403);
    // The server still serves, on this connection and on a fresh one.
    assert_eq!(c.get("/static/hello.txt").text(), "hello static\n");
    let mut fresh = TestClient::new(&server);
    assert_eq!(fresh.get("/static/hello.txt").text(), "hello static\n");
}

#[test]
fn directories() {
    let (_base, _root, server) = start("dirs");
    let mut c = TestClient::new(&server);
    // Without a default file a directory is 403, the root included.
    assert_eq!(c.get("/static/sub").status(), 403);
    assert_eq!(c.get("/static/sub/").status(), 403);
    assert_eq!(c.get("/static/").status(), 403);
    // A file with a trailing slash is not a directory.
    assert_eq!(c.get("/static/hello.txt/").status(), 404);
    assert_eq!(c.get("/site/hello.txt/").status(), 404);

    // With one: the index, after a 301 to the slashed URL (query kept).
    let r = c.get("/site/sub");
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("Location"), Some("/site/sub/"));
    let r = c.get("/site/sub?x=1");
    assert_eq!(r.header("Location"), Some("/site/sub/?x=1"));
    let r = c.get("/site/sub/");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "<h1>sub index</h1>");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=60"));
    assert_eq!(c.get("/site/sub/style.css").text(), "body{}");
    // A directory without the default file.
    assert_eq!(c.get("/site/noindex/").status(), 404);
    assert_eq!(c.get("/site/").status(), 404, "the root has no index.html");
}

#[derive(Clone, Default)]
struct Url;

#[handler]
impl Url {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let path = cx.argument("path")?;
        let url = cx.static_url(&path)?;
        cx.write(url);
        Ok(())
    }
}

fn md5_prefix(data: &[u8]) -> String {
    format!("{:x}", md5::compute(data))[..12].to_owned()
}

fn settings_app(root: PathBuf, prefix: Option<&str>) -> Application {
    Application::new(routes![(r"/url", Url)])
        .settings(Settings {
            static_path: Some(root),
            static_url_prefix: prefix.map(str::to_owned),
            ..Settings::default()
        })
        .unwrap()
}

#[test]
fn static_path_setting_and_versioned_urls() {
    let (_base, root, server) = {
        let (base, root) = fixture("version");
        let r = root.clone();
        let server = TestServer::start(move || settings_app(r, None));
        (base, root, server)
    };
    let mut c = TestClient::new(&server);
    let v = md5_prefix(b"hello static\n");
    const LONG: &str = "public, max-age=31536000, immutable";

    // A versioned URL the application has not hashed yet (rendered by another process, say)
    // is checked all the same.
    let r = c.get(&format!("/static/hello.txt?v={v}"));
    assert_eq!(r.text(), "hello static\n");
    assert_eq!(r.header("Cache-Control"), Some(LONG));

    // The route the setting added, and static_url.
    assert_eq!(c.get("/static/hello.txt").text(), "hello static\n");
    let url = c.get("/url?path=hello.txt").text();
    assert_eq!(url, format!("/static/hello.txt?v={v}"));
    let r = c.get(&url);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Cache-Control"), Some(LONG));
    // Also on the 304 of a revalidation.
    let etag = r.header("Etag").unwrap().to_owned();
    let r = get_with(&mut c, &url, &[("If-None-Match", &etag)]);
    assert_eq!((r.status(), r.header("Cache-Control")), (304, Some(LONG)));
    // A `v` that does not name this content, or none: ordinary caching (none here).
    let r = c.get("/static/hello.txt?v=0123456789ab");
    assert_eq!((r.status(), r.header("Cache-Control")), (200, None));
    assert_eq!(c.get("/static/hello.txt").header("Cache-Control"), None);

    // Names are escaped, and the URL routes back to the file.
    let url = c.get("/url?path=a%20b.txt").text();
    assert_eq!(
        url,
        format!("/static/a%20b.txt?v={}", md5_prefix(b"spaced"))
    );
    assert_eq!(c.get(&url).text(), "spaced");
    let url = c.get("/url?path=sub/./style.css").text();
    assert_eq!(
        url,
        format!("/static/sub/style.css?v={}", md5_prefix(b"body{}"))
    );
    // A missing file: no version (logged), as Tornado does.
    assert_eq!(c.get("/url?path=nope.css").text(), "/static/nope.css");
    // Outside the folder: refused.
    assert_eq!(c.get("/url?path=../secret.txt").status(), 500);
    assert_eq!(c.get("/url?path=/etc/passwd").status(), 500);

    // A changed file gets a new version without a restart; the old URL loses its long cache.
    write_file(&root.join("hello.txt"), b"hello again, static\n");
    set_mtime(
        &root.join("hello.txt"),
        UNIX_EPOCH + Duration::from_secs(MTIME_SECS + 100),
    );
    let v2 = md5_prefix(b"hello again, static\n");
    assert_eq!(
        c.get("/url?path=hello.txt").text(),
        format!("/static/hello.txt?v={v2}")
    );
    let r = c.get(&format!("/static/hello.txt?v={v}"));
    assert_eq!(r.header("Cache-Control"), None);
    let r = c.get(&format!("/static/hello.txt?v={v2}"));
    assert_eq!(r.header("Cache-Control"), Some(LONG));
}

#[test]
fn static_url_prefix_setting() {
    let (_base, root) = fixture("prefix");
    let r = root.clone();
    let server = TestServer::start(move || settings_app(r, Some("/assets/")));
    let mut c = TestClient::new(&server);
    let url = c.get("/url?path=hello.txt").text();
    assert_eq!(
        url,
        format!("/assets/hello.txt?v={}", md5_prefix(b"hello static\n"))
    );
    assert_eq!(c.get(&url).text(), "hello static\n");
    assert_eq!(c.get("/static/hello.txt").status(), 404);
    // A prefix that is not a path is a configuration error.
    let bad = Application::new(routes![(r"/url", Url)]).settings(Settings {
        static_path: Some(root),
        static_url_prefix: Some("assets/".into()),
        ..Settings::default()
    });
    assert!(bad.is_err());
    // Without static_path, static_url is an internal error.
    let plain = TestServer::start(|| Application::new(routes![(r"/url", Url)]));
    assert_eq!(TestClient::new(&plain).get("/url?path=a.css").status(), 500);
}

#[derive(Clone, Default)]
struct Declared;

#[handler]
impl Declared {
    async fn get(&mut self, cx: &mut Context, how: String) -> Result<()> {
        cx.set_content_length(8)?;
        cx.write("abcd");
        cx.flush_and_wait().await?;
        if how == "short" {
            return Ok(());
        }
        cx.write("efgh");
        Ok(())
    }
}

#[test]
fn declared_length_is_sent_instead_of_chunking() {
    let server = TestServer::start(|| Application::new(routes![(r"/declared/(\w+)", Declared)]));
    let mut c = TestClient::new(&server);
    let r = c.get("/declared/full");
    assert_eq!(r.text(), "abcdefgh");
    assert_eq!(r.header("Content-Length"), Some("8"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(
        r.header("Etag"),
        None,
        "no automatic ETag of a streamed body"
    );
    // Fewer bytes than declared: the connection is closed, not padded or left hanging.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /declared/short HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 8\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nabcd"), "{text}");
    assert_eq!(
        c.get("/declared/full").text(),
        "abcdefgh",
        "server carries on"
    );
}

/// The byte at `offset` of the generated big file: position-dependent, so a lost, repeated or
/// reordered piece shows.
fn word(k: u64) -> [u8; 8] {
    let mut z = k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()
}

fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn big_file_is_streamed_with_bounded_memory() {
    const SIZE: u64 = 64 << 20;
    const BOUND_KIB: u64 = 16 << 10;
    let base = TempDir::new("big");
    let root = base.0.join("root");
    fs::create_dir_all(&root).unwrap();
    {
        let mut w = BufWriter::with_capacity(64 << 10, File::create(root.join("big.bin")).unwrap());
        for k in 0..SIZE / 8 {
            w.write_all(&word(k)).unwrap();
        }
        w.flush().unwrap();
    }
    let r = root.clone();
    let server = TestServer::start(move || {
        Application::new(routes![(r"/static/(.*)", StaticFileHandler::new(r))])
    });
    let baseline = rss_kib();

    let s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    (&s).write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Give the server time to run ahead: without back-pressure it would now read the whole
    // file into its output buffer.
    std::thread::sleep(Duration::from_millis(500));
    let mut peak = rss_kib();

    let mut reader = BufReader::with_capacity(16 << 10, s);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 200 OK\r\n");
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = Some(v.trim().parse::<u64>().unwrap());
        }
        assert!(!line.starts_with("Transfer-Encoding"), "{line}");
    }
    assert_eq!(length, Some(SIZE));

    // Read slowly at first (the server must wait for us), then at full speed, checking every
    // byte against the generator without keeping the body.
    let mut offset = 0u64;
    let mut current = [0u8; 8];
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if offset & 7 == 0 {
                current = word(offset / 8);
            }
            assert_eq!(b, current[(offset & 7) as usize], "byte {offset}");
            offset += 1;
        }
        if offset < 4 << 20 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if offset % (1 << 20) < n as u64 {
            peak = peak.max(rss_kib());
        }
    }
    assert_eq!(offset, SIZE, "whole body, then the connection closed");
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < BOUND_KIB,
        "memory grew by {growth} KiB while streaming a {} KiB file",
        SIZE >> 10
    );
}
