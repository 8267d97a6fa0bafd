//! Tests of ETags and conditional requests.

use super::*;

fn tags(header: &str) -> Vec<String> {
    parse_entity_tags(header).map(|t| t.to_string()).collect()
}

#[test]
fn compute_exact_values() {
    assert_eq!(compute_etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    assert_eq!(
        compute_etag(b"hello world"),
        "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""
    );
    assert_eq!(
        compute_etag(b"Hello, world"),
        "\"bc6e6f16b8a077ef5fbc8d59d0b931b9\""
    );
}

#[test]
fn hasher_matches_one_shot() {
    let body: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    for split in [0, 1, 63, 64, 65, 5_000, 10_000] {
        let mut hasher = EtagHasher::new();
        hasher.update(&body[..split]);
        hasher.update(&[]);
        hasher.update(&body[split..]);
        assert_eq!(hasher.finish(), compute_etag(&body));
    }
    assert_eq!(
        EtagHasher::new().finish(),
        "\"d41d8cd98f00b204e9800998ecf8427e\""
    );
}

#[test]
fn entity_tag_parse() {
    let t = EntityTag::parse("\"abc\"").unwrap();
    assert!(!t.is_weak());
    assert_eq!(t.opaque(), "abc");
    let t = EntityTag::parse("W/\"\"").unwrap();
    assert!(t.is_weak());
    assert_eq!(t.opaque(), "");
    assert_eq!(EntityTag::parse("\"é!#~\"").unwrap().opaque(), "é!#~");
    for bad in [
        "",
        "\"",
        "abc",
        "\"abc",
        "abc\"",
        "w/\"a\"",
        "W/a",
        "W/ \"a\"",
        "\"a b\"",
        "\"a\tb\"",
        "\"a\"b",
        "\"a\",",
        "\"a\" ",
        " \"a\"",
        "*",
        "\"a\x7f\"",
        "\"a\0\"",
        "W/W/\"a\"",
    ] {
        assert_eq!(EntityTag::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn list_parsing() {
    assert_eq!(tags("\"a,b\", \"c\""), ["\"a,b\"", "\"c\""]);
    assert_eq!(
        tags("\"a\",W/\"b\" ,\t\"c\""),
        ["\"a\"", "W/\"b\"", "\"c\""]
    );
    assert_eq!(tags(" , ,\"a\",, ,"), ["\"a\""]);
    assert_eq!(tags(""), Vec::<String>::new());
    assert_eq!(tags("*"), Vec::<String>::new());
    // Malformed elements are skipped, the rest still read.
    assert_eq!(tags("bogus, \"a\""), ["\"a\""]);
    assert_eq!(tags("\"a\" \"b\", \"c\""), ["\"c\""]);
    assert_eq!(tags("\"a\"x, \"b,c\""), ["\"b,c\""]);
    assert_eq!(tags("w/\"a,b\", \"c\""), ["\"c\""]);
    assert_eq!(tags("x\"a,b\", \"c\""), ["\"c\""]);
    assert_eq!(tags("\"a b\", \"c\""), ["\"c\""]);
    assert_eq!(tags("*, \"c\""), ["\"c\""]);
    // Unterminated quote swallows the rest.
    assert_eq!(tags("\"a\", \"b, \"c"), ["\"a\""]);
    assert_eq!(tags("\"a\", \"b,c\"d, \"e\""), ["\"a\"", "\"e\""]);
    assert_eq!(tags("\"a\", \"b"), ["\"a\""]);
}

#[test]
fn list_parsing_never_panics_on_prefixes_and_odd_bytes() {
    let header = "W/\"é1\", \"a,b\" , *, bogus,\"\"";
    for end in 0..=header.len() {
        if let Some(prefix) = header.get(..end) {
            let _ = tags(prefix);
            let _ = if_none_match(prefix, "\"a,b\"");
            let _ = if_match(prefix, "\"a,b\"");
        }
    }
    for odd in ["W", "W/", "W/\"", "\"", ",", "\"\"\"", "W/,", "é", "\u{0}"] {
        let _ = tags(odd);
    }
}

#[test]
fn list_parsing_is_linear() {
    let mut header = "\"".to_owned();
    header.push_str(&"x,".repeat(200_000));
    assert!(tags(&header).is_empty());
    assert!(tags(&"W/".repeat(200_000)).is_empty());
    assert_eq!(tags(&"\"a\",".repeat(100_000)).len(), 100_000);
    assert!(tags(&"\"a\" x".repeat(100_000)).is_empty());
}

#[test]
fn if_none_match_weak_comparison() {
    let strong = "\"abc\"";
    let weak = "W/\"abc\"";
    assert!(if_none_match("\"abc\"", strong));
    assert!(if_none_match("W/\"abc\"", strong));
    assert!(if_none_match("\"abc\"", weak));
    assert!(if_none_match("W/\"abc\"", weak));
    assert!(if_none_match("\"x\", \"abc\"", strong));
    assert!(if_none_match("\"x\",W/\"abc\"", strong));
    assert!(if_none_match("\"x\" ,\t\"abc\" ", strong));
    assert!(if_none_match(" \"abc\" ", " \"abc\" "));
    assert!(!if_none_match("\"abcd\"", strong));
    assert!(!if_none_match("\"ABC\"", strong));
    assert!(!if_none_match("\"x\", \"y\"", strong));
    assert!(!if_none_match("", strong));
}

#[test]
fn if_none_match_wildcard() {
    assert!(if_none_match("*", "\"abc\""));
    assert!(if_none_match(" *\t", "W/\"abc\""));
    assert!(!if_none_match("*, \"x\"", "\"abc\""));
    assert!(if_none_match("*, \"abc\"", "\"abc\""));
    assert!(!if_none_match("**", "\"abc\""));
}

#[test]
fn if_none_match_commas_inside_tags() {
    assert!(if_none_match("\"a,b\", \"c\"", "\"a,b\""));
    assert!(if_none_match("\"a,b\", \"c\"", "\"c\""));
    assert!(!if_none_match("\"a,b\", \"c\"", "\"a\""));
    assert!(!if_none_match("\"a,b\", \"c\"", "\"b\""));
}

#[test]
fn if_none_match_malformed() {
    for header in [
        "abc",
        "\"abc",
        "abc\"",
        "w/\"abc\"",
        "W/ \"abc\"",
        "\"abc\"x",
        "\"a bc\"",
    ] {
        assert!(!if_none_match(header, "\"abc\""), "{header:?}");
    }
    // Our own ETag malformed: nothing matches, not even `*`.
    assert!(!if_none_match("*", "abc"));
    assert!(!if_none_match("abc", "abc"));
    assert!(!if_none_match("\"abc\"", ""));
}

#[test]
fn if_match_strong_comparison() {
    assert!(if_match("\"abc\"", "\"abc\""));
    assert!(if_match("\"x\", \"abc\"", "\"abc\""));
    assert!(if_match("*", "\"abc\""));
    assert!(if_match("*", "W/\"abc\""));
    assert!(!if_match("W/\"abc\"", "\"abc\""));
    assert!(!if_match("\"abc\"", "W/\"abc\""));
    assert!(!if_match("W/\"abc\"", "W/\"abc\""));
    assert!(if_match("W/\"abc\", \"abc\"", "\"abc\""));
    assert!(!if_match("\"abcd\"", "\"abc\""));
    assert!(!if_match("", "\"abc\""));
    assert!(if_match("\"a,b\", \"c\"", "\"a,b\""));
    assert!(!if_match("\"a,b\"", "\"a\""));
    assert!(!if_match("*", "abc"));
    assert!(!if_match("abc", "\"abc\""));
}

#[test]
fn computed_etag_round_trips_through_headers() {
    let etag = compute_etag(b"body");
    assert!(if_none_match(&etag, &etag));
    assert!(if_match(&etag, &etag));
    assert!(if_none_match(&format!("W/{etag}"), &etag));
    assert!(!if_match(&format!("W/{etag}"), &etag));
    assert!(!if_none_match(&compute_etag(b"other"), &etag));
}

#[test]
fn memo_always_gives_the_body_s_etag() {
    let mut memo = EtagMemo::default();
    let big = vec![7u8; MEMO_MAX + 1];
    let bodies: [&[u8]; 8] = [
        b"Hello, World!",
        b"Hello, World!",
        b"Hello, World?",
        b"",
        b"",
        &big,
        &big,
        b"Hello, World!",
    ];
    for body in bodies {
        assert_eq!(memo.tag_of(body), compute_etag(body));
        assert_eq!(memo.last(), compute_etag(body));
    }
}
