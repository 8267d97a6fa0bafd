//! Automatic ETags and conditional GETs: exact, weak, lists, `*`, handler-set tags, opt-out,
//! and which headers a 304 keeps.

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

#[derive(Clone, Default)]
struct Body;

#[handler]
impl Body {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("Cache-Control", "max-age=60")?;
        cx.set_header("Vary", "Accept")?;
        cx.write("etag body\n");
        Ok(())
    }
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("etag body\n");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Own;

#[handler]
impl Own {
    fn get(&mut self, cx: &mut Context, which: String) -> Result<()> {
        match which.as_str() {
            "own" => cx.set_header("Etag", "\"v7\"")?,
            "off" => cx.set_etag_enabled(false),
            _ => cx.set_status(201),
        }
        cx.write("x");
        Ok(())
    }
}

fn server() -> TestServer {
    TestServer::start(|| Application::new(routes![(r"/etag", Body), (r"/own/(\w+)", Own)]))
}

#[test]
fn computed_etag_and_304_variants() {
    let server = server();
    let mut c = TestClient::new(&server);
    let r = c.get("/etag");
    let etag = r.header("Etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{:x}\"", md5::compute(b"etag body\n")));
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag} , \"other\"");
    for inm in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let r = c
            .request("GET", "/etag")
            .header("If-None-Match", inm)
            .send();
        assert_eq!(r.status(), 304, "If-None-Match: {inm}");
        assert!(r.body().is_empty());
        assert_eq!(r.header("Etag"), Some(etag.as_str()));
        assert_eq!(r.header("Cache-Control"), Some("max-age=60"));
        assert_eq!(r.header("Vary"), Some("Accept"));
        assert!(r.header("Date").is_some());
        assert!(r.header("Content-Type").is_none());
    }
    for inm in ["\"nope\"", "W/\"nope\", \"x\"", "garbage"] {
        let r = c
            .request("GET", "/etag")
            .header("If-None-Match", inm)
            .send();
        assert_eq!(r.status(), 200, "If-None-Match: {inm}");
        assert_eq!(r.text(), "etag body\n");
    }
    // HEAD gets the same ETag and conditional behaviour.
    let r = c
        .request("HEAD", "/etag")
        .header("If-None-Match", &etag)
        .send();
    assert_eq!(r.status(), 304);
    // POST responses get no automatic ETag.
    let r = c.post("/etag", "");
    assert!(r.header("Etag").is_none());
}

#[test]
fn handler_etag_opt_out_and_non_200() {
    let server = server();
    let mut c = TestClient::new(&server);
    let r = c.get("/own/own");
    assert_eq!(r.header("Etag"), Some("\"v7\""));
    let r = c
        .request("GET", "/own/own")
        .header("If-None-Match", "\"v7\"")
        .send();
    assert_eq!(r.status(), 304);
    let r = c.get("/own/off");
    assert!(r.header("Etag").is_none());
    let r = c.get("/own/created");
    assert_eq!(r.status(), 201);
    assert!(r.header("Etag").is_none());
}

#[derive(Clone, Default)]
struct Document;

#[handler(xsrf_exempt)]
impl Document {
    fn put(&mut self, cx: &mut Context, which: String) -> Result<()> {
        let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        match which.as_str() {
            "exists" => cx.check_preconditions(Some("\"v3\""), Some(modified))?,
            _ => cx.check_preconditions(None, None)?,
        }
        cx.write("saved");
        Ok(())
    }
}

#[test]
fn if_match_and_if_unmodified_since_give_412() {
    let server = TestServer::start(|| Application::new(routes![(r"/doc/(\w+)", Document)]));
    let mut c = TestClient::new(&server);
    let put = |c: &mut TestClient, path: &str, h: &[(&str, &str)]| {
        let mut r = c.request("PUT", path).body("x");
        for (n, v) in h {
            r = r.header(n, v);
        }
        r.send().status()
    };
    // No precondition: proceed.
    assert_eq!(put(&mut c, "/doc/exists", &[]), 200);
    // If-Match: strong comparison, lists, `*`.
    assert_eq!(put(&mut c, "/doc/exists", &[("If-Match", "\"v3\"")]), 200);
    assert_eq!(
        put(&mut c, "/doc/exists", &[("If-Match", "\"v1\", \"v3\"")]),
        200
    );
    assert_eq!(put(&mut c, "/doc/exists", &[("If-Match", "*")]), 200);
    assert_eq!(put(&mut c, "/doc/exists", &[("If-Match", "\"v2\"")]), 412);
    assert_eq!(
        put(&mut c, "/doc/exists", &[("If-Match", "W/\"v3\"")]),
        412,
        "weak never matches"
    );
    assert_eq!(
        put(&mut c, "/doc/missing", &[("If-Match", "*")]),
        412,
        "no representation"
    );
    // If-Unmodified-Since, only without If-Match.
    let before = "Tue, 14 Nov 2023 22:13:19 GMT"; // 1699999999
    let at = "Tue, 14 Nov 2023 22:13:20 GMT"; // 1700000000
    assert_eq!(
        put(&mut c, "/doc/exists", &[("If-Unmodified-Since", at)]),
        200
    );
    assert_eq!(
        put(&mut c, "/doc/exists", &[("If-Unmodified-Since", before)]),
        412
    );
    assert_eq!(
        put(
            &mut c,
            "/doc/exists",
            &[("If-Match", "\"v3\""), ("If-Unmodified-Since", before)]
        ),
        200,
        "If-Match takes precedence"
    );
}
