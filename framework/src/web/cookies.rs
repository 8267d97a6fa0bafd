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

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Seconds in a day, for `max_age_days`.
const DAY_SECS: f64 = 86_400.0;

/// How far in the future a signed value's timestamp may be before it is refused (31 days, the
/// bound Tornado applies to its version-1 values).
pub const MAX_FUTURE_SECS: u64 = 31 * 86_400;

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

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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

// ---------------------------------------------------------------------------------------------
// Signed values (Tornado version 2)
// ---------------------------------------------------------------------------------------------

/// The secret(s) signed values are keyed with: Tornado's `cookie_secret`, either one string or
/// a map of key versions for rotation.
///
/// Signing uses the current key and writes its version into the value; verification uses the
/// key of the version the value names. To rotate, add a new version, make it current, and keep
/// the old one until every value signed with it has expired.
///
/// `Debug` lists the key versions, never the keys.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{create_signed_value, decode_signed_value, CookieSecrets};
///
/// let old = CookieSecrets::versioned([(0, "first secret")], 0).unwrap();
/// let signed = create_signed_value(&old, "user", b"42", 1_700_000_000);
///
/// let rotated = CookieSecrets::versioned([(0, "first secret"), (1, "second")], 1).unwrap();
/// let decoded = decode_signed_value(&rotated, "user", &signed, 31.0, 1_700_000_100);
/// assert_eq!(decoded, Some(b"42".to_vec()));
/// assert!(create_signed_value(&rotated, "user", b"42", 1_700_000_000).starts_with("2|1:1|"));
/// ```
#[derive(Clone)]
pub struct CookieSecrets {
    keys: Keys,
}

#[derive(Clone)]
enum Keys {
    /// One unversioned secret: values are signed with key version 0 and verified whatever
    /// version they name (as Tornado does with a plain string secret; the version is covered
    /// by the signature, so it cannot be altered).
    Single(HmacSha256),
    Versioned {
        keys: BTreeMap<u32, HmacSha256>,
        current: u32,
        /// A copy of `keys[current]`, so signing needs no lookup that could fail.
        signer: HmacSha256,
    },
}

/// Why [`CookieSecrets::versioned`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieSecretsError {
    /// The current version is not among the keys.
    UnknownCurrentVersion(u32),
    /// A version was given twice.
    DuplicateVersion(u32),
}

impl fmt::Display for CookieSecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieSecretsError::UnknownCurrentVersion(v) => {
                write!(f, "current cookie secret version {v} is not among the keys")
            }
            CookieSecretsError::DuplicateVersion(v) => {
                write!(f, "cookie secret version {v} given twice")
            }
        }
    }
}

impl std::error::Error for CookieSecretsError {}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC hashes keys longer than a block and pads shorter ones: every length is accepted.
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

impl CookieSecrets {
    /// One secret, without key versions (Tornado's `cookie_secret = "..."`). Values are signed
    /// with key version `0`.
    ///
    /// Use a long random secret: anyone who knows it can forge every signed value.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::CookieSecrets;
    ///
    /// let secrets = CookieSecrets::single("a long random string");
    /// assert_eq!(secrets.current_version(), None);
    /// ```
    pub fn single(secret: impl AsRef<[u8]>) -> CookieSecrets {
        CookieSecrets {
            keys: Keys::Single(keyed(secret.as_ref())),
        }
    }

    /// Several secrets by key version (Tornado's `cookie_secret = {0: "...", 1: "..."}`), of
    /// which `current` signs.
    ///
    /// # Errors
    ///
    /// [`CookieSecretsError::UnknownCurrentVersion`] if `current` is not among the keys,
    /// [`CookieSecretsError::DuplicateVersion`] if a version appears twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{CookieSecrets, CookieSecretsError};
    ///
    /// let ok = CookieSecrets::versioned([(0, "old".to_owned()), (1, "new".to_owned())], 1);
    /// assert_eq!(ok.unwrap().current_version(), Some(1));
    ///
    /// let missing = CookieSecrets::versioned([(0, "old".to_owned())], 1);
    /// assert_eq!(missing.unwrap_err(), CookieSecretsError::UnknownCurrentVersion(1));
    /// ```
    pub fn versioned<S: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = (u32, S)>,
        current: u32,
    ) -> Result<CookieSecrets, CookieSecretsError> {
        let mut keys = BTreeMap::new();
        for (version, secret) in secrets {
            if keys.insert(version, keyed(secret.as_ref())).is_some() {
                return Err(CookieSecretsError::DuplicateVersion(version));
            }
        }
        let signer = match keys.get(&current) {
            Some(mac) => mac.clone(),
            None => return Err(CookieSecretsError::UnknownCurrentVersion(current)),
        };
        Ok(CookieSecrets {
            keys: Keys::Versioned {
                keys,
                current,
                signer,
            },
        })
    }

    /// The key version that signs, or `None` for a [`single`](CookieSecrets::single) secret
    /// (whose values carry version `0`).
    ///
    /// Compare it with [`signature_key_version`] to re-sign values made with an old key.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::CookieSecrets;
    ///
    /// let secrets = CookieSecrets::versioned([(3, "k")], 3).unwrap();
    /// assert_eq!(secrets.current_version(), Some(3));
    /// ```
    pub fn current_version(&self) -> Option<u32> {
        match &self.keys {
            Keys::Single(_) => None,
            Keys::Versioned { current, .. } => Some(*current),
        }
    }

    fn signing_key(&self) -> (u32, &HmacSha256) {
        match &self.keys {
            Keys::Single(mac) => (0, mac),
            Keys::Versioned {
                current, signer, ..
            } => (*current, signer),
        }
    }

    fn verifying_key(&self, version: u32) -> Option<&HmacSha256> {
        match &self.keys {
            Keys::Single(mac) => Some(mac),
            Keys::Versioned { keys, .. } => keys.get(&version),
        }
    }
}

impl fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CookieSecrets");
        match &self.keys {
            Keys::Single(_) => d.field("versions", &"unversioned"),
            Keys::Versioned { keys, current, .. } => d
                .field("versions", &keys.keys().collect::<Vec<_>>())
                .field("current", current),
        };
        d.finish_non_exhaustive()
    }
}

fn signature_hex(mac: &HmacSha256, signed_part: &[u8]) -> String {
    let mut mac = mac.clone();
    mac.update(signed_part);
    hex_lower(&mac.finalize().into_bytes())
}

fn push_field(out: &mut String, field: &str) {
    out.push_str(&field.len().to_string());
    out.push(':');
    out.push_str(field);
    out.push('|');
}

/// Signs `value` for the cookie `name` at `timestamp` (seconds since the Unix epoch), in
/// Tornado's version-2 format (see the [module docs](self)).
///
/// The key version field is the secrets' current version, or `0` for a single secret; the
/// value is base64-encoded, so any bytes may be signed. The result consists of cookie-octets
/// only, so it is always a valid [`Cookie`] value. Field lengths count bytes (Tornado counts
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
    let signature = signature_hex(mac, out.as_bytes());
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
    let expected = signature_hex(mac, fields.signed_part);
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
    use std::time::Duration;

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

    // --- constant_time_eq ---

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
    fn wrong_secret_rejected() {
        let other = CookieSecrets::single("It's a secret to everybody!");
        assert_eq!(
            decode_signed_value(&other, "key", VECTOR, 31.0, PRESENT),
            None
        );
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
        let mac = keyed(SECRET.as_bytes());
        for prefix in [
            "2|1:0|10:13000000x0|3:key|8:dmFsdWU=|",
            "2|1:0|0:|3:key|8:dmFsdWU=|",
            "2|1:0|10:1300000000|3:key|8:dmFsdWU*|",
            "2|1:0|10:1300000000|3:key|7:dmFsdWU|",
        ] {
            let signed = format!("{prefix}{}", signature_hex(&mac, prefix.as_bytes()));
            assert_eq!(decode(&signed), None, "{signed}");
        }
        // Leading zeros in the timestamp are accepted, as Python's int() does.
        let prefix = "2|1:0|11:01300000000|3:key|8:dmFsdWU=|";
        let signed = format!("{prefix}{}", signature_hex(&mac, prefix.as_bytes()));
        assert_eq!(decode(&signed), Some(b"value".to_vec()));
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
    fn versioned_errors() {
        assert_eq!(
            CookieSecrets::versioned([(0, "a"), (0, "b")], 0).unwrap_err(),
            CookieSecretsError::DuplicateVersion(0)
        );
        assert_eq!(
            CookieSecrets::versioned(Vec::<(u32, String)>::new(), 0).unwrap_err(),
            CookieSecretsError::UnknownCurrentVersion(0)
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
}
