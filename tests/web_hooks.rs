//! Application-wide hooks and users, from outside: `Hooks::current_user` with
//! `cx.current_user()`, `#[authenticated]` with `Settings::login_url`, the `before` and
//! `after` hooks around every handler (routed or not), and the application's `write_error`
//! answering JSON under `/api/` and HTML elsewhere.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use squall::prelude::*;
use squall::testing::{TestClient, TestResponse, TestServer};
use squall::web::{Hooks, SetupErrorKind as ErrorKind};

/// Shows who is asking (sync method).
#[derive(Clone, Default)]
struct WhoAmI;

#[handler]
impl WhoAmI {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let text = match cx.current_user::<String>() {
            Some(u) => format!("user {u}"),
            None => "anonymous".to_owned(),
        };
        cx.write(text);
        Ok(())
    }
}

/// `#[authenticated]` on get (sync) and post (async); put is open.
#[derive(Clone, Default)]
struct Private;

#[handler(xsrf_exempt)]
impl Private {
    #[authenticated]
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx.current_user::<String>().cloned().unwrap_or_default();
        cx.write(format!("secret for {name}"));
        Ok(())
    }
    #[authenticated]
    async fn post(&mut self, cx: &mut Context) -> Result<()> {
        squall::task::sleep(Duration::from_millis(1)).await;
        cx.write("posted");
        Ok(())
    }
    fn put(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("open");
        Ok(())
    }
}

/// Every method authenticated; the user comes from an async `prepare` (header `X-Async-User`).
#[derive(Clone, Default)]
struct AsyncUser;

#[handler(authenticated)]
impl AsyncUser {
    async fn prepare(&mut self, cx: &mut Context) -> Result<()> {
        squall::task::sleep(Duration::from_millis(1)).await;
        let user = cx.header("X-Async-User").map(str::to_owned);
        if user.is_some() {
            cx.set_current_user(user);
        }
        Ok(())
    }
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx.current_user::<String>().cloned().unwrap_or_default();
        cx.write(format!("async {name}"));
        Ok(())
    }
}

/// Fails in the ways an API can: `?fail=400` (with a client message), `?fail=panic`.
#[derive(Clone, Default)]
struct Api;

#[handler(xsrf_exempt)]
impl Api {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        match cx.argument_opt("fail")?.as_deref() {
            Some("400") => Err(HttpError::bad_request("field `x`: missing")),
            Some("panic") => panic!("api handler fails on purpose"),
            _ => cx.write_json(&serde_json::json!({"ok": true})),
        }
    }
}

/// A handler with its own error page: it wins over the application's.
#[derive(Clone, Default)]
struct OwnErrors;

#[handler]
impl OwnErrors {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        Err(HttpError::new(418))
    }
    fn write_error(&mut self, cx: &mut Context, status: u16, _e: &HttpError) -> Result<()> {
        cx.write(format!("own page {status}"));
        Ok(())
    }
}

/// A streamed response: the `after` hook runs at its first flush.
#[derive(Clone, Default)]
struct Streamed;

#[handler]
impl Streamed {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("one ");
        cx.flush_and_wait().await?;
        cx.write("two");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Redirect;

#[handler]
impl Redirect {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect("/whoami")
    }
}

/// Counts calls of the `before` hook and of the user loader (in response headers).
#[derive(Clone, Default)]
struct Counts;

#[handler]
impl Counts {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        // Three questions, one computation.
        let a = cx.is_authenticated();
        let b = cx.current_user::<String>().is_some();
        let c = cx.current_user::<u64>().is_some(); // the wrong type: None
        cx.write(format!("{a} {b} {c}"));
        Ok(())
    }
}

fn app_with(hooks: Hooks, login_url: Option<&str>) -> Application {
    Application::with_settings(
        routes![
            (r"/whoami", WhoAmI),
            (r"/private", Private),
            (r"/async", AsyncUser),
            (r"/api/thing", Api),
            (r"/own", OwnErrors),
            (r"/streamed", Streamed),
            (r"/redirect", Redirect),
            (r"/counts", Counts),
        ],
        Settings {
            xsrf_cookies: true,
            cookie_secret: Some("hooks test secret".into()),
            login_url: login_url.map(str::to_owned),
            hooks,
            ..Settings::default()
        },
    )
    .expect("a valid application")
}

/// The user is the `X-User` header; every hook counts in headers what it saw.
fn full_app() -> Application {
    let loads = Rc::new(Cell::new(0u32));
    let befores = Rc::new(Cell::new(0u32));
    let (l2, b2) = (loads.clone(), befores.clone());
    let hooks = Hooks::new()
        .current_user(move |cx| {
            l2.set(l2.get() + 1);
            cx.header("X-User").map(str::to_owned)
        })
        .before(move |cx| {
            b2.set(b2.get() + 1);
            // A CORS preflight, for any path: answered here, no handler runs.
            if cx.method() == Method::Options && cx.header("Origin").is_some() {
                cx.set_status(204);
                cx.set_header("Access-Control-Allow-Origin", "*")?;
                cx.set_header("Access-Control-Allow-Methods", "GET, POST")?;
                return cx.finish();
            }
            match cx.header("X-Before") {
                Some("429") => Err(HttpError::new(429).with_message("slow down")),
                Some("panic") => panic!("before hook fails on purpose"),
                _ => Ok(()),
            }
        })
        .after(move |cx| {
            if cx.header("X-After") == Some("panic") {
                panic!("after hook fails on purpose");
            }
            cx.set_header("X-Frame-Options", "DENY")?;
            cx.set_header("X-Befores", befores.get().to_string())?;
            cx.set_header("X-Loads", loads.get().to_string())
        })
        .write_error(|cx, status, error| {
            if cx.path().starts_with("/api/") {
                cx.write_json_error(status, error)
            } else {
                cx.write_html_error(status, error)
            }
        });
    app_with(hooks, Some("/login"))
}

fn text(r: &TestResponse) -> (u16, String) {
    (r.status(), r.text())
}

fn assert_fresh_connection_serves(server: &TestServer) {
    let r = TestClient::new(server).get("/whoami");
    assert_eq!(text(&r), (200, "anonymous".to_owned()));
}

#[test]
fn current_user_is_computed_once_and_seen_by_handlers() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    assert_eq!(text(&c.get("/whoami")), (200, "anonymous".into()));
    let r = c.request("GET", "/whoami").header("X-User", "ann").send();
    assert_eq!(text(&r), (200, "user ann".into()));

    // Three questions in one request, one call of the loader.
    let before: u32 = r.header("X-Loads").unwrap().parse().unwrap();
    let r = c.request("GET", "/counts").header("X-User", "bob").send();
    assert_eq!(text(&r), (200, "true true false".into()));
    let after: u32 = r.header("X-Loads").unwrap().parse().unwrap();
    assert_eq!(after, before + 1, "the loader ran once for the request");

    // A request that never asks costs no call.
    let r = c.request("GET", "/redirect").header("X-User", "bob").send();
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("X-Loads"), Some(after.to_string().as_str()));
}

#[test]
fn authenticated_redirects_anonymous_get_and_head_to_login_with_next() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    for method in ["GET", "HEAD"] {
        let r = c.request(method, "/private").send();
        assert_eq!(r.status(), 302, "{method}");
        assert_eq!(r.header("Location"), Some("/login?next=%2Fprivate"));
        assert!(r.body().is_empty());
    }
    // The query string comes along, encoded.
    let r = c.get("/private?a=1&b=x%20y");
    assert_eq!(
        r.header("Location"),
        Some("/login?next=%2Fprivate%3Fa%3D1%26b%3Dx%2520y")
    );
    // Logged in: the method runs.
    let r = c.request("GET", "/private").header("X-User", "ann").send();
    assert_eq!(text(&r), (200, "secret for ann".into()));
    let r = c.request("HEAD", "/private").header("X-User", "ann").send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Length"), Some("14"));
}

#[test]
fn authenticated_refuses_other_methods_with_403() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    let r = c.request("POST", "/private").body("x").send();
    assert_eq!(r.status(), 403);
    assert!(r.header("Location").is_none());
    let r = c
        .request("POST", "/private")
        .header("X-User", "ann")
        .body("x")
        .send();
    assert_eq!(text(&r), (200, "posted".into()));
    // Not every method is guarded.
    assert_eq!(
        text(&c.request("PUT", "/private").send()),
        (200, "open".into())
    );
    assert_fresh_connection_serves(&server);
}

#[test]
fn a_user_set_in_async_prepare_counts() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    let r = c.get("/async");
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/login?next=%2Fasync"));
    let r = c
        .request("GET", "/async")
        .header("X-Async-User", "zed")
        .send();
    assert_eq!(text(&r), (200, "async zed".into()));
}

#[test]
fn a_login_url_with_a_query_gets_next_appended() {
    let server = TestServer::start(|| {
        app_with(
            Hooks::new().current_user(|cx| cx.header("X-User").map(str::to_owned)),
            Some("https://login.example/auth?app=1"),
        )
    });
    let mut c = TestClient::new(&server);
    let r = c.get("/private");
    assert_eq!(r.status(), 302);
    // An absolute login URL is given the full URL to come back to.
    let host = server.addr().to_string();
    let expected = format!(
        "https://login.example/auth?app=1&next=http%3A%2F%2F{}%2Fprivate",
        host.replace(':', "%3A")
    );
    assert_eq!(r.header("Location"), Some(expected.as_str()));
}

#[test]
fn an_authenticated_get_without_login_url_is_refused_at_startup() {
    let err = Application::with_settings(
        routes![(r"/private", Private)],
        Settings {
            hooks: Hooks::new().current_user(|_| None::<String>),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("login_url"), "{err}");
    assert!(err.to_string().contains("/private"), "{err}");
}

#[test]
fn before_runs_for_every_request_and_may_answer_it() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    let n0: u32 = c
        .get("/whoami")
        .header("X-Befores")
        .unwrap()
        .parse()
        .unwrap();
    let n1: u32 = c
        .get("/nowhere")
        .header("X-Befores")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n1, n0 + 1, "before runs for unrouted paths too");

    // A CORS preflight on a routed path and on an unrouted one: answered by the hook.
    for path in ["/whoami", "/no/such/path"] {
        let r = c
            .request("OPTIONS", path)
            .header("Origin", "http://127.0.0.1:1")
            .send();
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(r.header("Access-Control-Allow-Methods"), Some("GET, POST"));
        assert_eq!(r.header("X-Frame-Options"), Some("DENY"), "after runs too");
    }
    // Without Origin, OPTIONS is the handler's default answer.
    let r = c.request("OPTIONS", "/whoami").send();
    assert_eq!(r.status(), 204);
    assert!(r.header("Access-Control-Allow-Origin").is_none());
    assert!(r.header("Allow").is_some());

    // An error from the hook is answered like a handler's (a JSON one under /api/).
    let r = c.request("GET", "/whoami").header("X-Before", "429").send();
    assert_eq!(r.status(), 429);
    assert!(r.text().contains("slow down"), "{}", r.text());
    let r = c
        .request("GET", "/api/thing")
        .header("X-Before", "429")
        .send();
    assert_eq!(
        text(&r),
        (429, r#"{"status":429,"message":"slow down"}"#.into())
    );
    // A panic in the hook is a 500; the server carries on.
    let r = c
        .request("GET", "/whoami")
        .header("X-Before", "panic")
        .send();
    assert_eq!(r.status(), 500);
    assert!(!r.text().contains("on purpose"));
    assert_eq!(text(&c.get("/whoami")), (200, "anonymous".into()));
    assert_fresh_connection_serves(&server);
}

#[test]
fn after_sets_headers_on_every_kind_of_response() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    let cases: [(&str, &str, u16); 7] = [
        ("GET", "/whoami", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/whoami", 405),
        ("GET", "/api/thing?fail=panic", 500),
        ("GET", "/redirect", 302),
        ("GET", "/private", 302),
        ("GET", "/streamed", 200),
    ];
    for (method, path, status) in cases {
        let r = c.request(method, path).send();
        assert_eq!(r.status(), status, "{method} {path}");
        assert_eq!(r.header("X-Frame-Options"), Some("DENY"), "{method} {path}");
        assert_eq!(r.header_all("X-Frame-Options").len(), 1, "{method} {path}");
    }
    let r = c.get("/streamed");
    assert_eq!(r.text(), "one two");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));

    // A panicking after hook is logged; the response goes out as it was.
    let r = c
        .request("GET", "/whoami")
        .header("X-After", "panic")
        .send();
    assert_eq!(text(&r), (200, "anonymous".into()));
    assert!(r.header("X-Frame-Options").is_none());
    assert_fresh_connection_serves(&server);
}

#[test]
fn errors_under_api_are_json_and_html_elsewhere() {
    let server = TestServer::start(full_app);
    let mut c = TestClient::new(&server);
    let json = |r: &TestResponse| {
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        r.text()
    };
    let r = c.get("/api/nothing");
    assert_eq!(r.status(), 404);
    assert_eq!(json(&r), r#"{"status":404,"message":"Not Found"}"#);
    let r = c.request("DELETE", "/api/thing").send();
    assert_eq!(r.status(), 405);
    assert_eq!(json(&r), r#"{"status":405,"message":"Method Not Allowed"}"#);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    let r = c.get("/api/thing?fail=400");
    assert_eq!(r.status(), 400);
    assert_eq!(json(&r), r#"{"status":400,"message":"field `x`: missing"}"#);
    let r = c.get("/api/thing?fail=panic");
    assert_eq!(r.status(), 500);
    assert_eq!(
        json(&r),
        r#"{"status":500,"message":"Internal Server Error"}"#
    );
    assert_eq!(text(&c.get("/api/thing")), (200, r#"{"ok":true}"#.into()));

    // Elsewhere: HTML pages.
    for (path, status) in [("/nowhere", 404), ("/private", 403)] {
        let r = c.request("POST", path).body("x").send();
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
        assert!(r.text().starts_with("<html>"), "{}", r.text());
    }
    // A handler's own write_error wins.
    assert_eq!(text(&c.get("/own")), (418, "own page 418".into()));
    assert_fresh_connection_serves(&server);
}

#[test]
fn without_hooks_errors_keep_the_default_page() {
    let server = TestServer::start(|| app_with(Hooks::new(), Some("/login")));
    let mut c = TestClient::new(&server);
    let r = c.get("/api/nothing");
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text(),
        "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
    );
    // No loader: everyone is anonymous, and #[authenticated] redirects.
    let r = c.request("GET", "/private").header("X-User", "ann").send();
    assert_eq!(r.status(), 302);
    assert_eq!(text(&c.get("/whoami")), (200, "anonymous".into()));
}
