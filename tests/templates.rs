//! Templates from outside: `cx.render` with `Settings::template_path` — autoescape by
//! extension, inheritance, and what every template sees (`xsrf_form_html()`,
//! `static_url(..)`, `reverse_url(..)`, `current_user`, `request`, globals); compile errors at
//! startup naming file and line; render errors as 500s (file and line in the log always, on
//! the page only with debug); reloading on change with debug only.

use std::path::Path;
use std::time::Duration;

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};
use squall::web::templates::{context, TemplateValue};
use squall::web::{Hooks, SetupErrorKind as ErrorKind};
use squall_tests::{capture_logs, ScratchDir};

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, cx: &mut Context, name: String) -> Result<()> {
        let who = cx.argument_opt("who")?.unwrap_or_default();
        cx.render(&name, context! { who, items => vec!["a<b", "c&d"] })
    }
    fn post(&mut self, cx: &mut Context, _name: String) -> Result<()> {
        let who = cx.argument("who")?;
        cx.write(format!("posted {who}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        cx.write(id.to_string());
        Ok(())
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A template folder with a layout, pages that use every feature, and a static folder.
fn folders() -> (ScratchDir, ScratchDir) {
    let t = ScratchDir::new("templates");
    let s = ScratchDir::new("templates-static");
    write(s.path(), "hello.txt", "hello static\n");
    write(
        t.path(),
        "base.html",
        "<title>{% block title %}{{ site }}{% endblock %}</title>\n{% block body %}{% endblock %}\n",
    );
    write(
        t.path(),
        "page.html",
        concat!(
            "{% extends \"base.html\" %}{% block body %}",
            "<p>Hello, {{ who }}</p>\n",
            "{% for i in items %}<li>{{ i }}</li>{% endfor %}\n",
            "<form method=\"post\">{{ xsrf_form_html() }}</form>\n",
            "<a href=\"{{ static_url('hello.txt') }}\">static</a>\n",
            "<a href=\"{{ reverse_url('user', 42) }}\">user</a>\n",
            "user={{ current_user.name if current_user else 'anonymous' }}\n",
            "path={{ request.path }} q={{ request.arguments.q }}\n",
            "{% endblock %}"
        ),
    );
    write(t.path(), "plain.txt", "raw {{ who }}\n");
    write(
        t.path(),
        "filters.html",
        "<a href=\"/s?q={{ who|url_escape }}\">{{ url_escape(who) }}</a>\n<script>var w = {{ json_encode(who)|safe }};</script>\n",
    );
    write(t.path(), "sub/inc.html", "[{% include \"part.html\" %}]\n");
    write(t.path(), "part.html", "part {{ who }}");
    write(
        t.path(),
        "broken_render.html",
        "line one\n{{ who.missing.deeper() }}\n",
    );
    (t, s)
}

#[derive(serde::Serialize)]
struct Person {
    name: String,
}

fn app(templates: &Path, statics: &Path, debug: bool) -> Application {
    Application::with_settings(
        routes![(r"/page/(.+)", Page), (r"/user/(\d+)", User, name = "user"),],
        Settings {
            debug,
            xsrf_cookies: true,
            cookie_secret: Some("template test secret".into()),
            template_path: Some(templates.to_owned()),
            template_globals: vec![("site".into(), TemplateValue::from("Squall site"))],
            static_path: Some(statics.to_owned()),
            hooks: Hooks::new()
                .current_user(|cx| cx.header("X-User").map(|n| Person { name: n.to_owned() })),
            ..Settings::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn start(debug: bool) -> (TestServer, ScratchDir, ScratchDir) {
    let (t, s) = folders();
    let (tp, sp) = (t.path().to_owned(), s.path().to_owned());
    let server = TestServer::start(move || app(&tp, &sp, debug));
    (server, t, s)
}

#[test]
fn a_page_sees_everything_and_escapes_html() {
    let (server, _t, _s) = start(false);
    let mut c = TestClient::new(&server);
    let r = c.get("/page/page.html?who=%3Cscript%3E&q=1&q=2");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    let body = r.text();
    assert!(body.starts_with("<title>Squall site</title>\n"), "{body}");
    assert!(body.contains("<p>Hello, &lt;script&gt;</p>"), "{body}");
    assert!(body.contains("<li>a&lt;b</li><li>c&amp;d</li>"), "{body}");
    assert!(
        body.contains(r#"<form method="post"><input type="hidden" name="_xsrf" value=""#),
        "{body}"
    );
    let v = regex::Regex::new(r#"href="/static/hello\.txt\?v=([0-9a-f]{12})""#).unwrap();
    assert!(v.is_match(&body), "{body}");
    assert!(body.contains(r#"<a href="/user/42">user</a>"#), "{body}");
    assert!(body.contains("user=anonymous\n"), "{body}");
    assert!(
        body.contains("path=/page/page.html q=[&quot;1&quot;, &quot;2&quot;]\n"),
        "{body}"
    );
    // The render made a token: it is the cookie's, and the form posts with it.
    let token = regex::Regex::new(r#"name="_xsrf" value="([^"]+)""#)
        .unwrap()
        .captures(&body)
        .unwrap()[1]
        .to_owned();
    assert!(
        c.cookie("_xsrf").is_some(),
        "the render set the _xsrf cookie"
    );
    let r = c
        .request("POST", "/page/page.html")
        .form(&[("who", "me"), ("_xsrf", &token)])
        .send();
    assert_eq!((r.status(), r.text()), (200, "posted me".to_owned()));

    // The current user, an object with fields.
    let r = c
        .request("GET", "/page/page.html")
        .header("X-User", "ann")
        .send();
    assert!(r.text().contains("user=ann\n"), "{}", r.text());
}

#[test]
fn text_templates_are_not_escaped_and_includes_resolve() {
    let (server, _t, _s) = start(false);
    let mut c = TestClient::new(&server);
    let r = c.get("/page/plain.txt?who=%3Cb%3E");
    assert_eq!((r.status(), r.text()), (200, "raw <b>\n".to_owned()));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
    // A page that renders no form sets no cookie.
    assert!(c.cookie("_xsrf").is_none());
    let r = c.get("/page/filters.html?who=a%20%26%20%3C/script%3E");
    assert_eq!(
        r.text(),
        "<a href=\"/s?q=a+%26+%3C%2Fscript%3E\">a+%26+%3C%2Fscript%3E</a>\n<script>var w = \"a & <\\/script>\";</script>\n"
    );
    let r = c.get("/page/sub/inc.html?who=%26");
    assert_eq!((r.status(), r.text()), (200, "[part &amp;]\n".to_owned()));
}

#[test]
fn render_errors_are_500_with_detail_only_in_debug() {
    for debug in [false, true] {
        let (server, _t, _s) = start(debug);
        let mut c = TestClient::new(&server);
        let r = c.get("/page/broken_render.html?who=x");
        assert_eq!(r.status(), 500, "debug {debug}");
        let shows = r.text().contains("broken_render.html, line 2");
        assert_eq!(shows, debug, "debug {debug}: {}", r.text());
        let r = c.get("/page/nope.html");
        assert_eq!(r.status(), 500);
        assert_eq!(r.text().contains("nope.html"), debug, "{}", r.text());
        // The server carries on.
        assert_eq!(
            TestClient::new(&server).get("/page/plain.txt?who=1").text(),
            "raw 1\n"
        );
    }
}

#[test]
fn a_render_error_logs_file_and_line_without_debug() {
    let log = capture_logs(log::Level::Error);
    let (server, _t, _s) = start(false);
    let r = TestClient::new(&server).get("/page/broken_render.html?who=logged");
    assert_eq!(r.status(), 500);
    assert!(!r.text().contains("broken_render.html"), "{}", r.text());
    let lines = log.lines();
    let line = lines
        .iter()
        .find(|l| l.contains("/page/broken_render.html?who=logged"))
        .unwrap_or_else(|| panic!("no error logged for the request: {lines:?}"));
    assert!(
        line.contains("template broken_render.html, line 2"),
        "{line}"
    );
}

#[test]
fn a_syntax_error_stops_startup_naming_file_and_line() {
    let (t, s) = folders();
    write(
        t.path(),
        "bad/oops.html",
        "ok\nstill ok\n{% if x %}never closed\n",
    );
    let err = Application::with_settings(
        routes![(r"/page/(.+)", Page)],
        Settings {
            template_path: Some(t.path().to_owned()),
            static_path: Some(s.path().to_owned()),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    assert!(text.contains("bad/oops.html"), "{text}");
    assert!(text.contains("line 3"), "{text}");
    // A missing folder is an error too.
    let err = Application::with_settings(
        routes![(r"/page/(.+)", Page)],
        Settings {
            template_path: Some(t.path().join("no-such-dir")),
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn templates_reload_on_change_only_in_debug() {
    for debug in [false, true] {
        let (server, t, _s) = start(debug);
        let mut c = TestClient::new(&server);
        assert_eq!(c.get("/page/plain.txt?who=1").text(), "raw 1\n");
        // A different length, so the change shows whatever the clock's resolution.
        write(t.path(), "plain.txt", "changed {{ who }}!\n");
        std::thread::sleep(Duration::from_millis(20));
        let expected = if debug { "changed 1!\n" } else { "raw 1\n" };
        assert_eq!(
            c.get("/page/plain.txt?who=1").text(),
            expected,
            "debug {debug}"
        );
        if debug {
            // A syntax error met on reload is a 500 naming the file; fixing it recovers.
            write(t.path(), "plain.txt", "{% for %}\n");
            let r = c.get("/page/plain.txt?who=1");
            assert_eq!(r.status(), 500);
            assert!(r.text().contains("plain.txt"), "{}", r.text());
            write(t.path(), "plain.txt", "fixed {{ who }}\n");
            assert_eq!(c.get("/page/plain.txt?who=2").text(), "fixed 2\n");
        }
    }
}
