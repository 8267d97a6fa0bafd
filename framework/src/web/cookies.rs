//! Cookies: reading the `Cookie` request header, writing `Set-Cookie` values, and signing
//! values the way Tornado's `create_signed_value` / `decode_signed_value` do (version 2).
//!
//! ### Reading is lenient, writing is strict
//!
//! [`parse_cookies`] accepts what browsers send, as Tornado's `httputil.parse_cookie` does, and
//! never fails. [`Cookie::to_header_value`] refuses anything RFC 6265 §4.1 does not allow, so
//! no name, value or attribute can end the header line or add an attribute of its own.
//!
//! ### Signed value format
//!
//! ```text
//! 2|1:0|10:1300000000|3:key|8:dmFsdWU=|3d4e60b9...e152
//! ^ ^^^ ^^^^^^^^^^^^^ ^^^^^ ^^^^^^^^^^ ^ HMAC-SHA256, lowercase hex, over everything before it
//! | |   |             |     `- base64 of the value
//! | |   |             `- cookie name (so a value cannot be moved to another cookie)
//! | |   `- timestamp, seconds since the Unix epoch
//! | `- key version (0 when the secret is not versioned)
//! `- format version
//! ```
//!
//! Every field but the first and the last is `<byte length>:<bytes>|`; decoding checks each
//! length exactly, so no field can borrow bytes from its neighbour. A value that fails any check
//! decodes as `None`: callers treat it as absent.
//!
//! ### Constant time
//!
//! Signatures are compared with [`constant_time_eq`], which looks at every byte whatever the
//! first difference. Only the length of a forged signature can be learned from timing, and the
//! length of a valid one is public anyway.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::httputil::is_tchar;

pub use super::secrets::{CookieSecrets, CookieSecretsError};
pub use super::signed::{
    create_signed_value, decode_signed_value, signature_key_version, MAX_FUTURE_SECS,
};

/// The constant-time comparison signatures are checked with (it lives in the crypto module).
pub use super::crypto::constant_time_eq;

// ---------------------------------------------------------------------------------------------
// The Cookie request header
// ---------------------------------------------------------------------------------------------

/// Splits a `Cookie` request header into `(name, value)` pairs, in header order.
///
/// Lenient, like Tornado's `httputil.parse_cookie` (itself Django's algorithm, which follows
/// browsers rather than the RFCs):
/// - the header is split on `;`, and each chunk on its first `=`;
/// - name and value are trimmed of whitespace;
/// - a value wrapped in double quotes has them removed; nothing is unescaped (Tornado also
///   decodes Python's `\ooo` escapes; Squall never writes them, so it does not read them);
/// - a chunk without `=` is yielded as a value with an empty name, as Python does (Mozilla bug
///   169091): a lookup by a real cookie name never sees it;
/// - chunks that are empty after trimming are skipped.
///
/// Duplicated names are all yielded; Tornado's dict keeps the last, which a caller building a
/// map gets by inserting in order. Runs in time linear in the header's length and never fails.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::parse_cookies;
///
/// let pairs: Vec<_> = parse_cookies(r#"a=1; b="two"; flag; c=x=y"#).collect();
/// assert_eq!(pairs, [("a", "1"), ("b", "two"), ("", "flag"), ("c", "x=y")]);
/// ```
pub fn parse_cookies(header: &str) -> CookiePairs<'_> {
    CookiePairs {
        chunks: header.split(';'),
    }
}

/// The iterator returned by [`parse_cookies`].
#[derive(Debug, Clone)]
pub struct CookiePairs<'a> {
    chunks: std::str::Split<'a, char>,
}

impl<'a> Iterator for CookiePairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        for chunk in self.chunks.by_ref() {
            let (name, value) = match chunk.split_once('=') {
                Some((name, value)) => (name.trim(), value.trim()),
                None => ("", chunk.trim()),
            };
            if name.is_empty() && value.is_empty() {
                continue;
            }
            return Some((name, strip_quotes(value)));
        }
        None
    }
}

impl std::iter::FusedIterator for CookiePairs<'_> {}

fn strip_quotes(value: &str) -> &str {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => value,
    }
}

// ---------------------------------------------------------------------------------------------
// Set-Cookie
// ---------------------------------------------------------------------------------------------

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only with same-site requests.
    Strict,
    /// Sent with same-site requests and top-level cross-site navigations.
    Lax,
    /// Sent with every request. Browsers ignore `SameSite=None` on a cookie that is not also
    /// [`secure`](Cookie::secure); [`Cookie`] emits what it is given and leaves that to you.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::SameSite;
    ///
    /// assert_eq!(SameSite::Lax.as_str(), "Lax");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// Why a [`Cookie`] cannot be written as a `Set-Cookie` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is empty or not an RFC 9110 token.
    InvalidName,
    /// The value holds a byte outside RFC 6265's cookie-octets (control characters, space,
    /// `"`, `,`, `;`, `\` or non-ASCII).
    InvalidValue,
    /// The domain holds `;` or a control character.
    InvalidDomain,
    /// The path holds `;` or a control character.
    InvalidPath,
    /// The expiry is before 1970 or after 9999, which HTTP dates cannot express.
    InvalidExpires,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CookieError::InvalidName => "invalid cookie name",
            CookieError::InvalidValue => "invalid cookie value",
            CookieError::InvalidDomain => "invalid cookie domain",
            CookieError::InvalidPath => "invalid cookie path",
            CookieError::InvalidExpires => "cookie expiry out of the HTTP date range",
        })
    }
}

impl std::error::Error for CookieError {}

/// A cookie to send, written into a `Set-Cookie` header by [`Cookie::to_header_value`].
///
/// The fields are public; the methods of the same names set them in a chain. Nothing is checked
/// until the header is written.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{Cookie, SameSite};
///
/// let cookie = Cookie::new("session", "abc123")
///     .path("/")
///     .max_age(3600)
///     .secure(true)
///     .http_only(true)
///     .same_site(SameSite::Lax);
/// assert_eq!(
///     cookie.to_header_value().unwrap(),
///     "session=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The cookie's name: a non-empty token.
    pub name: String,
    /// The cookie's value: cookie-octets only; may be empty.
    pub value: String,
    /// `Domain` attribute; omitted when `None` or empty.
    pub domain: Option<String>,
    /// `Path` attribute; omitted when `None` or empty.
    pub path: Option<String>,
    /// `Expires` attribute, written as an IMF-fixdate.
    pub expires: Option<SystemTime>,
    /// `Max-Age` attribute in seconds. A negative value is written as `0`: RFC 6265 gives both
    /// the same meaning (expire now) but only allows digits.
    pub max_age: Option<i64>,
    /// `Secure` attribute.
    pub secure: bool,
    /// `HttpOnly` attribute.
    pub http_only: bool,
    /// `SameSite` attribute.
    pub same_site: Option<SameSite>,
}

impl Cookie {
    /// A cookie with a name and value and no attributes (a session cookie for the request's
    /// path).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// assert_eq!(Cookie::new("a", "b").to_header_value().unwrap(), "a=b");
    /// ```
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            domain: None,
            path: None,
            expires: None,
            max_age: None,
            secure: false,
            http_only: false,
            same_site: None,
        }
    }

    /// A cookie that makes the browser delete `name`: an empty value, `Max-Age=0` and an
    /// `Expires` at the Unix epoch (for clients that predate `Max-Age`). This is what Tornado's
    /// `clear_cookie` sends.
    ///
    /// A browser deletes only the cookie with the same name, path and domain, so pass those the
    /// cookie was set with (Tornado's default path is `/`).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// let gone = Cookie::deletion("session", Some("/"), None);
    /// assert_eq!(
    ///     gone.to_header_value().unwrap(),
    ///     "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
    /// );
    /// ```
    pub fn deletion(name: impl Into<String>, path: Option<&str>, domain: Option<&str>) -> Cookie {
        Cookie {
            domain: domain.map(str::to_owned),
            path: path.map(str::to_owned),
            expires: Some(UNIX_EPOCH),
            max_age: Some(0),
            ..Cookie::new(name, "")
        }
    }

    /// Sets the `Domain` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// let c = Cookie::new("a", "b").domain("example.com");
    /// assert_eq!(c.to_header_value().unwrap(), "a=b; Domain=example.com");
    /// ```
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Cookie {
        self.domain = Some(domain.into());
        self
    }

    /// Sets the `Path` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// let c = Cookie::new("a", "b").path("/app");
    /// assert_eq!(c.to_header_value().unwrap(), "a=b; Path=/app");
    /// ```
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Cookie {
        self.path = Some(path.into());
        self
    }

    /// Sets the `Expires` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use squall::web::cookies::Cookie;
    ///
    /// let c = Cookie::new("a", "b").expires(UNIX_EPOCH + Duration::from_secs(784_111_777));
    /// assert_eq!(c.to_header_value().unwrap(), "a=b; Expires=Sun, 06 Nov 1994 08:49:37 GMT");
    /// ```
    #[must_use]
    pub fn expires(mut self, at: SystemTime) -> Cookie {
        self.expires = Some(at);
        self
    }

    /// Sets the `Max-Age` attribute, in seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// assert_eq!(Cookie::new("a", "b").max_age(60).to_header_value().unwrap(), "a=b; Max-Age=60");
    /// ```
    #[must_use]
    pub fn max_age(mut self, seconds: i64) -> Cookie {
        self.max_age = Some(seconds);
        self
    }

    /// Sets or clears the `Secure` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// assert_eq!(Cookie::new("a", "b").secure(true).to_header_value().unwrap(), "a=b; Secure");
    /// ```
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Cookie {
        self.secure = secure;
        self
    }

    /// Sets or clears the `HttpOnly` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::Cookie;
    ///
    /// let c = Cookie::new("a", "b").http_only(true);
    /// assert_eq!(c.to_header_value().unwrap(), "a=b; HttpOnly");
    /// ```
    #[must_use]
    pub fn http_only(mut self, http_only: bool) -> Cookie {
        self.http_only = http_only;
        self
    }

    /// Sets the `SameSite` attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{Cookie, SameSite};
    ///
    /// let c = Cookie::new("a", "b").same_site(SameSite::Strict);
    /// assert_eq!(c.to_header_value().unwrap(), "a=b; SameSite=Strict");
    /// ```
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Cookie {
        self.same_site = Some(same_site);
        self
    }

    /// Writes the `Set-Cookie` header value (RFC 6265 §4.1).
    ///
    /// Attributes come in a fixed order: `Expires`, `Max-Age`, `Domain`, `Path`, `Secure`,
    /// `HttpOnly`, `SameSite`.
    ///
    /// # Errors
    ///
    /// - [`CookieError::InvalidName`] unless the name is a non-empty token;
    /// - [`CookieError::InvalidValue`] unless every byte of the value is a cookie-octet (this
    ///   refuses CR, LF, NUL and every other control character, space, `"`, `,`, `;`, `\` and
    ///   non-ASCII; quote or encode such values first, e.g. with a signed value, which is
    ///   always valid);
    /// - [`CookieError::InvalidDomain`] / [`CookieError::InvalidPath`] when those hold `;` or
    ///   a control character;
    /// - [`CookieError::InvalidExpires`] when the expiry is outside 1970–9999.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{Cookie, CookieError};
    ///
    /// assert_eq!(
    ///     Cookie::new("a", "x\r\nSet-Cookie: evil=1").to_header_value(),
    ///     Err(CookieError::InvalidValue)
    /// );
    /// assert_eq!(Cookie::new("a b", "1").to_header_value(), Err(CookieError::InvalidName));
    /// ```
    pub fn to_header_value(&self) -> Result<String, CookieError> {
        if !is_token(&self.name) {
            return Err(CookieError::InvalidName);
        }
        if !self.value.bytes().all(is_cookie_octet) {
            return Err(CookieError::InvalidValue);
        }
        let mut out = String::with_capacity(self.name.len() + self.value.len() + 64);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(&self.value);
        if let Some(at) = self.expires {
            out.push_str("; Expires=");
            out.push_str(&format_expires(at)?);
        }
        if let Some(age) = self.max_age {
            out.push_str("; Max-Age=");
            out.push_str(&age.max(0).to_string());
        }
        if let Some(domain) = self.domain.as_deref().filter(|d| !d.is_empty()) {
            if !is_attribute_value(domain) {
                return Err(CookieError::InvalidDomain);
            }
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(path) = self.path.as_deref().filter(|p| !p.is_empty()) {
            if !is_attribute_value(path) {
                return Err(CookieError::InvalidPath);
            }
            out.push_str("; Path=");
            out.push_str(path);
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            out.push_str("; SameSite=");
            out.push_str(same_site.as_str());
        }
        Ok(out)
    }
}

/// First second of the year 10000: `httpdate` (and the HTTP date grammar) stop before it.
const HTTP_DATE_END: u64 = 253_402_300_800;

fn format_expires(at: SystemTime) -> Result<String, CookieError> {
    // `httpdate` panics outside this range; check first.
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) if since.as_secs() < HTTP_DATE_END => Ok(httpdate::fmt_http_date(at)),
        _ => Err(CookieError::InvalidExpires),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 6265 `cookie-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// RFC 6265 `path-value` (also used for the domain): any char except CTLs and `;`.
fn is_attribute_value(s: &str) -> bool {
    s.bytes().all(|b| b != b';' && !b.is_ascii_control())
}

#[cfg(test)]
mod tests;
