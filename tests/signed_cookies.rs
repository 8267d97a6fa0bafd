//! Signed cookies over real sockets: round trip, tampering, name swap, expiry, Tornado's
//! published vector, key rotation across instances.

use std::time::Duration;

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};
use squall::web::cookies::{create_signed_value, Cookie, CookieSecrets};

#[derive(Clone, Default)]
struct SetGet;

#[handler]
impl SetGet {
    fn get(&mut self, cx: &mut Context, op: String) -> Result<()> {
        match op.as_str() {
            "set" => {
                let v = cx.argument("v")?;
                cx.set_signed_cookie(Cookie::new("user", v))
            }
            "get" => match cx.signed_cookie("user") {
                Some(v) => {
                    cx.write(v);
                    Ok(())
                }
                None => Err(HttpError::new(403)),
            },
            "key" => match cx.signed_cookie_with_max_age("key", Duration::from_secs(1 << 40)) {
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

fn server_with(secret: CookieSecrets) -> TestServer {
    TestServer::start(move || {
        Application::with_settings(
            routes![(r"/c/(\w+)", SetGet)],
            Settings {
                cookie_secret: Some(secret),
                ..Settings::default()
            },
        )
        .unwrap()
    })
}

#[test]
fn round_trip_and_tampering() {
    let server = server_with("s3cret".into());
    let mut c = TestClient::new(&server);
    let r = c.get("/c/set?v=alice");
    let sc = r.header("Set-Cookie").unwrap();
    assert!(sc.starts_with("user=2|1:0|10:"), "{sc}");
    assert!(sc.contains("HttpOnly") && sc.contains("Expires="));
    assert_eq!(c.get("/c/get").text(), "alice");
    // Tamper with the value part (base64 of "alice" -> "bob").
    let good = c.cookie("user").unwrap().to_owned();
    let tampered = good.replace("8:YWxpY2U=", "4:Ym9i");
    assert_ne!(good, tampered);
    c.set_cookie("user", &tampered);
    assert_eq!(c.get("/c/get").status(), 403);
    // Flip one hex digit of the signature.
    let mut sig_flip = good.clone().into_bytes();
    let last = sig_flip.len() - 1;
    sig_flip[last] = if sig_flip[last] == b'0' { b'1' } else { b'0' };
    c.set_cookie("user", std::str::from_utf8(&sig_flip).unwrap());
    assert_eq!(c.get("/c/get").status(), 403);
    // Garbage.
    c.set_cookie("user", "2|1:0|garbage");
    assert_eq!(c.get("/c/get").status(), 403);
    c.set_cookie("user", &good);
    assert_eq!(c.get("/c/get").text(), "alice");
}

#[test]
fn name_swap_and_expiry_are_refused() {
    let secret: CookieSecrets = "s3cret".into();
    let server = server_with(secret.clone());
    let mut c = TestClient::new(&server);
    // A value signed for another cookie name does not verify as "user".
    let other = create_signed_value(&secret, "session", b"alice", now());
    c.set_cookie("user", &other);
    assert_eq!(c.get("/c/get").status(), 403);
    // 32 days old: past the 31-day default.
    let old = create_signed_value(&secret, "user", b"alice", now() - 32 * 86400);
    c.set_cookie("user", &old);
    assert_eq!(c.get("/c/get").status(), 403);
    let fresh = create_signed_value(&secret, "user", b"alice", now() - 30 * 86400);
    c.set_cookie("user", &fresh);
    assert_eq!(c.get("/c/get").text(), "alice");
}

#[test]
fn tornado_vector_both_ways() {
    let vector = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";
    let secret: CookieSecrets = "It's a secret to everybody".into();
    assert_eq!(
        create_signed_value(&secret, "key", b"value", 1_300_000_000),
        vector
    );
    let server = server_with(secret);
    let mut c = TestClient::new(&server);
    c.set_cookie("key", vector);
    assert_eq!(c.get("/c/key").text(), "value");
}

#[test]
fn any_instance_sharing_the_secret_verifies_and_rotation_works() {
    let a = server_with("shared".into());
    let b = server_with("shared".into());
    let mut c = TestClient::new(&a);
    c.get("/c/set?v=carol");
    let cookie = c.cookie("user").unwrap().to_owned();
    let mut cb = TestClient::new(&b);
    cb.set_cookie("user", &cookie);
    assert_eq!(cb.get("/c/get").text(), "carol");
    // Rotation: old key 0 still verifies while new key 1 signs.
    let rotated = server_with(
        CookieSecrets::versioned([(0, "shared".to_owned()), (1, "newer".to_owned())], 1).unwrap(),
    );
    let mut cr = TestClient::new(&rotated);
    cr.set_cookie("user", &cookie);
    assert_eq!(cr.get("/c/get").text(), "carol");
    cr.get("/c/set?v=dave");
    assert!(cr.cookie("user").unwrap().starts_with("2|1:1|"));
    assert_eq!(cr.get("/c/get").text(), "dave");
    // A server without key 0 no longer accepts the old cookie.
    let only_new = server_with(CookieSecrets::versioned([(1, "newer".to_owned())], 1).unwrap());
    let mut cn = TestClient::new(&only_new);
    cn.set_cookie("user", &cookie);
    assert_eq!(cn.get("/c/get").status(), 403);
}

#[test]
fn without_a_secret_signing_is_a_clear_500() {
    let server = TestServer::start(|| Application::new(routes![(r"/c/(\w+)", SetGet)]));
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/c/set?v=x").status(), 500);
    assert_eq!(c.get("/c/get").status(), 403);
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
