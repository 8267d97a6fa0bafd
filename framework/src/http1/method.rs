//! What a request line names besides its target: the [`Method`] (with [`MethodKind`], its
//! one-byte form on the request path, and [`ExtensionMethod`], the text of any other token)
//! and the [`Version`]; and [`TOKEN`], the table of the characters a method is made of (field
//! names and chunk extensions are made of them too).
//!
//! Plain values, at the bottom of the request modules: they know nothing of parsing. The
//! request-line parser (`request_line.rs`) produces them, `Request` hands them out.

use std::fmt;

/// `tchar` of RFC 9110 §5.6.2, as a table indexed by byte.
pub(super) static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~');
        b += 1;
    }
    t
};

/// The request method.
///
/// The nine methods of RFC 9110 are variants; any other token (WebDAV's `PROPFIND`, a
/// lowercase `get`) is [`Method::Other`], which keeps its text inline: a `Method` never
/// allocates and stays `Copy`.
///
/// # Examples
///
/// ```
/// use squall::http1::Method;
/// assert_eq!(Method::parse("GET"), Some(Method::Get));
/// let m = Method::parse("PROPFIND").unwrap();
/// assert!(matches!(m, Method::Other(ref e) if e == "PROPFIND"));
/// assert_eq!(m.as_str(), "PROPFIND");
/// assert_eq!(Method::parse("BAD METHOD"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
    /// `CONNECT`
    Connect,
    /// `TRACE`
    Trace,
    /// Any other method token (case-sensitive, so `get` is one), with its text.
    Other(ExtensionMethod),
}

impl Method {
    /// Parses a method token (case-sensitive, as RFC 9110 says): `None` for an empty string,
    /// one with a character that is not a token character, or one longer than
    /// [`ExtensionMethod::MAX_LEN`] (the server answers such a request line 400).
    pub fn parse(s: &str) -> Option<Method> {
        let b = s.as_bytes();
        if b.is_empty()
            || b.len() > ExtensionMethod::MAX_LEN
            || !b.iter().all(|&c| TOKEN[c as usize])
        {
            return None;
        }
        Some(Method::from_kind(MethodKind::from_bytes(b), b))
    }

    /// The method of `kind` whose text is `text` (read only for [`MethodKind::Other`], where it
    /// is the request line's token, at most [`ExtensionMethod::MAX_LEN`] bytes).
    #[inline]
    pub(crate) fn from_kind(kind: MethodKind, text: &[u8]) -> Method {
        match kind {
            MethodKind::Get => Method::Get,
            MethodKind::Head => Method::Head,
            MethodKind::Post => Method::Post,
            MethodKind::Put => Method::Put,
            MethodKind::Delete => Method::Delete,
            MethodKind::Patch => Method::Patch,
            MethodKind::Options => Method::Options,
            MethodKind::Connect => Method::Connect,
            MethodKind::Trace => Method::Trace,
            MethodKind::Other => Method::Other(ExtensionMethod::truncated(text)),
        }
    }

    /// Which method this is, without its text.
    #[inline]
    pub(crate) fn kind(&self) -> MethodKind {
        match self {
            Method::Get => MethodKind::Get,
            Method::Head => MethodKind::Head,
            Method::Post => MethodKind::Post,
            Method::Put => MethodKind::Put,
            Method::Delete => MethodKind::Delete,
            Method::Patch => MethodKind::Patch,
            Method::Options => MethodKind::Options,
            Method::Connect => MethodKind::Connect,
            Method::Trace => MethodKind::Trace,
            Method::Other(_) => MethodKind::Other,
        }
    }

    /// The method's name as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Other(e) => e.as_str(),
        }
    }

    /// Whether the method is safe (GET, HEAD, OPTIONS, TRACE): no XSRF check, ETag applies.
    pub fn is_safe(&self) -> bool {
        self.kind().is_safe()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text of a method that is not one of RFC 9110's nine ([`Method::Other`]), held inline.
///
/// It is always a non-empty token of at most [`MAX_LEN`](ExtensionMethod::MAX_LEN) bytes, so
/// [`as_str`](ExtensionMethod::as_str) is plain ASCII. Compares with `&str` and `str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionMethod {
    len: u8,
    bytes: [u8; ExtensionMethod::MAX_LEN],
}

impl ExtensionMethod {
    /// The longest method the server accepts, in bytes (a longer request line is 400).
    pub const MAX_LEN: usize = 64;

    /// Copies `s` (token characters, checked by the caller) in, keeping at most
    /// [`MAX_LEN`](ExtensionMethod::MAX_LEN) bytes (the parser refuses longer methods, so
    /// nothing is ever cut).
    fn truncated(s: &[u8]) -> ExtensionMethod {
        let s = &s[..s.len().min(Self::MAX_LEN)];
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s);
        ExtensionMethod {
            len: s.len() as u8,
            bytes,
        }
    }

    /// The method's name as sent.
    pub fn as_str(&self) -> &str {
        // Only token characters (ASCII) are ever stored; "" cannot happen but is not a panic.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for ExtensionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for ExtensionMethod {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ExtensionMethod {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Which method a request has, without an extension method's text: one byte, for the request
/// path (the parser, the connection, handler dispatch). [`Method`] is built from it and the
/// request line when asked for. Not API: named by the macros' generated code.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
    /// `CONNECT`
    Connect,
    /// `TRACE`
    Trace,
    /// Any other method token.
    Other,
}

impl MethodKind {
    /// The kind of the method token `s` (case-sensitive, as RFC 9110 says).
    #[inline]
    pub(crate) fn from_bytes(s: &[u8]) -> MethodKind {
        match s {
            b"GET" => MethodKind::Get,
            b"HEAD" => MethodKind::Head,
            b"POST" => MethodKind::Post,
            b"PUT" => MethodKind::Put,
            b"DELETE" => MethodKind::Delete,
            b"PATCH" => MethodKind::Patch,
            b"OPTIONS" => MethodKind::Options,
            b"CONNECT" => MethodKind::Connect,
            b"TRACE" => MethodKind::Trace,
            _ => MethodKind::Other,
        }
    }

    /// The name of a known method (`"OTHER"` for [`MethodKind::Other`], whose text is the
    /// request's).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MethodKind::Get => "GET",
            MethodKind::Head => "HEAD",
            MethodKind::Post => "POST",
            MethodKind::Put => "PUT",
            MethodKind::Delete => "DELETE",
            MethodKind::Patch => "PATCH",
            MethodKind::Options => "OPTIONS",
            MethodKind::Connect => "CONNECT",
            MethodKind::Trace => "TRACE",
            MethodKind::Other => "OTHER",
        }
    }

    /// Whether the method is safe (GET, HEAD, OPTIONS, TRACE).
    #[inline]
    pub(crate) fn is_safe(self) -> bool {
        matches!(
            self,
            MethodKind::Get | MethodKind::Head | MethodKind::Options | MethodKind::Trace
        )
    }
}

/// The HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}
