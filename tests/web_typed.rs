//! Typed input from outside: `cx.query::<T>()`, `cx.form::<T>()` (urlencoded and multipart)
//! and `cx.json_body::<T>()` decode into serde types; a missing, mistyped or malformed field is
//! a 400 whose message (on the page and in JSON errors) names the field.

use serde::{Deserialize, Serialize};
use squall::prelude::*;
use squall::testing::{TestClient, TestResponse, TestServer};
use squall::web::Hooks;

#[derive(Deserialize, Serialize)]
struct Order {
    name: String,
    count: u32,
    #[serde(default)]
    tag: Vec<String>,
    note: Option<String>,
    express: Option<bool>,
}

#[derive(Deserialize, Serialize)]
struct Line {
    sku: String,
    qty: u16,
}

#[derive(Deserialize, Serialize)]
struct Cart {
    owner: String,
    lines: Vec<Line>,
}

#[derive(Clone, Default)]
struct Typed;

#[handler(xsrf_exempt)]
impl Typed {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let order: Order = cx.query()?;
        cx.write_json(&order)
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let order: Order = cx.form()?;
        cx.write_json(&order)
    }
    fn put(&mut self, cx: &mut Context) -> Result<()> {
        let cart: Cart = cx.json_body()?;
        cx.write_json(&cart)
    }
}

fn app() -> Application {
    Application::with_settings(
        routes![(r"/typed", Typed), (r"/api/typed", Typed)],
        Settings {
            xsrf_cookies: true,
            cookie_secret: Some("typed test secret".into()),
            hooks: Hooks::new().write_error(|cx, status, e| {
                if cx.path().starts_with("/api/") {
                    cx.write_json_error(status, e)
                } else {
                    cx.write_html_error(status, e)
                }
            }),
            ..Settings::default()
        },
    )
    .unwrap()
}

fn ok(r: &TestResponse) -> serde_json::Value {
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json()
}

/// The 400's JSON message.
fn bad(r: &TestResponse) -> String {
    assert_eq!(r.status(), 400, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["status"], 400);
    v["message"].as_str().unwrap().to_owned()
}

#[test]
fn query_arguments_fill_a_struct() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let v = ok(&c.get("/typed?name=ann&count=3&tag=a&tag=b%20c&note=&_xsrf=x"));
    assert_eq!(
        v,
        serde_json::json!({"name": "ann", "count": 3, "tag": ["a", "b c"], "note": null, "express": null})
    );
    let v = ok(&c.get("/typed?count=1&count=2&name=x&express=on"));
    assert_eq!(
        (v["count"].as_u64(), v["express"].as_bool()),
        (Some(2), Some(true))
    );

    assert_eq!(bad(&c.get("/api/typed?name=ann")), "missing field `count`");
    assert_eq!(
        bad(&c.get("/api/typed?name=ann&count=-3")),
        "field `count`: \"-3\" is not an unsigned integer: invalid digit found in string"
    );
    assert_eq!(
        bad(&c.get("/api/typed?name=ann&count=3&express=perhaps")),
        "field `express`: \"perhaps\" is not a boolean (true/false, on/off, 1/0, yes/no)"
    );
    // Outside /api/ the message is on the HTML page, escaped.
    let r = c.get("/typed?name=ann&count=%3Cb%3E");
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .contains("field `count`: &quot;&lt;b&gt;&quot; is not an unsigned integer"),
        "{}",
        r.text()
    );
    let r = TestClient::new(&server).get("/typed?name=fresh&count=0");
    assert_eq!(ok(&r)["name"], "fresh");
}

#[test]
fn urlencoded_and_multipart_fields_fill_a_struct() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let v = ok(&c
        .request("POST", "/typed")
        .form(&[("name", "bo b"), ("count", "7"), ("tag", "x")])
        .send());
    assert_eq!(
        (v["name"].as_str(), v["count"].as_u64()),
        (Some("bo b"), Some(7))
    );
    assert_eq!(v["tag"], serde_json::json!(["x"]));

    let v = ok(&c
        .request("POST", "/typed")
        .multipart(
            &[("name", "multi"), ("count", "9"), ("note", "hi")],
            &[("tag", "ignored.txt", b"a file is not a field")],
        )
        .send());
    assert_eq!(
        (v["name"].as_str(), v["count"].as_u64(), v["note"].as_str()),
        (Some("multi"), Some(9), Some("hi"))
    );
    assert_eq!(v["tag"], serde_json::json!([]));

    let r = c
        .request("POST", "/api/typed")
        .multipart(&[("name", "multi")], &[])
        .send();
    assert_eq!(bad(&r), "missing field `count`");
    let r = c
        .request("POST", "/api/typed")
        .form(&[("name", "x"), ("count", "99999999999")])
        .send();
    assert!(bad(&r).starts_with("field `count`: \"99999999999\" is not an unsigned integer"));
}

#[test]
fn json_bodies_fill_a_struct_and_errors_name_the_path() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let put = |c: &mut TestClient, path: &str, body: &str| {
        c.request("PUT", path)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let body = r#"{"owner": "ann", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}"#;
    let v = ok(&put(&mut c, "/typed", body));
    assert_eq!(v["lines"][1]["qty"], 2);

    let m = bad(&put(
        &mut c,
        "/api/typed",
        r#"{"owner": "ann", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "2"}]}"#,
    ));
    assert!(
        m.starts_with("field `lines[1].qty`: invalid type: string \"2\", expected u16"),
        "{m}"
    );
    let m = bad(&put(&mut c, "/api/typed", r#"{"owner": "ann"}"#));
    assert!(
        m.starts_with("invalid JSON body: missing field `lines`"),
        "{m}"
    );
    let m = bad(&put(
        &mut c,
        "/api/typed",
        r#"{"owner": "ann", "lines": [}"#,
    ));
    assert!(
        m.starts_with("invalid JSON body: expected value at line 1"),
        "{m}"
    );
    let m = bad(&put(&mut c, "/api/typed", ""));
    assert!(m.starts_with("invalid JSON body: EOF while parsing"), "{m}");
    let m = bad(&put(
        &mut c,
        "/api/typed",
        r#"{"owner": "a", "lines": []} trailing"#,
    ));
    assert!(
        m.starts_with("invalid JSON body: trailing characters"),
        "{m}"
    );
    let r = TestClient::new(&server).get("/typed?name=fresh&count=0");
    assert_eq!(ok(&r)["name"], "fresh");
}
