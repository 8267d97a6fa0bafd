//! What a header we may send is: the one rule every path that writes a header field applies.
//!
//! - A **name** is an RFC 9110 `token`: one or more ASCII letters, digits and
//!   ``!#$%&'*+-.^_`|~``. No space, `:`, control or non-ASCII byte.
//! - A **value** is RFC 9110 `field-value` text: visible ASCII, space, horizontal tab, and bytes
//!   from 0x80 (`obs-text`, which UTF-8 text is made of). No CR, LF, NUL or other control, no
//!   DEL: nothing that could end the field or the head early (response splitting).
//!
//! [`validate_header_name`] and [`validate_header_value`] check the rule and name the first
//! byte that breaks it ([`InvalidHeader`]); [`header_ok`] is the same test without the detail.
//! All three accept a good header fast (16-byte SSE2 blocks, 8-byte words, a table for the
//! rest), since the server checks every header of every response it writes.
//!
//! Who applies the rule, and what a refusal does (no path drops a header silently):
//! - the web layer: `Context::set_header` / `add_header` return a 500 `HttpError` naming the
//!   header and the byte, at the call;
//! - the HTTP/1 server: `Responder::write_head`, `respond` and `upgrade` fail with
//!   `ResponseError::InvalidHeader`, nothing of that head is written and the refusal is logged;
//!   a responder then dropped without a response answers 500;
//! - the HTTP client: a request with such a header fails before anything is sent.
//!
//! Invariant: `header_ok(n, v)` holds exactly when both validators return `Ok` (the tests
//! compare the fast paths with the byte rule at every length, position and byte value).

use std::fmt;

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use crate::simd::Block;

/// Why a header name or value was refused by [`validate_header_name`] or
/// [`validate_header_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The header name is empty.
    EmptyName,
    /// The header name holds a byte that is not an RFC 9110 `tchar`.
    NameByte {
        /// The offending byte.
        byte: u8,
        /// Its offset in the name.
        index: usize,
    },
    /// The header value holds a control character (CR, LF, NUL, DEL, ...) other than HTAB.
    ValueByte {
        /// The offending byte.
        byte: u8,
        /// Its offset in the value.
        index: usize,
    },
}

/// Writes `0x0d (CR)` style descriptions of a byte.
struct ByteName(u8);

impl fmt::Display for ByteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x}", self.0)?;
        match self.0 {
            b'\r' => f.write_str(" (CR)"),
            b'\n' => f.write_str(" (LF)"),
            0 => f.write_str(" (NUL)"),
            0x20..=0x7e => write!(f, " ({:?})", self.0 as char),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InvalidHeader::EmptyName => f.write_str("empty header name"),
            InvalidHeader::NameByte { byte, index } => write!(
                f,
                "invalid byte {} at offset {index} in header name",
                ByteName(byte)
            ),
            InvalidHeader::ValueByte { byte, index } => write!(
                f,
                "control character {} at offset {index} in header value",
                ByteName(byte)
            ),
        }
    }
}

impl std::error::Error for InvalidHeader {}

/// Checks that `name` is a non-empty RFC 9110 token (`!#$%&'*+-.^_`|~`, digits, letters).
///
/// # Errors
///
/// [`InvalidHeader::EmptyName`] for an empty name, [`InvalidHeader::NameByte`] naming the first
/// byte outside the token set (space, `:`, CR, non-ASCII, ...).
///
/// # Examples
///
/// ```
/// use squall::httputil::{validate_header_name, InvalidHeader};
/// assert!(validate_header_name("X-Request-Id").is_ok());
/// assert_eq!(
///     validate_header_name("X Bad"),
///     Err(InvalidHeader::NameByte { byte: b' ', index: 1 })
/// );
/// ```
#[inline]
pub fn validate_header_name(name: &str) -> Result<(), InvalidHeader> {
    if name_ok(name.as_bytes()) {
        return Ok(());
    }
    name_error(name)
}

/// Which byte of a refused name broke the rule (out of the common path).
#[cold]
fn name_error(name: &str) -> Result<(), InvalidHeader> {
    if name.is_empty() {
        return Err(InvalidHeader::EmptyName);
    }
    match name.bytes().enumerate().find(|&(_, b)| !is_tchar(b)) {
        Some((index, byte)) => Err(InvalidHeader::NameByte { byte, index }),
        None => Ok(()),
    }
}

/// Checks that `value` holds no control character except horizontal tab.
///
/// CR, LF and NUL are refused (they would let a value end the header block: response
/// splitting), and so are the other C0 controls and DEL. Non-ASCII text is allowed (RFC 9110
/// `obs-text`).
///
/// # Errors
///
/// [`InvalidHeader::ValueByte`] naming the first control character found.
///
/// # Examples
///
/// ```
/// use squall::httputil::{validate_header_value, InvalidHeader};
/// assert!(validate_header_value("text/html;\tcharset=UTF-8").is_ok());
/// assert_eq!(
///     validate_header_value("a\r\nSet-Cookie: x"),
///     Err(InvalidHeader::ValueByte { byte: b'\r', index: 1 })
/// );
/// ```
#[inline]
pub fn validate_header_value(value: &str) -> Result<(), InvalidHeader> {
    if value_ok(value.as_bytes()) {
        return Ok(());
    }
    value_error(value)
}

/// Which byte of a refused value broke the rule (out of the common path).
#[cold]
fn value_error(value: &str) -> Result<(), InvalidHeader> {
    match value.bytes().enumerate().find(|&(_, b)| !is_value_byte(b)) {
        Some((index, byte)) => Err(InvalidHeader::ValueByte { byte, index }),
        None => Ok(()),
    }
}

/// RFC 9110 `tchar`: a byte of a header name (and of a cookie name).
#[inline(always)]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// `tchar` as a table: one load per byte of a header name.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// A byte a header value may hold: visible ASCII, SP, HTAB, or 0x80 and above.
#[inline(always)]
fn is_value_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) || b == b'\t'
}

/// Whether `name: value` is a header we may send: both validators' answer without the detail.
#[inline]
pub(crate) fn header_ok(name: &str, value: &str) -> bool {
    name_ok(name.as_bytes()) && value_ok(value.as_bytes())
}

#[inline(always)]
fn name_ok(s: &[u8]) -> bool {
    // 8 to 16 bytes (most names) as one SSE2 block.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(v) = Block::load_short(s) {
        return v.non_tchar() == 0;
    }
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

#[inline(always)]
fn value_ok(s: &[u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(v) = Block::load_short(s) {
        return (v.below_unsigned(0x20) & !v.eq(b'\t')) | v.eq(0x7f) == 0;
    }
    if s.len() < 8 {
        return s.iter().all(|&b| is_value_byte(b));
    }
    // Eight bytes at a time; a word with a control or DEL (a tab, say) is judged byte by byte.
    !any_word(s, |x| has_less(x, 0x20) | has_byte(x, 0x7f)) || s.iter().all(|&b| is_value_byte(b))
}

const LO: u64 = u64::from_ne_bytes([0x01; 8]);
const HI: u64 = u64::from_ne_bytes([0x80; 8]);

/// Nonzero iff some byte of `x` is below `n` (exact for n <= 128; bit-twiddling "hasless").
#[inline(always)]
fn has_less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

/// Nonzero iff some byte of `x` equals `n`.
#[inline(always)]
fn has_byte(x: u64, n: u8) -> u64 {
    has_less(x ^ (LO * n as u64), 1)
}

/// Whether `word` flags some eight bytes of `s` (at least 8 long). The last word may overlap
/// the one before: only existence matters.
#[inline(always)]
fn any_word(s: &[u8], word: impl Fn(u64) -> u64) -> bool {
    let load = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let mut found = 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        found |= word(load(c));
    }
    if !chunks.remainder().is_empty() {
        found |= word(load(&s[s.len() - 8..]));
    }
    found != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_table_is_rfc_9110() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn fast_checks_agree_with_the_byte_rule() {
        // Every byte value at every position of names and values of every length up to 33
        // (the block, word and byte paths and their edges), before neighbours that stress
        // the borrows of the word tricks.
        for len in 1..34usize {
            for pos in 0..len {
                for b in 0..=255u8 {
                    for (fill, next) in [(b'a', b'a'), (b'a', 0), (b'a', 0xff), (0x80, b'\t')] {
                        let mut s = vec![fill; len];
                        s[pos] = b;
                        if pos + 1 < len {
                            s[pos + 1] = next;
                        }
                        let name_rule = s.iter().all(|&c| is_tchar(c));
                        let value_rule = s.iter().all(|&c| is_value_byte(c));
                        assert_eq!(name_ok(&s), name_rule, "name {s:?}");
                        assert_eq!(value_ok(&s), value_rule, "value {s:?}");
                    }
                }
            }
        }
        assert!(!name_ok(b""));
        assert!(value_ok(b""));
    }

    #[test]
    fn header_ok_is_both_validators() {
        for (name, value) in [
            ("X-Id", "42"),
            ("X-\u{dc}n\u{ef}code", "v"),
            ("", "v"),
            ("X Id", "v"),
            ("X-Long-Header-Name", "a value that is long\r\nX: y"),
            ("X-Tab", "a\tb"),
            ("X-Del", "a\x7f"),
            ("X-Utf8", "caf\u{e9} au lait, \u{2603}"),
            ("X-Bell", "\x07"),
        ] {
            let both = validate_header_name(name).is_ok() && validate_header_value(value).is_ok();
            assert_eq!(header_ok(name, value), both, "{name:?}: {value:?}");
        }
    }

    // --- validation --------------------------------------------------------------------------

    #[test]
    fn header_name_validation() {
        assert_eq!(validate_header_name("Content-Type"), Ok(()));
        assert_eq!(validate_header_name("!#$%&'*+-.^_`|~09azAZ"), Ok(()));
        assert_eq!(validate_header_name(""), Err(InvalidHeader::EmptyName));
        assert_eq!(
            validate_header_name("Host:"),
            Err(InvalidHeader::NameByte {
                byte: b':',
                index: 4
            })
        );
        assert_eq!(
            validate_header_name("a\r\n"),
            Err(InvalidHeader::NameByte {
                byte: b'\r',
                index: 1
            })
        );
        assert_eq!(
            validate_header_name("é"),
            Err(InvalidHeader::NameByte {
                byte: 0xc3,
                index: 0
            })
        );
        for bad in ["a b", "a\"", "a(b)", "a/b", "a@b", "a{b}", "a\tb", "a,b"] {
            assert!(validate_header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_value_validation() {
        assert_eq!(validate_header_value(""), Ok(()));
        assert_eq!(validate_header_value("a\tb c ~ é"), Ok(()));
        for (value, byte, index) in [
            ("ab\r", b'\r', 2),
            ("\nx", b'\n', 0),
            ("a\0", 0, 1),
            ("a\x7f", 0x7f, 1),
            ("a\x1b[0m", 0x1b, 1),
        ] {
            assert_eq!(
                validate_header_value(value),
                Err(InvalidHeader::ValueByte { byte, index }),
                "{value:?}"
            );
        }
    }

    #[test]
    fn invalid_header_messages_name_the_problem() {
        assert_eq!(InvalidHeader::EmptyName.to_string(), "empty header name");
        assert_eq!(
            validate_header_name("a b").unwrap_err().to_string(),
            "invalid byte 0x20 (' ') at offset 1 in header name"
        );
        assert_eq!(
            validate_header_value("x\r\n").unwrap_err().to_string(),
            "control character 0x0d (CR) at offset 1 in header value"
        );
        assert_eq!(
            validate_header_value("\0").unwrap_err().to_string(),
            "control character 0x00 (NUL) at offset 0 in header value"
        );
        let e: Box<dyn std::error::Error> = Box::new(InvalidHeader::EmptyName);
        assert_eq!(e.to_string(), "empty header name");
    }
}
