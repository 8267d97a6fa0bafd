//! Issue #12.8: cookie and static defaults. Signed cookies and the `_xsrf` cookie are
//! `SameSite=Lax` unless chosen otherwise and `Secure` when the request came over HTTPS
//! (here: through a proxy trusted with `xheaders`); `set_signed_cookie` takes the same
//! [`Cookie`] options as `set_cookie`; `signed_cookie` reads with Tornado's 31-day maximum age
//! unless given another. Static files: dotfiles and dot-directories are 404 unless the
//! handler opts in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use squall::http1::HttpServerOptions;
use squall::prelude::*;
use squall::testing::{TestClient, TestResponse, TestServer};
use squall::web::cookies::{create_signed_value, CookieSecrets, SameSite};
use squall::web::StaticFileHandler;
use squall_tests::{ExampleServer, ScratchDir};

const SECRET: &str = "a secret of thirty-two bytes or more";

#[derive(Clone, Default)]
struct Cookies;

#[handler]
impl Cookies {
    fn get(&mut self, cx: &mut Context, op: String) -> Result<()> {
        match op.as_str() {
            "plain" => cx.set_signed_cookie(Cookie::new("user", "ann")),
            "options" => cx.set_signed_cookie(
                Cookie::new("user", "bob")
                    .path("/app")
                    .domain("example.test")
                    .max_age(3600)
                    .same_site(SameSite::Strict),
            ),
            "xsrf" => {
                cx.xsrf_token()?;
                Ok(())
            }
            "read" => match cx.signed_cookie("user") {
                Some(v) => {
                    cx.write(v);
                    Ok(())
                }
                None => Err(HttpError::new(403)),
            },
            "read-1h" => match cx.signed_cookie_with_max_age("user", Duration::from_secs(3600)) {
                Some(v) => {
                    cx.write(v);
                    Ok(())
                }
                None => Err(HttpError::new(403)),
            },
            _ => Err(HttpError::new(404)),
        }
    }
}

fn server() -> TestServer {
    let options = HttpServerOptions {
        xheaders: true,
        access_log: false,
        ..HttpServerOptions::default()
    };
    TestServer::start_with(
        || {
            Application::with_settings(
                routes![(r"/c/(\w[\w-]*)", Cookies)],
                Settings {
                    xsrf_cookies: true,
                    cookie_secret: Some(SECRET.into()),
                    ..Settings::default()
                },
            )
            .unwrap()
        },
        options,
    )
}

fn set_cookie(r: &TestResponse, name: &str) -> String {
    let prefix = format!("{name}=");
    r.header_all("Set-Cookie")
        .into_iter()
        .find(|v| v.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", r.headers()))
        .to_owned()
}

fn attributes(header: &str) -> Vec<String> {
    header.split("; ").skip(1).map(str::to_owned).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn signed_and_xsrf_cookies_are_lax_and_not_secure_over_http() {
    let server = server();
    let mut c = TestClient::new(&server);
    let signed = set_cookie(&c.get("/c/plain"), "user");
    let attrs = attributes(&signed);
    assert!(attrs.iter().any(|a| a.starts_with("Expires=")), "{signed}");
    for want in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(attrs.iter().any(|a| a == want), "{want} missing: {signed}");
    }
    assert!(!attrs.iter().any(|a| a == "Secure"), "{signed}");
    assert_eq!(c.get("/c/read").text(), "ann");

    let xsrf = set_cookie(&c.get("/c/xsrf"), "_xsrf");
    assert_eq!(attributes(&xsrf), ["Path=/", "SameSite=Lax"], "{xsrf}");
}

#[test]
fn over_https_they_are_also_secure() {
    let server = server();
    for proxy_header in ["X-Forwarded-Proto", "X-Scheme"] {
        // A fresh client each time: its jar would keep the _xsrf cookie.
        let mut c = TestClient::new(&server);
        let r = c
            .request("GET", "/c/plain")
            .header(proxy_header, "https")
            .send();
        let signed = set_cookie(&r, "user");
        let attrs = attributes(&signed);
        for want in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
            assert!(attrs.iter().any(|a| a == want), "{want} missing: {signed}");
        }
        let r = c
            .request("GET", "/c/xsrf")
            .header(proxy_header, "https")
            .send();
        let xsrf = set_cookie(&r, "_xsrf");
        assert_eq!(
            attributes(&xsrf),
            ["Path=/", "Secure", "SameSite=Lax"],
            "{xsrf}"
        );
    }
}

#[test]
fn set_signed_cookie_takes_the_options_of_set_cookie() {
    let server = server();
    let mut c = TestClient::new(&server);
    let r = c
        .request("GET", "/c/options")
        .header("X-Forwarded-Proto", "https")
        .send();
    let signed = set_cookie(&r, "user");
    assert!(signed.starts_with("user=2|1:0|10:"), "{signed}");
    assert_eq!(
        attributes(&signed),
        [
            "Max-Age=3600",
            "Domain=example.test",
            "Path=/app",
            "Secure",
            "HttpOnly",
            "SameSite=Strict"
        ],
        "{signed}"
    );
    // The value is signed for its name: it reads back.
    let value = signed
        .split("; ")
        .next()
        .and_then(|kv| kv.strip_prefix("user="))
        .unwrap()
        .to_owned();
    c.set_cookie("user", &value);
    assert_eq!(c.get("/c/read").text(), "bob");
}

#[test]
fn signed_cookies_are_read_for_31_days_unless_told_otherwise() {
    let server = server();
    let secrets = CookieSecrets::single(SECRET);
    let mut c = TestClient::new(&server);
    let signed_ago = |secs: u64| create_signed_value(&secrets, "user", b"old", now() - secs);

    c.set_cookie("user", &signed_ago(2 * 3600));
    assert_eq!(c.get("/c/read").text(), "old");
    assert_eq!(c.get("/c/read-1h").status(), 403);

    c.set_cookie("user", &signed_ago(30 * 86_400));
    assert_eq!(c.get("/c/read").text(), "old");
    c.set_cookie("user", &signed_ago(32 * 86_400));
    assert_eq!(c.get("/c/read").status(), 403);

    c.set_cookie("user", &signed_ago(60));
    assert_eq!(c.get("/c/read-1h").text(), "old");
}

// ---- static files --------------------------------------------------------------------------------

fn static_tree() -> ScratchDir {
    let dir = ScratchDir::new("dotfiles");
    let root = dir.path();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(root.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
    std::fs::create_dir_all(root.join("sub/.hidden")).unwrap();
    std::fs::write(root.join("sub/.hidden/x.txt"), "x\n").unwrap();
    std::fs::write(root.join("sub/.htpasswd"), "admin:x\n").unwrap();
    std::fs::create_dir_all(root.join(".well-known")).unwrap();
    std::fs::write(root.join(".well-known/security.txt"), "Contact: x\n").unwrap();
    dir
}

const HIDDEN: [&str; 7] = [
    "/.env",
    "/%2eenv",
    "/.git/config",
    "/%2Egit/config",
    "/sub/.hidden/x.txt",
    "/sub/.htpasswd",
    "/.well-known/security.txt",
];

#[test]
fn dotfiles_are_404_unless_the_handler_opts_in() {
    let tree = static_tree();
    let root = tree.path().to_path_buf();
    let server = TestServer::start(move || {
        Application::new(routes![
            (r"/files/(.*)", StaticFileHandler::new(root.clone())),
            (
                r"/all/(.*)",
                StaticFileHandler::new(root.clone()).serve_dotfiles(true)
            ),
        ])
    });
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/files/hello.txt").text(), "hello\n");
    for path in HIDDEN {
        let r = c.get(&format!("/files{path}"));
        assert_eq!(r.status(), 404, "{path}");
        assert!(
            !r.text().contains("SECRET") && !r.text().contains("admin"),
            "{path}"
        );
        assert_eq!(
            c.request("HEAD", &format!("/files{path}")).send().status(),
            404
        );
    }
    assert_eq!(c.get("/all/.env").text(), "SECRET=1\n");
    assert_eq!(
        c.get("/all/.well-known/security.txt").text(),
        "Contact: x\n"
    );
    assert_eq!(c.get("/all/sub/.hidden/x.txt").text(), "x\n");
    // A folder whose own name starts with a dot can be the root of a handler.
    let tree2 = static_tree();
    let well_known = tree2.path().join(".well-known");
    let server = TestServer::start(move || {
        Application::new(routes![(
            r"/.well-known/(.*)",
            StaticFileHandler::new(well_known.clone())
        )])
    });
    let r = TestClient::new(&server).get("/.well-known/security.txt");
    assert_eq!(r.text(), "Contact: x\n");
}

#[test]
fn the_showcase_hides_dotfiles_in_its_static_folder() {
    let tree = static_tree();
    let server = ExampleServer::builder("showcase")
        .arg("--static")
        .arg(tree.path().to_str().unwrap())
        .start();
    let mut c = TestClient::connect_to(server.addr());
    assert_eq!(c.get("/static/hello.txt").text(), "hello\n");
    for path in HIDDEN {
        assert_eq!(c.get(&format!("/static{path}")).status(), 404, "{path}");
    }
}
