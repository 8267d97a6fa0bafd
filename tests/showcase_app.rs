//! Black-box checks of the showcase's application routes (`showcase-contract.md`, "Additions"):
//! `/page` (a template), `/login`, `/private` (`#[authenticated]`), `/api/typed` (typed input)
//! and JSON errors under `/api/`. The real binary runs as a child process on a free port.

use squall::testing::{TestClient, TestResponse};
use squall_tests::showcase_support::{assert_fresh_connection_serves, hidden, showcase, HTML};

/// A JSON error's status and message, checking its form.
fn json_error(r: &TestResponse) -> (u16, String) {
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    let v = r.json();
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{v}");
    assert_eq!(v["status"].as_u64(), Some(u64::from(r.status())), "{v}");
    (
        r.status(),
        v["message"].as_str().expect("a message").to_owned(),
    )
}

#[test]
fn page_renders_a_template_with_escaping_xsrf_and_static_url() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/page?name=%3Cb%3ETom%20%26%20Jerry%3C%2Fb%3E");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Type"), Some(HTML));
    let page = r.text();
    assert!(
        page.contains("Hello, &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>Tom"), "unescaped name in {page}");
    let token = hidden(&page, "_xsrf");
    assert!(token.starts_with("2|"), "{token}");
    let static_url = regex::Regex::new(r#"href="(/static/hello\.txt\?v=[0-9a-f]{12})""#)
        .unwrap()
        .captures(&page)
        .unwrap_or_else(|| panic!("no versioned static URL in {page}"))[1]
        .to_owned();
    assert!(page.contains(r#"href="/user/42""#), "{page}");
    // The versioned URL serves the file, and the token posts the page's form.
    let r = c.get(&static_url);
    assert_eq!((r.status(), r.text().as_str()), (200, "hello static\n"));
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "page")])
        .send();
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, page"));
    // /form is a template too.
    let r = c.get("/form");
    assert_eq!(r.status(), 200);
    assert!(hidden(&r.text(), "_xsrf").starts_with("2|"));
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn login_sets_the_user_and_goes_only_to_local_next() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/login?next=%2Fprivate");
    assert_eq!(r.status(), 200);
    let page = r.text();
    assert!(page.contains(r#"name="name""#), "{page}");
    assert_eq!(hidden(&page, "next"), "/private");
    let token = hidden(&page, "_xsrf");

    // Without the token: 403, no cookie.
    let r = c.request("POST", "/login").form(&[("name", "ann")]).send();
    assert_eq!(r.status(), 403);
    assert!(c.cookie("user").is_none());

    let login = |c: &mut TestClient, next: Option<&str>| {
        let mut fields = vec![("_xsrf", token.as_str()), ("name", "<ann>")];
        if let Some(n) = next {
            fields.push(("next", n));
        }
        c.request("POST", "/login").form(&fields).send()
    };
    let r = login(&mut c, Some("/private"));
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/private"));
    let cookie = r
        .header_all("Set-Cookie")
        .into_iter()
        .find(|v| v.starts_with("user="))
        .expect("a signed user cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // Logged in: /private greets, escaped; /cookie/get reads the same signed cookie.
    let r = c.get("/private");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, &lt;ann&gt;"));
    assert_eq!(c.get("/cookie/get").text(), "<ann>");

    // `next` elsewhere is refused: the redirect goes to /.
    for next in [
        "//evil.example/x",
        "http://evil.example/",
        "evil",
        "/\\evil.example",
        "",
    ] {
        let r = login(&mut c, Some(next));
        assert_eq!(r.status(), 302, "{next:?}");
        assert_eq!(r.header("Location"), Some("/"), "{next:?}");
    }
    assert_eq!(login(&mut c, None).header("Location"), Some("/"));
    // The login page does not carry a foreign next either.
    assert_eq!(
        hidden(&c.get("/login?next=//evil.example").text(), "next"),
        "/"
    );
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn private_needs_a_user() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/private");
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/login?next=%2Fprivate"));
    let r = c.request("HEAD", "/private").send();
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/login?next=%2Fprivate"));
    // POST is XSRF-exempt: the 403 comes from authentication.
    let r = c.request("POST", "/private").body("").send();
    assert_eq!(r.status(), 403);
    assert_eq!(r.header("Content-Type"), Some(HTML));
    // A forged cookie is no user.
    c.set_cookie("user", "2|1:0|10:1700000000|4:user|4:YW5u|deadbeef");
    assert_eq!(c.get("/private").status(), 302);
    // A valid one (set through /cookie/set) is.
    c.remove_cookie("user");
    c.get("/cookie/set?v=bob");
    let r = c.get("/private");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, bob"));
    let r = c.request("POST", "/private").body("").send();
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, bob"));
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn api_typed_reads_json_and_query_and_names_bad_fields() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let post = |c: &mut TestClient, body: &str| {
        c.request("POST", "/api/typed")
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let r = post(&mut c, r#"{"name": "ann", "count": 21}"#);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"name":"ann","count":21,"double":42}"#);
    let r = post(&mut c, r#"{"name": "big", "count": 18446744073709551615}"#);
    assert_eq!(
        r.text(),
        r#"{"name":"big","count":18446744073709551615,"double":36893488147419103230}"#
    );
    let r = c.get("/api/typed?name=q&count=3");
    assert_eq!(
        (r.status(), r.text().as_str()),
        (200, r#"{"name":"q","count":3,"double":6}"#)
    );

    let cases: [(&str, &str); 5] = [
        (r#"{"name": "ann""#, "invalid JSON body: EOF"),
        (
            r#"{"name": "ann"}"#,
            "invalid JSON body: missing field `count`",
        ),
        (
            r#"{"name": "ann", "count": -1}"#,
            "field `count`: invalid value: integer `-1`",
        ),
        (
            r#"{"name": "ann", "count": "3"}"#,
            "field `count`: invalid type: string \"3\"",
        ),
        (
            r#"{"name": 5, "count": 3}"#,
            "field `name`: invalid type: integer `5`",
        ),
    ];
    for (body, message) in cases {
        let r = post(&mut c, body);
        let (status, m) = json_error(&r);
        assert_eq!(status, 400, "{body}");
        assert!(m.starts_with(message), "{body}: {m}");
    }
    let (status, m) = json_error(&c.get("/api/typed?name=q"));
    assert_eq!((status, m.as_str()), (400, "missing field `count`"));
    let (status, m) = json_error(&c.get("/api/typed?name=q&count=x"));
    assert_eq!(status, 400);
    assert!(
        m.starts_with("field `count`: \"x\" is not an unsigned integer"),
        "{m}"
    );
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn errors_under_api_are_json_elsewhere_html() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let (s, m) = json_error(&c.get("/api/nothing/here"));
    assert_eq!((s, m.as_str()), (404, "Not Found"));
    let (s, m) = json_error(&c.request("DELETE", "/api/typed").send());
    assert_eq!((s, m.as_str()), (405, "Method Not Allowed"));
    let (s, m) = json_error(
        &c.request("POST", "/api/items")
            .header("Content-Type", "application/json")
            .body("{}")
            .send(),
    );
    assert_eq!((s, m.as_str()), (403, "Forbidden"));
    // A 500: the handler of /api/error panics (the page would be HTML elsewhere).
    let r = c.get("/api/error");
    let (s, m) = json_error(&r);
    assert_eq!((s, m.as_str()), (500, "Internal Server Error"));
    assert!(!r.text().contains("on purpose"), "{}", r.text());
    // Elsewhere the same errors are pages.
    for (method, path, status) in [
        ("GET", "/nothing", 404),
        ("DELETE", "/", 405),
        ("GET", "/error", 500),
    ] {
        let r = c.request(method, path).send();
        assert_eq!(r.status(), status, "{method} {path}");
        assert_eq!(r.header("Content-Type"), Some(HTML), "{method} {path}");
        assert!(r.text().starts_with("<html>"), "{}", r.text());
    }
    assert_fresh_connection_serves(server.addr());
}
