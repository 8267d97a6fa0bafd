//! Tests of cookie parsing and Set-Cookie values.

use super::*;
use std::time::Duration;

// --- parse_cookies ---

#[test]
fn parse_cookies_lenient() {
    let pairs: Vec<_> =
        parse_cookies(r#" a=1; b="2"; c; =d; e==f; ;  ; g = h ; i=""; j="; k="x"#).collect();
    assert_eq!(
        pairs,
        [
            ("a", "1"),
            ("b", "2"),
            ("", "c"),
            ("", "d"),
            ("e", "=f"),
            ("g", "h"),
            ("i", ""),
            ("j", "\""),
            ("k", "\"x"),
        ]
    );
}

#[test]
fn parse_cookies_empty_and_separators_only() {
    assert_eq!(parse_cookies("").count(), 0);
    assert_eq!(parse_cookies(";;; ;").count(), 0);
    assert_eq!(parse_cookies("=").count(), 0);
}

#[test]
fn parse_cookies_keeps_escapes_and_duplicates() {
    let pairs: Vec<_> = parse_cookies(r#"a="x\"y"; a=2"#).collect();
    assert_eq!(pairs, [("a", r#"x\"y"#), ("a", "2")]);
}

#[test]
fn parse_cookies_large_header() {
    let header = "a=b;".repeat(100_000) + &";".repeat(100_000);
    assert_eq!(parse_cookies(&header).count(), 100_000);
}

// --- Set-Cookie ---

#[test]
fn set_cookie_all_attributes() {
    let c = Cookie::new("sid", "v.1-2_3")
        .expires(UNIX_EPOCH + Duration::from_secs(784_111_777))
        .max_age(10)
        .domain("example.com")
        .path("/a b")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::None);
    assert_eq!(
        c.to_header_value().unwrap(),
        "sid=v.1-2_3; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=10; \
         Domain=example.com; Path=/a b; Secure; HttpOnly; SameSite=None"
    );
}

#[test]
fn set_cookie_empty_value_and_negative_max_age() {
    assert_eq!(Cookie::new("a", "").to_header_value().unwrap(), "a=");
    assert_eq!(
        Cookie::new("a", "b").max_age(-5).to_header_value().unwrap(),
        "a=b; Max-Age=0"
    );
    assert_eq!(
        Cookie::new("a", "b")
            .path("")
            .domain("")
            .to_header_value()
            .unwrap(),
        "a=b"
    );
}

#[test]
fn set_cookie_refuses_bad_names() {
    for name in [
        "", "a b", "a=b", "a;b", "a\r\nb", "a\0", "a,b", "a\"", "é", "a(b)", "a:b",
    ] {
        assert_eq!(
            Cookie::new(name, "v").to_header_value(),
            Err(CookieError::InvalidName),
            "{name:?}"
        );
    }
    assert!(Cookie::new("!#$%&'*+-.^_`|~09AZaz", "v")
        .to_header_value()
        .is_ok());
}

#[test]
fn set_cookie_refuses_bad_values() {
    for value in [
        "a\r\nSet-Cookie: x=y",
        "a\n",
        "a\r",
        "a\0",
        "a;b",
        "a,b",
        "a b",
        "\"quoted\"",
        "a\\b",
        "a\tb",
        "a\x7f",
        "é",
    ] {
        assert_eq!(
            Cookie::new("n", value).to_header_value(),
            Err(CookieError::InvalidValue),
            "{value:?}"
        );
    }
    // Every cookie-octet is accepted.
    let all: String = (0x21u8..=0x7e)
        .filter(|b| !b"\",;\\".contains(b))
        .map(char::from)
        .collect();
    assert_eq!(
        Cookie::new("n", all.clone()).to_header_value().unwrap(),
        format!("n={all}")
    );
}

#[test]
fn set_cookie_refuses_bad_attributes() {
    for bad in ["a;b", "a\r\nb", "a\0", "a\x7f"] {
        assert_eq!(
            Cookie::new("n", "v").domain(bad).to_header_value(),
            Err(CookieError::InvalidDomain)
        );
        assert_eq!(
            Cookie::new("n", "v").path(bad).to_header_value(),
            Err(CookieError::InvalidPath)
        );
    }
}

#[test]
fn set_cookie_expires_out_of_range_is_an_error() {
    let before = UNIX_EPOCH - Duration::from_secs(1);
    assert_eq!(
        Cookie::new("a", "b").expires(before).to_header_value(),
        Err(CookieError::InvalidExpires)
    );
    let after = UNIX_EPOCH + Duration::from_secs(HTTP_DATE_END);
    assert_eq!(
        Cookie::new("a", "b").expires(after).to_header_value(),
        Err(CookieError::InvalidExpires)
    );
    let last = UNIX_EPOCH + Duration::from_secs(HTTP_DATE_END - 1);
    assert_eq!(
        Cookie::new("a", "b")
            .expires(last)
            .to_header_value()
            .unwrap(),
        "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT"
    );
}

#[test]
fn deletion_cookie() {
    assert_eq!(
        Cookie::deletion("s", Some("/"), Some("example.com"))
            .to_header_value()
            .unwrap(),
        "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=example.com; Path=/"
    );
    assert_eq!(
        Cookie::deletion("s", None, None).to_header_value().unwrap(),
        "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"
    );
}

// --- signed values ---
