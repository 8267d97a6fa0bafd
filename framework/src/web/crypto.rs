//! The web layer's cryptographic primitives, in one place: constant-time comparison, HMAC-SHA256
//! keys and signatures, and Python's lowercase hex. [`signed`](super::signed) (signed values and
//! cookie secrets), [`xsrf`](super::xsrf) (masked tokens) and [`cookies`](super::cookies) use
//! these and nothing else, so a reviewer of the security code reads one file for the primitives.
//!
//! ### Invariants
//!
//! - A secret or a signature is compared only with [`constant_time_eq`].
//! - HMAC keys are built once ([`hmac_key`]) and cloned per signature; any key length works
//!   (HMAC hashes long keys and pads short ones). Refusing empty keys is the callers' policy
//!   (`CookieSecrets` and the start-up check), not this module's.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An HMAC-SHA256 keyed with a secret, ready to be cloned for each signature.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Compares two byte strings in time that depends only on their lengths.
///
/// Returns `false` at once when the lengths differ (the length is not secret: a valid
/// signature's length is public). Otherwise every byte pair is examined whatever the first
/// difference, so timing does not reveal how long a matching prefix an attacker has guessed.
/// The accumulator passes through [`std::hint::black_box`] to keep the optimiser from adding an
/// early exit; that is best effort, as it is in any Rust code without inline assembly.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::constant_time_eq;
///
/// assert!(constant_time_eq(b"secret", b"secret"));
/// assert!(!constant_time_eq(b"secret", b"secreT"));
/// assert!(!constant_time_eq(b"secret", b"secret!"));
/// assert!(constant_time_eq(b"", b""));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff = std::hint::black_box(diff | (x ^ y));
    }
    diff == 0
}

/// The HMAC-SHA256 key for `secret` (any length).
pub(crate) fn hmac_key(secret: &[u8]) -> HmacSha256 {
    // HMAC hashes keys longer than a block and pads shorter ones: every length is accepted.
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The HMAC-SHA256 of `data` under `key`, in lowercase hex (Python's `hexdigest()`).
pub(crate) fn hmac_sha256_hex(key: &HmacSha256, data: &[u8]) -> String {
    let mut mac = key.clone();
    mac.update(data);
    hex_lower(&mac.finalize().into_bytes())
}

/// Lowercase hex, as Python's `hexdigest()` and `binascii.b2a_hex` write it.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"bbc"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(&[0xff; 32], &[0x00; 32]));
    }

    #[test]
    fn hex_lower_matches_python() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex_lower(&[]), "");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = hmac_key(b"Jefe");
        assert_eq!(
            hmac_sha256_hex(&key, b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The key is reusable: a second signature is computed from a fresh clone.
        assert_eq!(
            hmac_sha256_hex(&key, b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
