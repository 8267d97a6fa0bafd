//! Black-box checks of the static_server example (`examples/static_server.rs`): files from
//! `--dir`, `index.html` for directories, redirects to the trailing slash, 304s, ranges, and
//! nothing outside the folder.

use squall::testing::TestClient;
use squall_tests::{roundtrip, ExampleServer, ScratchDir};

#[test]
fn serves_a_folder_with_index_pages() {
    let scratch = ScratchDir::new("static-server");
    let site = scratch.path().join("site");
    std::fs::create_dir_all(site.join("docs")).unwrap();
    std::fs::create_dir_all(site.join("empty")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(site.join("docs/index.html"), "<h1>docs</h1>\n").unwrap();
    std::fs::write(site.join("docs/notes.txt"), "0123456789").unwrap();
    std::fs::write(scratch.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    let server = ExampleServer::builder("static_server")
        .arg("--dir")
        .arg(site.display().to_string())
        .arg("--max-age")
        .arg("60")
        .start();
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);

    let r = c.get("/");
    assert_eq!((r.status(), r.text().as_str()), (200, "<h1>home</h1>\n"));
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=60"));
    assert_eq!(c.get("/index.html").text(), "<h1>home</h1>\n");

    let r = c.get("/docs");
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("Location"), Some("/docs/"));
    assert_eq!(c.get("/docs/").text(), "<h1>docs</h1>\n");
    assert_eq!(
        c.get("/empty/").status(),
        404,
        "no index.html, and no listings"
    );

    let r = c.get("/docs/notes.txt");
    assert_eq!(r.text(), "0123456789");
    let etag = r.header("Etag").unwrap().to_owned();
    let r = c
        .request("GET", "/docs/notes.txt")
        .header("If-None-Match", &etag)
        .send();
    assert_eq!(r.status(), 304);
    let r = c
        .request("GET", "/docs/notes.txt")
        .header("Range", "bytes=2-4")
        .send();
    assert_eq!((r.status(), r.text().as_str()), (206, "234"));
    assert_eq!(c.get("/missing.txt").status(), 404);

    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/docs/%2e%2e%2f%2e%2e%2fsecret.txt",
    ] {
        let (_, r) = roundtrip(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(matches!(r.status, 403 | 404), "{path}: {r:?}");
        assert!(!String::from_utf8_lossy(&r.body).contains("TOP SECRET"));
    }
    assert_eq!(c.get("/").status(), 200);
}

#[test]
fn a_missing_folder_is_a_start_up_error() {
    let scratch = ScratchDir::new("static-server-missing");
    let bin = squall_tests::example_binary("static_server");
    let out = std::process::Command::new(bin)
        .args(["--port", "0", "--dir"])
        .arg(scratch.path().join("nope"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
