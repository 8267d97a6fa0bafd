//! Tornado's version-2 signed values: what `set_signed_cookie` writes and
//! `signed_cookie` verifies, with key rotation by key version.

use super::crypto::{constant_time_eq, hmac_sha256_hex};
use super::secrets::CookieSecrets;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Seconds in a day, for `max_age_days`.
const DAY_SECS: f64 = 86_400.0;

/// How far in the future a signed value's timestamp may be before it is refused (31 days, the
/// bound Tornado applies to its version-1 values).
pub const MAX_FUTURE_SECS: u64 = 31 * 86_400;

// ---------------------------------------------------------------------------------------------
// Signed values (Tornado version 2)
// ---------------------------------------------------------------------------------------------

fn push_field(out: &mut String, field: &str) {
    out.push_str(&field.len().to_string());
    out.push(':');
    out.push_str(field);
    out.push('|');
}

/// Signs `value` for the cookie `name` at `timestamp` (seconds since the Unix epoch), in
/// Tornado's version-2 format (see [`crate::web::cookies`]).
///
/// The key version field is the secrets' current version, or `0` for a single secret; the
/// value is base64-encoded, so any bytes may be signed. The result consists of cookie-octets
/// only, so it is always a valid [`Cookie`](crate::web::cookies::Cookie) value. Field lengths count bytes (Tornado counts
/// characters for its `str` name; the two agree for the token names cookies allow).
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{create_signed_value, CookieSecrets};
///
/// let secrets = CookieSecrets::single("It's a secret to everybody");
/// assert_eq!(
///     create_signed_value(&secrets, "key", b"value", 1_300_000_000),
///     "2|1:0|10:1300000000|3:key|8:dmFsdWU=|\
///      3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152"
/// );
/// ```
pub fn create_signed_value(
    secrets: &CookieSecrets,
    name: &str,
    value: &[u8],
    timestamp: u64,
) -> String {
    let (key_version, mac) = secrets.signing_key();
    let encoded = STANDARD.encode(value);
    let mut out = String::with_capacity(name.len() + encoded.len() + 112);
    out.push_str("2|");
    push_field(&mut out, &key_version.to_string());
    push_field(&mut out, &timestamp.to_string());
    push_field(&mut out, name);
    push_field(&mut out, &encoded);
    let signature = hmac_sha256_hex(mac, out.as_bytes());
    out.push_str(&signature);
    out
}

/// Verifies a version-2 signed value made for the cookie `name` and returns the value it
/// carries, or `None` if anything is wrong with it.
///
/// `None` when:
/// - the format is not exactly Tornado's version 2 (version prefix, length-prefixed fields of
///   exactly the stated lengths, decimal digits only, canonical padded base64);
/// - the key version it names is not among the secrets (a single secret accepts any);
/// - the HMAC-SHA256 signature does not match (compared in constant time);
/// - it was made for another cookie name;
/// - it is older than `max_age_days` days at `now` (Tornado's test: the value is accepted up
///   to and including exactly `max_age_days` old; a NaN `max_age_days` accepts nothing);
/// - its timestamp is more than [`MAX_FUTURE_SECS`] (31 days) after `now`. Tornado checks
///   this only for version-1 values; Squall also checks it here, which costs nothing to
///   honest clients and caps how long a value signed with a wrong clock stays valid.
///
/// Version-1 values (HMAC-SHA1, no version prefix) are not accepted. Parsing is linear in the
/// input's length and never panics.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{decode_signed_value, CookieSecrets};
///
/// let secrets = CookieSecrets::single("It's a secret to everybody");
/// let signed = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|\
///               3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";
/// let now = 1_300_000_060;
/// assert_eq!(decode_signed_value(&secrets, "key", signed, 31.0, now), Some(b"value".to_vec()));
/// assert_eq!(decode_signed_value(&secrets, "other", signed, 31.0, now), None);
/// assert_eq!(decode_signed_value(&secrets, "key", &signed[..60], 31.0, now), None);
/// ```
pub fn decode_signed_value(
    secrets: &CookieSecrets,
    name: &str,
    signed: &str,
    max_age_days: f64,
    now: u64,
) -> Option<Vec<u8>> {
    let fields = V2Fields::parse(signed.as_bytes())?;
    let mac = secrets.verifying_key(fields.key_version)?;
    let expected = hmac_sha256_hex(mac, fields.signed_part);
    if !constant_time_eq(fields.signature, expected.as_bytes()) {
        return None;
    }
    if fields.name != name.as_bytes() {
        return None;
    }
    let timestamp = parse_decimal(fields.timestamp)?;
    // Age in i128 so that neither a future timestamp nor a huge one wraps.
    let age = i128::from(now) - i128::from(timestamp);
    // A NaN bound refuses everything: every comparison with NaN is false.
    let fresh = (age as f64) <= max_age_days * DAY_SECS;
    if !fresh {
        return None;
    }
    if timestamp > now.saturating_add(MAX_FUTURE_SECS) {
        return None;
    }
    STANDARD.decode(fields.value).ok()
}

/// The key version a version-2 signed value names, without verifying it (Tornado's
/// `get_signature_key_version`); `None` if it is not well-formed.
///
/// Use it after [`decode_signed_value`] succeeds to see whether the value should be re-signed
/// with the [current](CookieSecrets::current_version) key.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{create_signed_value, signature_key_version, CookieSecrets};
///
/// let secrets = CookieSecrets::versioned([(7, "k")], 7).unwrap();
/// let signed = create_signed_value(&secrets, "n", b"v", 1_300_000_000);
/// assert_eq!(signature_key_version(&signed), Some(7));
/// assert_eq!(signature_key_version("garbage"), None);
/// ```
pub fn signature_key_version(signed: &str) -> Option<u32> {
    V2Fields::parse(signed.as_bytes()).map(|f| f.key_version)
}

/// A version-2 signed value cut into its fields; nothing verified yet.
struct V2Fields<'a> {
    key_version: u32,
    timestamp: &'a [u8],
    name: &'a [u8],
    value: &'a [u8],
    /// Everything the signature covers: the input up to and including the `|` before it.
    signed_part: &'a [u8],
    signature: &'a [u8],
}

impl<'a> V2Fields<'a> {
    fn parse(input: &'a [u8]) -> Option<V2Fields<'a>> {
        let rest = input.strip_prefix(b"2|")?;
        let (key_version, rest) = take_field(rest)?;
        let (timestamp, rest) = take_field(rest)?;
        let (name, rest) = take_field(rest)?;
        let (value, signature) = take_field(rest)?;
        let signed_part = input.get(..input.len() - signature.len())?;
        Some(V2Fields {
            key_version: u32::try_from(parse_decimal(key_version)?).ok()?,
            timestamp,
            name,
            value,
            signed_part,
            signature,
        })
    }
}

/// Takes one `<len>:<len bytes>|` field off the front of `input`; returns it and the rest.
fn take_field(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = input.iter().position(|&b| b == b':')?;
    let len = usize::try_from(parse_decimal(input.get(..colon)?)?).ok()?;
    let rest = input.get(colon + 1..)?;
    let field = rest.get(..len)?;
    if rest.get(len) != Some(&b'|') {
        return None;
    }
    Some((field, rest.get(len + 1..)?))
}

/// Non-empty ASCII digits to a `u64`; `None` on anything else or on overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::cookies::Cookie;
    use crate::web::crypto::hmac_key;

    const SECRET: &str = "It's a secret to everybody";
    const PRESENT: u64 = 1_300_000_000;
    const VECTOR: &str = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|\
                          3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";
    const SIG: &str = "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";

    fn secrets() -> CookieSecrets {
        CookieSecrets::single(SECRET)
    }

    fn decode(signed: &str) -> Option<Vec<u8>> {
        decode_signed_value(&secrets(), "key", signed, 31.0, PRESENT)
    }

    #[test]
    fn tornado_vector_produced() {
        assert_eq!(
            create_signed_value(&secrets(), "key", b"value", PRESENT),
            VECTOR
        );
    }

    #[test]
    fn tornado_vector_accepted() {
        assert_eq!(decode(VECTOR), Some(b"value".to_vec()));
        for now in [PRESENT - 10, PRESENT + 1, PRESENT + 86_400] {
            assert_eq!(
                decode_signed_value(&secrets(), "key", VECTOR, 31.0, now),
                Some(b"value".to_vec())
            );
        }
    }

    #[test]
    fn wrong_secret_rejected() {
        let other = CookieSecrets::single("It's a secret to everybody!");
        assert_eq!(
            decode_signed_value(&other, "key", VECTOR, 31.0, PRESENT),
            None
        );
    }

    #[test]
    fn name_swap_rejected() {
        let s = secrets();
        let signed1 = create_signed_value(&s, "key1", b"value", PRESENT);
        let signed2 = create_signed_value(&s, "key2", b"value", PRESENT);
        assert_eq!(
            decode_signed_value(&s, "key2", &signed1, 31.0, PRESENT),
            None
        );
        assert_eq!(
            decode_signed_value(&s, "key1", &signed2, 31.0, PRESENT),
            None
        );
        assert_eq!(
            decode_signed_value(&s, "key1", &signed1, 31.0, PRESENT),
            Some(b"value".to_vec())
        );
    }

    #[test]
    fn expiry() {
        let s = secrets();
        let past = PRESENT - 86_400 * 32;
        let signed = create_signed_value(&s, "key1", b"value", past);
        assert_eq!(
            decode_signed_value(&s, "key1", &signed, 31.0, past),
            Some(b"value".to_vec())
        );
        assert_eq!(
            decode_signed_value(&s, "key1", &signed, 31.0, PRESENT),
            None
        );
        // Boundary: exactly max_age old is still accepted, one second more is not.
        let limit = past + 31 * 86_400;
        assert!(decode_signed_value(&s, "key1", &signed, 31.0, limit).is_some());
        assert!(decode_signed_value(&s, "key1", &signed, 31.0, limit + 1).is_none());
        // Fractional days, zero, negative and NaN bounds.
        assert!(decode_signed_value(&s, "key1", &signed, 0.5, past + 43_200).is_some());
        assert!(decode_signed_value(&s, "key1", &signed, 0.5, past + 43_201).is_none());
        assert!(decode_signed_value(&s, "key1", &signed, 0.0, past).is_some());
        assert!(decode_signed_value(&s, "key1", &signed, 0.0, past + 1).is_none());
        assert!(decode_signed_value(&s, "key1", &signed, -1.0, past).is_none());
        assert!(decode_signed_value(&s, "key1", &signed, f64::NAN, past).is_none());
        assert!(decode_signed_value(&s, "key1", &signed, f64::INFINITY, u64::MAX).is_some());
    }

    #[test]
    fn future_timestamp() {
        let s = secrets();
        let signed = create_signed_value(&s, "key", b"value", PRESENT + MAX_FUTURE_SECS);
        assert!(decode_signed_value(&s, "key", &signed, 31.0, PRESENT).is_some());
        let signed = create_signed_value(&s, "key", b"value", PRESENT + MAX_FUTURE_SECS + 1);
        assert!(decode_signed_value(&s, "key", &signed, 31.0, PRESENT).is_none());
        let signed = create_signed_value(&s, "key", b"value", u64::MAX);
        assert!(decode_signed_value(&s, "key", &signed, f64::INFINITY, 0).is_none());
        assert!(decode_signed_value(&s, "key", &signed, 31.0, u64::MAX).is_some());
    }

    #[test]
    fn every_truncation_rejected() {
        for end in 0..VECTOR.len() {
            assert_eq!(decode(&VECTOR[..end]), None, "{}", &VECTOR[..end]);
            assert_eq!(signature_key_version(&VECTOR[..end]).is_some(), end >= 37);
        }
        assert_eq!(decode(VECTOR), Some(b"value".to_vec()));
    }

    #[test]
    fn binary_and_empty_values_round_trip() {
        let s = secrets();
        for value in [&b""[..], b"\xe9", b"\x00\xff|:;\r\n", &[7u8; 1000]] {
            let signed = create_signed_value(&s, "key", value, PRESENT);
            assert!(Cookie::new("key", signed.clone()).to_header_value().is_ok());
            assert_eq!(
                decode_signed_value(&s, "key", &signed, 31.0, PRESENT).as_deref(),
                Some(value)
            );
        }
    }

    #[test]
    fn key_rotation() {
        let v0 = CookieSecrets::versioned([(0, "asdfbasdf")], 0).unwrap();
        let signed = create_signed_value(&v0, "key", b"\xe9", PRESENT);
        assert!(signed.starts_with("2|1:0|"));
        assert_eq!(signature_key_version(&signed), Some(0));

        let both = CookieSecrets::versioned([(0, "asdfbasdf"), (1, "12312312")], 1).unwrap();
        assert_eq!(
            decode_signed_value(&both, "key", &signed, 31.0, PRESENT),
            Some(b"\xe9".to_vec())
        );
        let resigned = create_signed_value(&both, "key", b"\xe9", PRESENT);
        assert_eq!(signature_key_version(&resigned), Some(1));
        assert!(decode_signed_value(&both, "key", &resigned, 31.0, PRESENT).is_some());

        let only1 = CookieSecrets::versioned([(1, "12312312")], 1).unwrap();
        assert_eq!(
            decode_signed_value(&only1, "key", &signed, 31.0, PRESENT),
            None
        );
        assert!(decode_signed_value(&only1, "key", &resigned, 31.0, PRESENT).is_some());

        // A key version cannot be relabelled: the version field is signed.
        let relabelled = resigned.replacen("2|1:1|", "2|1:0|", 1);
        assert_eq!(
            decode_signed_value(&both, "key", &relabelled, 31.0, PRESENT),
            None
        );
    }

    #[test]
    fn single_secret_matches_version_zero_of_a_map() {
        let single = secrets();
        let map = CookieSecrets::versioned([(0, SECRET)], 0).unwrap();
        assert_eq!(create_signed_value(&map, "key", b"value", PRESENT), VECTOR);
        assert_eq!(
            decode_signed_value(&map, "key", VECTOR, 31.0, PRESENT),
            decode_signed_value(&single, "key", VECTOR, 31.0, PRESENT)
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let single = format!("{:?}", CookieSecrets::single("hunter2-supersecret"));
        assert!(!single.contains("hunter2"), "{single}");
        let map = CookieSecrets::versioned([(0, "hunter2-a"), (5, "hunter2-b")], 5).unwrap();
        let shown = format!("{map:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("[0, 5]") && shown.contains("current: 5"),
            "{shown}"
        );
    }

    #[test]
    fn tornado_payload_tampering() {
        let validate = |prefix: &str| decode(&format!("{prefix}{SIG}")) == Some(b"value".to_vec());
        assert!(validate("2|1:0|10:1300000000|3:key|8:dmFsdWU=|"));
        assert!(!validate("2|1:1|10:1300000000|3:key|8:dmFsdWU=|"));
        assert!(!validate("2|1:0|10:130000000|3:key|8:dmFsdWU=|"));
        assert!(!validate("2|1:0|10:1300000000|3:keey|8:dmFsdWU=|"));
        assert!(!validate("2|1:0|10:1300000000|3:key|8:dmFsdWV=|"));
    }

    #[test]
    fn tornado_signature_tampering() {
        let prefix = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|";
        let validate = |sig: &str| decode(&format!("{prefix}{sig}")) == Some(b"value".to_vec());
        assert!(validate(SIG));
        assert!(!validate(&"0".repeat(32)));
        assert!(!validate(&"0".repeat(64)));
        assert!(!validate(
            "4d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152"
        ));
        assert!(!validate(
            "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e153"
        ));
        assert!(!validate(
            "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e15"
        ));
        assert!(!validate(
            "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e1538"
        ));
        assert!(!validate(&SIG.to_uppercase()));
        assert!(!validate(""));
    }

    #[test]
    fn every_single_byte_change_rejected() {
        for i in 0..VECTOR.len() {
            for replacement in [b'0', b'1', b'9', b'a', b'|', b':', b'=', b'x'] {
                let mut bytes = VECTOR.as_bytes().to_vec();
                if bytes[i] == replacement {
                    continue;
                }
                bytes[i] = replacement;
                let mutated = String::from_utf8(bytes).unwrap();
                assert_eq!(decode(&mutated), None, "{mutated}");
            }
        }
    }

    #[test]
    fn malformed_rejected() {
        for bad in [
            "",
            "2",
            "2|",
            "1|1:0|10:1300000000|3:key|8:dmFsdWU=|",
            "3|1:0|10:1300000000|3:key|8:dmFsdWU=|",
            "dmFsdWU=|1300000000|31c934969f53e48164c50768b40cbd7e2daaaa4f",
            "2|:0|10:1300000000|3:key|8:dmFsdWU=|",
            "2|+1:0|10:1300000000|3:key|8:dmFsdWU=|",
            "2|-1:0|10:1300000000|3:key|8:dmFsdWU=|",
            "2|1:0|99999999999999999999999:1300000000|3:key|8:dmFsdWU=|",
            "2|1:0|18446744073709551615:x|",
            "2|1:0|10:1300000000|3:key|8:dmFsdWU=",
            "2|1:0|10:1300000000|3:key|9:dmFsdWU=|",
            "2|0:|10:1300000000|3:key|8:dmFsdWU=|",
            "2|11:99999999999|10:1300000000|3:key|8:dmFsdWU=|",
            "2|1:0|10:13000000x0|3:key|8:dmFsdWU=|",
        ] {
            assert_eq!(decode(&format!("{bad}{SIG}")), None, "{bad}");
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn well_signed_but_bad_inner_fields_rejected() {
        // Signed with the right key, yet the timestamp or base64 is not acceptable.
        let mac = hmac_key(SECRET.as_bytes());
        for prefix in [
            "2|1:0|10:13000000x0|3:key|8:dmFsdWU=|",
            "2|1:0|0:|3:key|8:dmFsdWU=|",
            "2|1:0|10:1300000000|3:key|8:dmFsdWU*|",
            "2|1:0|10:1300000000|3:key|7:dmFsdWU|",
        ] {
            let signed = format!("{prefix}{}", hmac_sha256_hex(&mac, prefix.as_bytes()));
            assert_eq!(decode(&signed), None, "{signed}");
        }
        // Leading zeros in the timestamp are accepted, as Python's int() does.
        let prefix = "2|1:0|11:01300000000|3:key|8:dmFsdWU=|";
        let signed = format!("{prefix}{}", hmac_sha256_hex(&mac, prefix.as_bytes()));
        assert_eq!(decode(&signed), Some(b"value".to_vec()));
    }
}
