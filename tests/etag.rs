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
