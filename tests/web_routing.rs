//! The Application over real sockets: routing order, literal and regex routes, path argument
//! conversion, 405 + Allow, HEAD fallback, OPTIONS, reverse_url, redirects, errors.

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

#[derive(Clone, Default)]
struct Main;

#[handler]
impl Main {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("main");
        Ok(())
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("posted");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        cx.write(format!("user {id}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Pair;

#[handler]
impl Pair {
    fn get(&mut self, cx: &mut Context, a: String, b: i32) -> Result<()> {
        cx.write(format!("{a}|{b}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Opt;

#[handler]
impl Opt {
    fn get(&mut self, cx: &mut Context, page: Option<u32>) -> Result<()> {
        cx.write(format!("{page:?}"));
        Ok(())
    }
}

#[derive(Clone)]
struct Tagged {
    tag: &'static str,
}

#[handler]
impl Tagged {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write(self.tag);
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Headish;

#[handler]
impl Headish {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("X-From", "get")?;
        cx.write("body of get");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct WithOptions;

#[handler]
impl WithOptions {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
    fn options(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("X-Custom-Options", "1")?;
        cx.set_status(200);
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Reverse;

#[handler]
impl Reverse {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let u = cx.reverse_url("user", &[&42])?;
        let p = cx.reverse_url("pair", &[&"a b/c", &7])?;
        cx.write(format!("{u} {p}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Redirect;

#[handler]
impl Redirect {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect("/")
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect_permanent("/moved")
    }
    fn put(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect_with_status("/seen", 303)
    }
    fn delete(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect_with_status("/nowhere", 200)
    }
}

#[derive(Clone, Default)]
struct Fails;

#[handler]
impl Fails {
    fn get(&mut self, cx: &mut Context, how: String) -> Result<()> {
        match how.as_str() {
            "panic" => panic!("handler panic (expected by this test)"),
            "error" => Err(HttpError::new(503).log("backend down")),
            "teapot" => Err(HttpError::new(418).with_reason("I'm a teapot")),
            "parse" => {
                let n: u32 = "x".parse()?;
                cx.write(n.to_string());
                Ok(())
            }
            "header" => cx.set_header("X-Bad", "a\r\nInjected: yes"),
            "chain" => {
                // A cause with a cause of its own: both stay in the chain, not flattened.
                let inner = std::io::Error::other("disk full");
                let outer = std::io::Error::new(std::io::ErrorKind::StorageFull, inner);
                Err(HttpError::new(507).log("saving").with_source(outer))
            }
            _ => Ok(()),
        }
    }
}

fn app() -> Application {
    Application::new(routes![
        (r"/", Main),
        (r"/user/(\d+)", User, name = "user"),
        (r"/pair/([^/]+)/(-?\d+)", Pair, name = "pair"),
        (r"/opt(?:/(\d+))?", Opt),
        // Order: the regex route comes first and wins over the later literal route.
        (r"/order/.*", Tagged { tag: "regex-first" }),
        (
            r"/order/literal",
            Tagged {
                tag: "literal-second"
            }
        ),
        (r"/lit/exact", Tagged { tag: "literal" }),
        (
            r"/lit/.*",
            Tagged {
                tag: "after-literal"
            }
        ),
        (r"/head", Headish),
        (r"/options", WithOptions),
        (r"/reverse", Reverse),
        (r"/redirect", Redirect),
        (r"/fail/(\w+)", Fails),
        (r"/dot\.txt", Tagged { tag: "escaped dot" }),
    ])
}

#[test]
fn literal_and_regex_routes_with_arguments() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/").text(), "main");
    assert_eq!(c.get("/user/42").text(), "user 42");
    assert_eq!(c.get("/pair/hello%20world/-5").text(), "hello world|-5");
    assert_eq!(c.get("/opt").text(), "None");
    assert_eq!(c.get("/opt/3").text(), "Some(3)");
    assert_eq!(c.get("/dot.txt").text(), "escaped dot");
    // Anchored: no prefix or suffix matches.
    assert_eq!(c.get("/user/42/x").status(), 404);
    assert_eq!(c.get("/dotXtxt").status(), 404);
    assert_eq!(c.get("/x/").status(), 404);
}

#[test]
fn failed_conversion_is_404_not_a_panic() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    // Matches the regex but overflows u64.
    assert_eq!(c.get("/user/99999999999999999999999").status(), 404);
    assert_eq!(c.get("/user/abc").status(), 404);
    // Invalid UTF-8 after decoding.
    assert_eq!(c.get("/pair/%ff/1").status(), 404);
    assert_eq!(c.get("/").status(), 200, "server still serves");
}

#[test]
fn first_match_wins_in_table_order() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/order/literal").text(), "regex-first");
    assert_eq!(c.get("/lit/exact").text(), "literal");
    assert_eq!(c.get("/lit/other").text(), "after-literal");
}

#[test]
fn unknown_method_is_405_with_allow() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.request("DELETE", "/").send();
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("Allow"), Some("GET, POST, HEAD, OPTIONS"));
    let r = c.request("PUT", "/user/1").body("x").send();
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn head_falls_back_to_get_without_body() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let g = c.get("/head");
    let h = c.request("HEAD", "/head").send();
    assert_eq!(h.status(), 200);
    assert_eq!(h.header("X-From"), Some("get"));
    assert_eq!(h.header("Content-Length"), g.header("Content-Length"));
    assert_eq!(h.header("Etag"), g.header("Etag"));
    assert!(h.body().is_empty());
    // The connection is still in sync (no stray body bytes).
    assert_eq!(c.get("/").text(), "main");
}

#[test]
fn options_answers_allow_by_default() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.request("OPTIONS", "/user/1").send();
    assert_eq!(r.status(), 204);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    let r = c.request("OPTIONS", "/options").send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("X-Custom-Options"), Some("1"));
}

#[test]
fn reverse_url_fills_and_escapes_groups() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/reverse").text(), "/user/42 /pair/a%20b%2Fc/7");
    let app = app();
    assert_eq!(app.reverse_url("user", &[&7]).unwrap(), "/user/7");
    assert!(app.reverse_url("user", &[]).is_err());
    assert!(app.reverse_url("nope", &[]).is_err());
}

#[test]
fn redirects() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.get("/redirect");
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/"));
    let r = c.post("/redirect", "");
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("Location"), Some("/moved"));
    let r = c.request("PUT", "/redirect").send();
    assert_eq!(r.status(), 303);
    assert_eq!(r.header("Location"), Some("/seen"));
    // A status that is not 3xx is the handler's bug: 500, and no Location leaks out.
    let r = c.request("DELETE", "/redirect").send();
    assert_eq!(r.status(), 500);
    assert_eq!(r.header("Location"), None);
}

#[test]
fn errors_become_status_pages_and_the_server_carries_on() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.get("/fail/panic");
    assert_eq!(r.status(), 500);
    assert!(
        r.text().contains("500: Internal Server Error"),
        "{}",
        r.text()
    );
    assert!(
        !r.text().contains("handler panic"),
        "no internal detail without debug"
    );
    assert_eq!(c.get("/").text(), "main");
    let r = c.get("/fail/error");
    assert_eq!(r.status(), 503);
    assert!(!r.text().contains("backend down"));
    let r = c.get("/fail/teapot");
    assert_eq!((r.status(), r.reason()), (418, "I'm a teapot"));
    assert_eq!(c.get("/fail/parse").status(), 400);
    let r = c.get("/fail/header");
    assert_eq!(r.status(), 500);
    assert!(
        r.header("Injected").is_none(),
        "CR/LF in a header must not split the response"
    );
    assert_eq!(c.get("/").text(), "main");
}

#[test]
fn debug_mode_shows_error_detail() {
    let server = TestServer::start(|| {
        Application::with_settings(
            routes![(r"/fail/(\w+)", Fails)],
            Settings {
                debug: true,
                ..Settings::default()
            },
        )
        .unwrap()
    });
    let mut c = TestClient::new(&server);
    let r = c.get("/fail/error");
    assert_eq!(r.status(), 503);
    assert!(r.text().contains("backend down"), "{}", r.text());
    // The log message, then each cause of the source chain.
    let r = c.get("/fail/chain");
    assert_eq!(r.status(), 507);
    assert!(
        r.text().contains("<pre>saving: disk full</pre>"),
        "{}",
        r.text()
    );
}

#[test]
fn error_causes_reach_the_client_only_in_debug_mode() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.get("/fail/chain");
    assert_eq!(r.status(), 507);
    assert!(!r.text().contains("disk full"), "{}", r.text());
    assert!(!r.text().contains("saving"), "{}", r.text());
}

#[test]
fn unmatched_is_404_or_the_default_handler() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.get("/nowhere");
    assert_eq!(r.status(), 404);
    assert!(r.text().contains("404: Not Found"));

    #[derive(Clone, Default)]
    struct NotFound;
    #[handler]
    impl NotFound {
        fn get(&mut self, cx: &mut Context) -> Result<()> {
            cx.set_status(404);
            cx.write("custom not found");
            Ok(())
        }
    }
    let server = TestServer::start(|| {
        Application::with_settings(
            routes![(r"/", Main)],
            Settings {
                default_handler: Some(squall::web::DefaultHandler::new(NotFound)),
                ..Settings::default()
            },
        )
        .unwrap()
    });
    let mut c = TestClient::new(&server);
    let r = c.get("/nowhere");
    assert_eq!((r.status(), r.text().as_str()), (404, "custom not found"));
}

#[test]
fn many_regex_routes_use_the_first_match() {
    // More regex routes than the linear limit: the RegexSet path must keep table order.
    let server = TestServer::start(|| {
        Application::new(routes![
            (r"/a/(\d+)", User),
            (r"/b/(\d+)", User),
            (r"/c/(\d+)", User),
            (r"/d/(\d+)", User),
            (r"/e/(\d+)", User),
            (r"/[a-z]/.*", Tagged { tag: "catch-all" }),
            (r"/f/(\d+)", User),
            (
                r"/g/exact",
                Tagged {
                    tag: "never: catch-all is earlier"
                }
            ),
        ])
    });
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/c/3").text(), "user 3");
    assert_eq!(c.get("/e/5").text(), "user 5");
    assert_eq!(c.get("/f/6").text(), "catch-all");
    assert_eq!(c.get("/g/exact").text(), "catch-all");
    assert_eq!(c.get("/zz").status(), 404);
}

#[derive(Clone, Default)]
struct Where;

#[handler]
impl Where {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let r = cx.request();
        let line = format!(
            "path={} query={} uri={} host={} url={}",
            r.path(),
            r.query(),
            r.uri(),
            r.host(),
            r.full_url()
        );
        cx.write(line);
        Ok(())
    }
}

/// One raw request to `server`, its response's status and body.
fn raw_exchange(server: &TestServer, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    // Every request here says `Connection: close`: read to the end.
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn absolute_form_targets_route_by_their_path_and_name_the_host() {
    // RFC 9112 §3.2.2: a server must accept the absolute-form, and its authority replaces Host.
    let server = TestServer::start(|| Application::new(routes![(r"/", Where), (r"/where", Where)]));
    let get = |target: &str| {
        raw_exchange(
            &server,
            &format!("GET {target} HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n"),
        )
    };
    assert_eq!(
        get("http://example.test:8080/where?x=1"),
        (
            200,
            "path=/where query=x=1 uri=/where?x=1 host=example.test:8080 \
             url=http://example.test:8080/where?x=1"
                .to_owned()
        )
    );
    assert_eq!(
        get("HTTP://example.test?y=2"),
        (
            200,
            "path=/ query=y=2 uri=/?y=2 host=example.test url=http://example.test/?y=2".to_owned()
        )
    );
    // The origin-form is unchanged: Host names the host.
    assert_eq!(
        get("/where"),
        (
            200,
            "path=/where query= uri=/where host=other.test url=http://other.test/where".to_owned()
        )
    );
    // An http URI without a host, or with userinfo, is a bad request.
    assert_eq!(get("http:///where").0, 400);
    assert_eq!(get("http://user@example.test/where").0, 400);
}

#[test]
fn the_asterisk_target_is_for_options_only() {
    // RFC 9112 §3.2.4: `*` names the server, not a resource, and only OPTIONS may use it.
    let server = TestServer::start(|| Application::new(routes![(r"/", Where)]));
    let exchange = |method: &str| {
        raw_exchange(
            &server,
            &format!("{method} * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
        )
    };
    assert_eq!(exchange("OPTIONS"), (204, String::new()));
    assert_eq!(exchange("GET").0, 400);
    assert_eq!(exchange("POST").0, 400);
    // Any other unrouted target is still 404.
    let (status, _) = raw_exchange(
        &server,
        "OPTIONS /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404);
}
