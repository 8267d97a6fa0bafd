//! XSRF tokens in Tornado's version-2 format.
//!
//! A token is 16 random bytes from the OS CSPRNG plus the time it was made. The `_xsrf` cookie
//! and the copy a form or script sends back both hold it *encoded*:
//!
//! ```text
//! 2|<mask: 4 bytes, hex>|<token XOR mask, hex>|<timestamp>
//! ```
//!
//! ### Masking (BREACH)
//!
//! Each [`encode_v2`](XsrfToken::encode_v2) draws a fresh 4-byte mask and XORs it, repeated,
//! over the token, so the same token renders differently in every response. A compressed page
//! then never repeats a secret an attacker could recover byte by byte from compressed sizes
//! (<http://breachattack.com>). Decoding removes the mask; two encodings are compared by their
//! raw tokens with [`tokens_match`], in constant time.
//!
//! ### Version 1
//!
//! Tornado's older cookies hold the token as plain hex, or, when the string is not hex, as its
//! raw bytes; [`XsrfToken::decode`] accepts both as Tornado does, so a v1 cookie keeps working
//! against a v2 form and the other way round. Any other explicit version (`3|...`) is refused.

use std::fmt;

use super::crypto::{constant_time_eq, hex_lower};

/// A raw XSRF token and the time it was made.
///
/// `Debug` shows the token's length and timestamp, not its bytes.
///
/// # Examples
///
/// ```
/// use squall::web::xsrf::{tokens_match, XsrfToken};
///
/// let token = XsrfToken::generate(1_700_000_000).unwrap();
/// let cookie = token.encode_v2().unwrap();
/// let form = token.encode_v2().unwrap();
/// assert_ne!(cookie, form); // masked differently
///
/// let from_cookie = XsrfToken::decode(&cookie, 1_700_000_005).unwrap();
/// let from_form = XsrfToken::decode(&form, 1_700_000_005).unwrap();
/// assert!(tokens_match(&from_cookie, &from_form));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct XsrfToken {
    token: Vec<u8>,
    timestamp: u64,
}

impl XsrfToken {
    /// The length of a generated token in bytes (as Tornado's `os.urandom(16)`).
    pub const LEN: usize = 16;

    /// A new token of [`LEN`](Self::LEN) bytes from the OS CSPRNG, stamped `now` (seconds since
    /// the Unix epoch).
    ///
    /// # Errors
    ///
    /// The OS random source failed (see [`getrandom::getrandom`]). Do not fall back to a weaker
    /// source: refuse the request instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// let token = XsrfToken::generate(1_700_000_000).unwrap();
    /// assert_eq!(token.token().len(), XsrfToken::LEN);
    /// assert_eq!(token.timestamp(), 1_700_000_000);
    /// ```
    pub fn generate(now: u64) -> Result<XsrfToken, getrandom::Error> {
        let mut token = vec![0u8; Self::LEN];
        getrandom::getrandom(&mut token)?;
        Ok(XsrfToken {
            token,
            timestamp: now,
        })
    }

    /// A token from its raw bytes and timestamp.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// let token = XsrfToken::from_parts(vec![0xde, 0xad], 5);
    /// assert_eq!(token.encode_v1(), "dead");
    /// ```
    pub fn from_parts(token: Vec<u8>, timestamp: u64) -> XsrfToken {
        XsrfToken { token, timestamp }
    }

    /// The raw token bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// assert_eq!(XsrfToken::from_parts(vec![1, 2], 0).token(), &[1, 2]);
    /// ```
    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// When the token was made, in seconds since the Unix epoch. For a token decoded from
    /// version 1, which records no time, this is the `now` given to [`decode`](Self::decode).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// assert_eq!(XsrfToken::from_parts(vec![1], 42).timestamp(), 42);
    /// ```
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Encodes the token in version 2 under a fresh random mask: every call gives a different
    /// string, all decoding to this token. This is what goes into the `_xsrf` cookie and into
    /// forms.
    ///
    /// # Errors
    ///
    /// The OS random source failed to provide the mask.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// let token = XsrfToken::from_parts(vec![0xab; 16], 1_700_000_000);
    /// let encoded = token.encode_v2().unwrap();
    /// assert!(encoded.starts_with("2|") && encoded.ends_with("|1700000000"));
    /// assert_eq!(XsrfToken::decode(&encoded, 0), Some(token));
    /// ```
    pub fn encode_v2(&self) -> Result<String, getrandom::Error> {
        let mut mask = [0u8; 4];
        getrandom::getrandom(&mut mask)?;
        Ok(self.encode_v2_with_mask(mask))
    }

    /// Encodes the token in version 2 under the given mask. Only for tests and reproducible
    /// output: reusing a mask across responses defeats the point of masking; use
    /// [`encode_v2`](Self::encode_v2).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// let token = XsrfToken::from_parts(vec![0x00, 0x11, 0x22, 0x33, 0x44], 1300000000);
    /// assert_eq!(
    ///     token.encode_v2_with_mask([0x0f, 0xf0, 0xff, 0x00]),
    ///     "2|0ff0ff00|0fe1dd334b|1300000000"
    /// );
    /// ```
    pub fn encode_v2_with_mask(&self, mask: [u8; 4]) -> String {
        let masked = apply_mask(mask, &self.token);
        format!(
            "2|{}|{}|{}",
            hex_lower(&mask),
            hex_lower(&masked),
            self.timestamp
        )
    }

    /// Encodes the token in version 1: plain lowercase hex, the same string every time (Tornado's
    /// `xsrf_cookie_version = 1`). Prefer [`encode_v2`](Self::encode_v2).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// assert_eq!(XsrfToken::from_parts(vec![0xde, 0xad, 0xbe, 0xef], 0).encode_v1(), "deadbeef");
    /// ```
    pub fn encode_v1(&self) -> String {
        hex_lower(&self.token)
    }

    /// Decodes a token from a cookie, form field or header, as Tornado's `_decode_xsrf_token`
    /// does; `now` stamps version-1 tokens, which carry no time.
    ///
    /// - `2|<mask>|<masked>|<timestamp>`: exactly four fields; the mask exactly 4 bytes of hex,
    ///   the masked token non-empty hex (either case), the timestamp decimal digits.
    /// - Any other leading `<version>|` (a decimal number without leading zero): `None`.
    /// - Anything else is version 1: the string hex-decoded, or if it is not hex, its raw bytes.
    ///
    /// `None` also for an empty string or an empty token, so a caller that gets `None` from the
    /// cookie simply makes a new token (Tornado would keep an empty one and then fail every
    /// check). Linear in the input's length; never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::xsrf::XsrfToken;
    ///
    /// let v2 = XsrfToken::decode("2|0ff0ff00|0fe1dd334b|1300000000", 0).unwrap();
    /// assert_eq!(v2.token(), &[0x00, 0x11, 0x22, 0x33, 0x44]);
    /// assert_eq!(v2.timestamp(), 1_300_000_000);
    ///
    /// assert_eq!(XsrfToken::decode("deadbeef", 7).unwrap().token(), &[0xde, 0xad, 0xbe, 0xef]);
    /// assert_eq!(XsrfToken::decode("xoxo", 7).unwrap().token(), b"xoxo");
    /// assert_eq!(XsrfToken::decode("3|", 7), None);
    /// ```
    pub fn decode(s: &str, now: u64) -> Option<XsrfToken> {
        if s.is_empty() {
            return None;
        }
        match explicit_version(s) {
            Some("2") => decode_v2(s),
            Some(_) => None,
            None => {
                let token = hex_decode(s).unwrap_or_else(|| s.as_bytes().to_vec());
                Some(XsrfToken {
                    token,
                    timestamp: now,
                })
            }
        }
    }
}

impl fmt::Debug for XsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XsrfToken")
            .field("token_len", &self.token.len())
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// Whether two tokens hold the same raw bytes, compared in constant time (timestamps are not
/// compared). An empty token matches nothing, not even another empty one.
///
/// # Examples
///
/// ```
/// use squall::web::xsrf::{tokens_match, XsrfToken};
///
/// let a = XsrfToken::from_parts(vec![1, 2, 3], 10);
/// assert!(tokens_match(&a, &XsrfToken::from_parts(vec![1, 2, 3], 99)));
/// assert!(!tokens_match(&a, &XsrfToken::from_parts(vec![1, 2, 4], 10)));
/// assert!(!tokens_match(&XsrfToken::from_parts(vec![], 0), &XsrfToken::from_parts(vec![], 0)));
/// ```
pub fn tokens_match(a: &XsrfToken, b: &XsrfToken) -> bool {
    !a.token.is_empty() && constant_time_eq(&a.token, &b.token)
}

/// The hidden form field carrying an encoded token, for every form that POSTs (Tornado's
/// `xsrf_form_html`, without its XHTML `/`). The value is HTML-escaped.
///
/// # Examples
///
/// ```
/// use squall::web::xsrf::form_html;
///
/// assert_eq!(
///     form_html("2|0ff0ff00|0fe1dd334b|1300000000"),
///     r#"<input type="hidden" name="_xsrf" value="2|0ff0ff00|0fe1dd334b|1300000000">"#
/// );
/// assert_eq!(
///     form_html(r#""><script>"#),
///     r#"<input type="hidden" name="_xsrf" value="&quot;&gt;&lt;script&gt;">"#
/// );
/// ```
pub fn form_html(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len() + 48);
    out.push_str(r#"<input type="hidden" name="_xsrf" value=""#);
    escape_html_into(&mut out, encoded);
    out.push_str(r#"">"#);
    out
}

/// Escapes `&`, `<`, `>`, `"` and `'` (as Tornado's `xhtml_escape`). Local on purpose: this
/// layer must not depend on the escape module.
fn escape_html_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// XORs `data` with `mask` repeated (RFC 6455 §5.3 masking, which Tornado reuses here).
/// Applying it twice with the same mask gives `data` back.
fn apply_mask(mask: [u8; 4], data: &[u8]) -> Vec<u8> {
    data.iter()
        .zip(mask.iter().cycle())
        .map(|(d, m)| d ^ m)
        .collect()
}

/// The version of a string that starts `<1-9><digits>|`, as Tornado's
/// `_signed_value_version_re` reads it; `None` if it does not start so.
fn explicit_version(s: &str) -> Option<&str> {
    let (version, _) = s.split_once('|')?;
    let first = *version.as_bytes().first()?;
    if (b'1'..=b'9').contains(&first) && version.bytes().all(|b| b.is_ascii_digit()) {
        Some(version)
    } else {
        None
    }
}

fn decode_v2(s: &str) -> Option<XsrfToken> {
    let mut fields = s.split('|');
    let (_version, mask, masked, timestamp) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let mask: [u8; 4] = hex_decode(mask)?.try_into().ok()?;
    let masked = hex_decode(masked)?;
    if masked.is_empty() {
        return None;
    }
    Some(XsrfToken {
        token: apply_mask(mask, &masked),
        timestamp: parse_timestamp(timestamp)?,
    })
}

/// Hex (either case, even length) to bytes, as `binascii.a2b_hex`; `None` otherwise.
fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Non-empty decimal digits to a `u64`; `None` on anything else or on overflow.
fn parse_timestamp(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_300_000_000;

    fn token(bytes: &[u8]) -> XsrfToken {
        XsrfToken::from_parts(bytes.to_vec(), NOW)
    }

    #[test]
    fn generate_is_random() {
        let a = XsrfToken::generate(NOW).unwrap();
        let b = XsrfToken::generate(NOW).unwrap();
        assert_eq!(a.token().len(), 16);
        assert_ne!(a.token(), b.token());
        assert!(!tokens_match(&a, &b));
    }

    #[test]
    fn round_trip_with_differing_masks() {
        let t = XsrfToken::generate(NOW).unwrap();
        let encodings: Vec<String> = (0..10).map(|_| t.encode_v2().unwrap()).collect();
        for (i, e) in encodings.iter().enumerate() {
            // 2| + 8 hex + | + 32 hex + | + 10 digits
            assert_eq!(e.len(), 2 + 8 + 1 + 32 + 1 + 10, "{e}");
            let decoded = XsrfToken::decode(e, 0).unwrap();
            assert_eq!(decoded, t);
            assert!(tokens_match(&decoded, &t));
            for other in &encodings[i + 1..] {
                assert_ne!(e, other);
            }
        }
    }

    #[test]
    fn exact_v2_encoding() {
        let t = XsrfToken::from_parts((0u8..16).collect(), NOW);
        assert_eq!(
            t.encode_v2_with_mask([0xff, 0x00, 0xaa, 0x55]),
            "2|ff00aa55|ff01a856fb05ac52f709a05ef30da45a|1300000000"
        );
        let decoded =
            XsrfToken::decode("2|FF00AA55|FF01A856FB05AC52F709A05EF30DA45A|1300000000", 0).unwrap();
        assert_eq!(decoded, t);
    }

    #[test]
    fn masking_is_an_involution() {
        let data: Vec<u8> = (0u8..=255).collect();
        let mask = [0x12, 0x34, 0x56, 0x78];
        let masked = apply_mask(mask, &data);
        assert_eq!(&masked[..5], &[0x12, 0x35, 0x54, 0x7b, 0x16]);
        assert_eq!(apply_mask(mask, &masked), data);
        assert!(apply_mask(mask, &[]).is_empty());
    }

    #[test]
    fn v1_tokens_accepted() {
        let t = XsrfToken::decode("deadbeef", NOW).unwrap();
        assert_eq!(t.token(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(t.timestamp(), NOW);
        // Not hex (odd length or bad digit): the raw bytes, as Tornado.
        assert_eq!(XsrfToken::decode("xoxo", NOW).unwrap().token(), b"xoxo");
        assert_eq!(XsrfToken::decode("abc", NOW).unwrap().token(), b"abc");
        // Leading zero or a non-digit before the pipe is not a version: v1 raw bytes.
        assert_eq!(XsrfToken::decode("02|x", NOW).unwrap().token(), b"02|x");
        assert_eq!(XsrfToken::decode("|x", NOW).unwrap().token(), b"|x");
        assert_eq!(XsrfToken::decode("2a|x", NOW).unwrap().token(), b"2a|x");
        // A v1 token matches the v2 encoding of the same bytes, both ways.
        let v2 = XsrfToken::decode(&t.encode_v2().unwrap(), NOW).unwrap();
        assert!(tokens_match(&t, &v2) && tokens_match(&v2, &t));
        assert_eq!(t.encode_v1(), "deadbeef");
    }

    #[test]
    fn other_versions_rejected() {
        for s in [
            "3|",
            "1|abcd",
            "10|a|b|c",
            "99999999999999999999999|x",
            "3|0ff0ff00|0fe1dd334b|1",
        ] {
            assert_eq!(XsrfToken::decode(s, NOW), None, "{s}");
        }
    }

    #[test]
    fn garbage_v2_rejected() {
        for s in [
            "",
            "2|",
            "2|||",
            "2|0ff0ff00|0fe1dd334b",
            "2|0ff0ff00|0fe1dd334b|",
            "2|0ff0ff00|0fe1dd334b|1300000000|",
            "2|0ff0ff00|0fe1dd334b|13000000x0",
            "2|0ff0ff00|0fe1dd334b|-1",
            "2|0ff0ff00|0fe1dd334b|+1",
            "2|0ff0ff00|0fe1dd334b|99999999999999999999999",
            "2|0ff0ff|0fe1dd334b|1300000000",
            "2|0ff0ff0000|0fe1dd334b|1300000000",
            "2|0ff0ff0g|0fe1dd334b|1300000000",
            "2|0ff0ff00|0fe1dd334|1300000000",
            "2|0ff0ff00|0fe1dd334z|1300000000",
            "2|0ff0ff00||1300000000",
            "2|0ff0ff00|é0|1300000000",
        ] {
            assert_eq!(XsrfToken::decode(s, NOW), None, "{s:?}");
        }
    }

    #[test]
    fn every_prefix_of_v2_is_harmless() {
        let t = XsrfToken::generate(NOW).unwrap();
        let encoded = t.encode_v2().unwrap();
        for end in 0..encoded.len() {
            let prefix = &encoded[..end];
            if let Some(decoded) = XsrfToken::decode(prefix, NOW) {
                // Only prefixes cut inside the timestamp still decode, to the same token;
                // anything cut earlier is refused (or is the v1 reading of "2", which does
                // not match).
                let in_timestamp = end > encoded.rfind('|').unwrap() + 1;
                assert!(
                    in_timestamp || !tokens_match(&decoded, &t),
                    "{prefix} decoded to a matching token"
                );
            }
        }
        assert_eq!(XsrfToken::decode(&encoded, NOW).unwrap(), t);
    }

    #[test]
    fn every_single_character_change_never_panics() {
        let t = token(&[7; 16]);
        let encoded = t.encode_v2_with_mask([1, 2, 3, 4]);
        for i in 0..encoded.len() {
            for c in ['0', 'f', 'F', 'g', '|', ' ', 'é'] {
                let mut mutated = encoded.clone();
                mutated.replace_range(i..i + 1, c.encode_utf8(&mut [0; 4]));
                let _ = XsrfToken::decode(&mutated, NOW);
            }
        }
    }

    #[test]
    fn wrong_token_does_not_match() {
        let a = XsrfToken::generate(NOW).unwrap();
        let b = XsrfToken::generate(NOW).unwrap();
        let from_b = XsrfToken::decode(&b.encode_v2().unwrap(), NOW).unwrap();
        assert!(!tokens_match(&a, &from_b));
        // Same token, one byte off.
        let mut bytes = a.token().to_vec();
        bytes[15] ^= 1;
        assert!(!tokens_match(&a, &XsrfToken::from_parts(bytes, NOW)));
    }

    #[test]
    fn tokens_match_lengths_and_empty() {
        assert!(tokens_match(&token(b"abc"), &token(b"abc")));
        assert!(!tokens_match(&token(b"abc"), &token(b"abd")));
        assert!(!tokens_match(&token(b"abc"), &token(b"abcd")));
        assert!(!tokens_match(&token(b"abcd"), &token(b"abc")));
        assert!(!tokens_match(&token(b""), &token(b"")));
        assert!(!tokens_match(&token(b""), &token(b"a")));
        assert!(!tokens_match(&token(b"a"), &token(b"")));
        // Timestamps do not take part.
        assert!(tokens_match(
            &XsrfToken::from_parts(vec![1], 1),
            &XsrfToken::from_parts(vec![1], 2)
        ));
    }

    #[test]
    fn form_html_escapes() {
        assert_eq!(
            form_html("a&b<c>d\"e'f"),
            r#"<input type="hidden" name="_xsrf" value="a&amp;b&lt;c&gt;d&quot;e&#x27;f">"#
        );
        assert_eq!(
            form_html(""),
            r#"<input type="hidden" name="_xsrf" value="">"#
        );
    }

    #[test]
    fn debug_hides_token() {
        let t = token(&[0xab; 16]);
        let shown = format!("{t:?}");
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
        assert!(shown.contains("token_len: 16"), "{shown}");
    }
}
