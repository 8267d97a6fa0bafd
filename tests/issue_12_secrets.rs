//! Issue #12.3: empty or weak cookie secrets. An empty `cookie_secret` (or an empty key of a
//! versioned one) is a start-up error naming the setting, a short one starts with a warning,
//! `CookieSecrets::from_env` never falls back to a public key, and no example signs with an
//! empty or silent default: the showcase keeps its documented development secret with a
//! warning and refuses a set-but-empty `SHOWCASE_SECRET`; chat and upload take a random key
//! per start (logged) and refuse an empty one.

use std::time::{SystemTime, UNIX_EPOCH};

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};
use squall::web::cookies::{create_signed_value, CookieSecretsError};
use squall::web::SetupErrorKind;
use squall_tests::{capture_logs, ExampleServer, LogCapture};

// ---- a logger that keeps what the library warns about ------------------------------------------

fn captured() -> &'static LogCapture {
    capture_logs(log::Level::Warn)
}

fn warnings_containing(needle: &str) -> Vec<String> {
    captured().containing(needle)
}

// ---- the application ----------------------------------------------------------------------------

#[derive(Clone, Default)]
struct SignedUser;

#[handler]
impl SignedUser {
    fn get(&mut self, cx: &mut Context, op: String) -> Result<()> {
        if op == "set" {
            let v = cx.argument("v")?;
            cx.set_signed_cookie(squall::web::cookies::Cookie::new("user", v))?;
            return Ok(());
        }
        match cx.signed_cookie("user") {
            Some(v) => {
                cx.write(v);
                Ok(())
            }
            None => Err(HttpError::new(403)),
        }
    }
}

fn app(
    secret: CookieSecrets,
    xsrf: bool,
) -> std::result::Result<Application, squall::web::SetupError> {
    Application::with_settings(
        routes![(r"/c/(set|get)", SignedUser)],
        Settings {
            xsrf_cookies: xsrf,
            cookie_secret: Some(secret),
            ..Settings::default()
        },
    )
}

#[test]
fn an_empty_cookie_secret_is_a_startup_error_naming_the_setting() {
    for xsrf in [false, true] {
        let e = app("".into(), xsrf).expect_err("an empty secret must not start");
        assert_eq!(e.kind(), SetupErrorKind::Config);
        let text = e.to_string();
        assert!(
            text.contains("Settings::cookie_secret") && text.contains("empty"),
            "{text}"
        );
    }
    // A rotation map cannot smuggle an empty key in either.
    assert_eq!(
        CookieSecrets::versioned([(0, "an old but long enough secret"), (1, "")], 0).unwrap_err(),
        CookieSecretsError::EmptyKey(1)
    );
}

#[test]
fn a_short_secret_starts_with_a_warning_and_a_long_one_without() {
    captured();
    assert!(app("short-but-set".into(), true).is_ok());
    let warned = warnings_containing("cookie_secret is only 13 bytes");
    assert_eq!(warned.len(), 1, "{warned:?}");
    let long = "x".repeat(squall::web::RECOMMENDED_SECRET_LEN);
    assert!(app(long.as_str().into(), true).is_ok());
    assert!(warnings_containing("cookie_secret is only 32 bytes").is_empty());
}

#[test]
fn from_env_gives_a_random_key_when_unset_and_refuses_an_empty_one() {
    const VAR: &str = "SQUALL_ISSUE_12_SECRET";
    captured();
    std::env::set_var(VAR, "");
    let e = CookieSecrets::from_env(VAR).unwrap_err();
    assert_eq!(e, CookieSecretsError::EmptyVariable(VAR.into()));
    assert!(e.to_string().contains(VAR), "{e}");

    std::env::remove_var(VAR);
    // Two starts without the variable sign with different random keys, over real sockets: a
    // cookie from one is not accepted by the other (and no empty or fixed key is behind them).
    let first = CookieSecrets::from_env(VAR).unwrap();
    let second = CookieSecrets::from_env(VAR).unwrap();
    assert_eq!(
        warnings_containing(&format!("{VAR} is not set")).len(),
        2,
        "each random key is logged"
    );
    let a = TestServer::start(move || app(first.clone(), false).unwrap());
    let b = TestServer::start(move || app(second.clone(), false).unwrap());
    let mut ca = TestClient::new(&a);
    assert_eq!(ca.get("/c/set?v=ann").status(), 200);
    assert_eq!(ca.get("/c/get").text(), "ann");
    let cookie = ca.cookie("user").expect("a signed cookie").to_owned();
    let mut cb = TestClient::new(&b);
    cb.set_cookie("user", &cookie);
    assert_eq!(cb.get("/c/get").status(), 403);
    // A value signed with an empty key is refused too.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = create_signed_value(&CookieSecrets::single(""), "user", b"admin", now);
    ca.set_cookie("user", &forged);
    assert_eq!(ca.get("/c/get").status(), 403);

    std::env::set_var(VAR, "a long random secret from the deployment's vault");
    let from_var = CookieSecrets::from_env(VAR).unwrap();
    let c = TestServer::start(move || app(from_var.clone(), false).unwrap());
    let mut cc = TestClient::new(&c);
    let signed = create_signed_value(
        &CookieSecrets::single("a long random secret from the deployment's vault"),
        "user",
        b"carol",
        now,
    );
    cc.set_cookie("user", &signed);
    assert_eq!(cc.get("/c/get").text(), "carol");
    std::env::remove_var(VAR);
}

// ---- the examples --------------------------------------------------------------------------------

/// Runs example `name` with `var` set to the empty string: it must exit with a failure status
/// and a message naming `var`, without ever accepting a connection.
fn refuses_to_start_with_an_empty(name: &str, var: &str) {
    let stderr = ExampleServer::builder(name).env(var, "").start_refused();
    assert!(
        stderr.contains(var) && stderr.contains("empty"),
        "{name}: the message does not say what is wrong:\n{stderr}"
    );
}

#[test]
fn the_showcase_refuses_an_empty_secret() {
    refuses_to_start_with_an_empty("showcase", "SHOWCASE_SECRET");
}

#[test]
fn chat_and_upload_refuse_an_empty_secret() {
    refuses_to_start_with_an_empty("chat", "CHAT_SECRET");
    refuses_to_start_with_an_empty("upload", "UPLOAD_SECRET");
}

#[test]
fn the_showcase_without_a_secret_uses_the_documented_default_and_says_so() {
    let server = ExampleServer::builder("showcase")
        .env_remove("SHOWCASE_SECRET")
        .start();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = create_signed_value(&CookieSecrets::single("dev-secret"), "user", b"dev", now);
    let mut c = TestClient::connect_to(server.addr());
    c.set_cookie("user", &signed);
    assert_eq!(c.get("/cookie/get").text(), "dev");
    let log = server.log_text();
    assert!(
        log.contains("SHOWCASE_SECRET is not set") && log.contains("dev-secret"),
        "no warning about the development secret:\n{log}"
    );
}

#[test]
fn chat_without_a_secret_takes_a_random_one_and_says_so() {
    let server = ExampleServer::builder("chat")
        .env_remove("CHAT_SECRET")
        .start();
    assert_eq!(TestClient::connect_to(server.addr()).get("/").status(), 200);
    let log = server.log_text();
    assert!(
        log.contains("CHAT_SECRET is not set") && log.contains("random secret"),
        "no word about the random secret:\n{log}"
    );
}
