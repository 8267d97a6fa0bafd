//! XSRF protection over real sockets: form field and headers, every failure mode, opt-outs,
//! version-1 tokens, masking.

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

#[derive(Clone, Default)]
struct Form;

#[handler]
impl Form {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let html = cx.xsrf_form_html()?;
        cx.write(format!("<form method=post>{html}<input name=name></form>"));
        Ok(())
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx.argument("name")?;
        cx.write(format!("Hello, {}", squall::escape::xhtml_escape(&name)));
        Ok(())
    }
    fn delete(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("deleted");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Api;

#[handler]
impl Api {
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("api ok");
        Ok(())
    }
    fn put(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("put ok");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Open;

#[handler(xsrf_exempt)]
impl Open {
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("open");
        Ok(())
    }
}

/// A streamed upload: its body goes to `data_received`, never into arguments.
#[derive(Clone, Default)]
struct Streamed {
    bytes: usize,
}

#[handler(stream_request_body)]
impl Streamed {
    fn data_received(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len();
        Ok(())
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let note = cx.argument("note")?;
        cx.write(format!("{} bytes, {note}", self.bytes));
        Ok(())
    }
}

fn server() -> TestServer {
    TestServer::start(|| {
        Application::with_settings(
            routes![
                (r"/form", Form),
                (r"/api", Api),
                (r"/open", Open),
                (r"/streamed", Streamed)
            ],
            Settings {
                xsrf_cookies: true,
                cookie_secret: Some("test-secret".into()),
                ..Settings::default()
            },
        )
        .unwrap()
    })
}

fn token_in(html: &str) -> String {
    let start = html.find("value=\"").expect("no value in form") + 7;
    html[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn form_flow_with_field_and_headers() {
    let server = server();
    let mut c = TestClient::new(&server);
    let page = c.get("/form");
    let cookie_header = page.header("Set-Cookie").unwrap().to_owned();
    assert!(cookie_header.starts_with("_xsrf=2|"), "{cookie_header}");
    assert!(cookie_header.contains("Path=/") && cookie_header.contains("SameSite=Lax"));
    let token = token_in(&page.text());
    // Field.
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "<b>you</b>")])
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "Hello, &lt;b&gt;you&lt;/b&gt;");
    // Both headers.
    for h in ["X-XSRFToken", "X-CSRFToken"] {
        let r = c
            .request("POST", "/form")
            .header(h, &token)
            .form(&[("name", "h")])
            .send();
        assert_eq!(r.status(), 200, "{h}");
    }
    // The token from the query string counts as an argument too.
    let r = c
        .request(
            "DELETE",
            &format!("/form?_xsrf={}", squall::escape::url_escape(&token, true)),
        )
        .send();
    assert_eq!(r.text(), "deleted");
}

#[test]
fn streamed_multipart_body_takes_the_token_from_the_query() {
    // A streamed body is not in the request, so it has no arguments to parse: the query's
    // `_xsrf` (Tornado's way for streamed uploads) and other query arguments must still work.
    let server = server();
    let mut c = TestClient::new(&server);
    let token = token_in(&c.get("/form").text());
    let url = format!(
        "/streamed?note=hi&_xsrf={}",
        squall::escape::url_escape(&token, true)
    );
    let r = c
        .request("POST", &url)
        .multipart(&[("field", "v")], &[("f", "a.bin", b"0123456789")])
        .send();
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(r.text().ends_with(" bytes, hi"), "{}", r.text());
    // Without the token it is refused.
    let r = c
        .request("POST", "/streamed?note=hi")
        .multipart(&[("field", "v")], &[])
        .send();
    assert_eq!(r.status(), 403);
}

#[test]
fn tokens_are_masked_freshly_but_stay_valid() {
    let server = server();
    let mut c = TestClient::new(&server);
    let a = token_in(&c.get("/form").text());
    let b = token_in(&c.get("/form").text());
    assert_ne!(a, b, "each rendering must use a fresh mask");
    for t in [&a, &b] {
        let r = c
            .request("POST", "/form")
            .form(&[("_xsrf", t), ("name", "x")])
            .send();
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn every_failure_is_403() {
    let server = server();
    let mut c = TestClient::new(&server);
    let token = token_in(&c.get("/form").text());
    // Missing token.
    let r = c.request("POST", "/form").form(&[("name", "x")]).send();
    assert_eq!(r.status(), 403);
    // Wrong token (well-formed, different).
    let other = {
        let mut c2 = TestClient::new(&server);
        token_in(&c2.get("/form").text())
    };
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &other), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403, "token from another client's cookie");
    // Garbage token.
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", "2|zz|zz|1"), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403);
    // Missing cookie.
    let saved = c.cookie("_xsrf").unwrap().to_owned();
    c.remove_cookie("_xsrf");
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403);
    c.set_cookie("_xsrf", &saved);
    // PUT on a handler whose post alone is exempt is still checked.
    assert_eq!(c.request("PUT", "/api").body("x").send().status(), 403);
    // And the good token still works after all that.
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "x")])
        .send();
    assert_eq!(r.status(), 200);
}

#[test]
fn safe_methods_and_exemptions_are_not_checked() {
    let server = server();
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/form").status(), 200);
    assert_eq!(c.request("HEAD", "/form").send().status(), 200);
    assert_eq!(c.request("POST", "/api").body("{}").send().text(), "api ok");
    assert_eq!(c.request("POST", "/open").body("").send().text(), "open");
}

#[test]
fn version_1_tokens_are_accepted() {
    let server = server();
    let mut c = TestClient::new(&server);
    let raw = "0123456789abcdef0123456789abcdef";
    c.set_cookie("_xsrf", raw);
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", raw), ("name", "v1")])
        .send();
    assert_eq!(r.status(), 200);
    // A v2 rendering of the same raw token matches a v1 cookie too.
    let page = c.get("/form");
    assert!(
        page.header("Set-Cookie").is_none(),
        "valid v1 cookie is kept"
    );
    let token = token_in(&page.text());
    assert!(token.starts_with("2|"));
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "x")])
        .send();
    assert_eq!(r.status(), 200);
}

#[test]
fn xsrf_without_cookie_secret_is_a_startup_error() {
    let e = Application::with_settings(
        routes![(r"/form", Form)],
        Settings {
            xsrf_cookies: true,
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), squall::web::SetupErrorKind::Config);
    assert!(e.to_string().contains("cookie_secret"));
}
