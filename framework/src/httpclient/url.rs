//! The `http`/`https` URLs the client fetches: parsing, the origin a connection is pooled
//! under, and resolving a redirect's `Location` against the URL it came from (RFC 3986 §5).
//!
//! Only what a request needs is kept: scheme, host, port, userinfo (sent as Basic
//! credentials) and the request target (path and query; a fragment never leaves the client).
//! Whitespace and control characters are refused anywhere; non-ASCII bytes in the path or
//! query are percent-encoded; a host must be ASCII (no IDNA), an IP literal or a name of
//! letters, digits, `-`, `.` and `_`.

use std::fmt;
use std::net::Ipv6Addr;

/// The URL schemes the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// Lowercase; an IPv6 literal without its brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Percent-decoded `user` and `password` of the userinfo, if any.
    pub(crate) userinfo: Option<(String, String)>,
    /// Path and query, in origin-form: starts with `/`.
    pub(crate) target: String,
}

/// Where a connection goes: the pool's key. Two URLs share connections only if they share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Url {
    /// Parses an absolute `http` or `https` URL.
    ///
    /// # Errors
    ///
    /// What is wrong with it, in words.
    pub(crate) fn parse(s: &str) -> Result<Url, String> {
        check_chars(s)?;
        let (scheme, rest) = split_scheme(s).ok_or("not an absolute URL (no scheme)")?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(format!(
                "unsupported scheme {scheme:?} (http and https are)"
            ));
        };
        let rest = rest
            .strip_prefix("//")
            .ok_or("no authority after the scheme (expected '//')")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, reference) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (
                Some(parse_userinfo(&authority[..at])?),
                &authority[at + 1..],
            ),
            None => (None, authority),
        };
        let (host, port) = parse_host_port(hostport, scheme)?;
        Ok(Url {
            scheme,
            host,
            port,
            userinfo,
            target: target_of(reference, "/"),
        })
    }

    /// The URL `location` (a redirect's `Location`, absolute or relative) names, seen from this
    /// one (RFC 3986 §5.2). Userinfo is never inherited.
    ///
    /// # Errors
    ///
    /// As [`parse`](Url::parse), for the resolved URL.
    pub(crate) fn join(&self, location: &str) -> Result<Url, String> {
        check_chars(location)?;
        if split_scheme(location).is_some() {
            return Url::parse(location);
        }
        if location.starts_with("//") {
            return Url::parse(&format!("{}:{location}", self.scheme.as_str()));
        }
        let location = location.split('#').next().unwrap_or("");
        let (base_path, _) = split_query(&self.target);
        let target = if location.is_empty() {
            self.target.clone()
        } else if location.starts_with('/') {
            let (path, query) = split_query(location);
            format!("{}{}", remove_dot_segments(path), query)
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            // Merge with the base path's directory (§5.2.3), then remove dot segments.
            let (path, query) = split_query(location);
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{}", remove_dot_segments(&format!("{dir}{path}")), query)
        };
        Ok(Url {
            scheme: self.scheme,
            host: self.host.clone(),
            port: self.port,
            userinfo: None,
            target: target_of(&target, "/"),
        })
    }

    /// The pool key: scheme, host and port.
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            scheme: self.scheme,
            host: self.host.clone(),
            port: self.port,
        }
    }

    /// Whether `other` is on the same origin (credentials may follow a redirect only then).
    pub(crate) fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// The `Host` field: the host, bracketed if IPv6, with the port unless it is the default.
    pub(crate) fn host_field(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Whether the scheme is `https`.
    pub(crate) fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }
}

/// Without the userinfo: credentials never appear in `effective_url` or error messages.
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_field(),
            self.target
        )
    }
}

fn check_chars(s: &str) -> Result<(), String> {
    match s.bytes().find(|&b| b <= b' ' || b == 0x7f) {
        Some(b) => Err(format!(
            "the URL holds whitespace or a control character (0x{b:02x})"
        )),
        None => Ok(()),
    }
}

/// `scheme` and the rest, if `s` starts with an RFC 3986 scheme and `:`.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_ok && rest_ok).then(|| (scheme, &s[colon + 1..]))
}

fn parse_userinfo(s: &str) -> Result<(String, String), String> {
    let (user, password) = s.split_once(':').unwrap_or((s, ""));
    let decode = |p: &str| {
        String::from_utf8(crate::httputil::percent_decode(p.as_bytes(), false).into_owned())
            .map_err(|_| "the URL's userinfo is not UTF-8 once decoded".to_owned())
    };
    Ok((decode(user)?, decode(password)?))
}

fn parse_host_port(s: &str, scheme: Scheme) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']').ok_or("unclosed '[' in the host")?;
        let literal = &rest[..close];
        literal
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("invalid IPv6 address [{literal}]"))?;
        let after = &rest[close + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the IPv6 address")?),
        };
        (literal.to_ascii_lowercase(), port)
    } else {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if host.is_empty() {
            return Err("empty host".to_owned());
        }
        if let Some(b) = host
            .bytes()
            .find(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')))
        {
            return Err(format!(
                "invalid character {:?} in the host (names must be ASCII)",
                b as char
            ));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some("") => scheme.default_port(),
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n != 0)
            .ok_or_else(|| format!("invalid port {p}"))?,
        Some(p) => return Err(format!("invalid port {p:?}")),
    };
    Ok((host, port))
}

fn split_query(s: &str) -> (&str, &str) {
    match s.find('?') {
        Some(i) => s.split_at(i),
        None => (s, ""),
    }
}

/// The request target of `reference` (path, query, fragment): the fragment dropped, an empty
/// path made `empty`, non-ASCII bytes percent-encoded.
fn target_of(reference: &str, empty: &str) -> String {
    let reference = reference.split('#').next().unwrap_or("");
    let mut out = String::with_capacity(reference.len() + 1);
    if !reference.starts_with('/') {
        out.push_str(empty);
    }
    for b in reference.bytes() {
        if b.is_ascii() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 3986 §5.2.4: `.` and `..` segments removed from an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut s = String::with_capacity(path.len());
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if trailing_slash || s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let u = Url::parse("http://Example.COM:8080/a/b?x=1#frag").unwrap();
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!((u.host.as_str(), u.port), ("example.com", 8080));
        assert_eq!(u.target, "/a/b?x=1");
        assert_eq!(u.host_field(), "example.com:8080");
        assert_eq!(u.to_string(), "http://example.com:8080/a/b?x=1");

        let u = Url::parse("HTTPS://h?q").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.target.as_str()),
            (Scheme::Https, 443, "/?q")
        );
        assert_eq!(u.host_field(), "h");

        let u = Url::parse("http://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.host_field(), "[::1]:9");

        let u = Url::parse("http://us%40er:p%3Ass@127.0.0.1/").unwrap();
        assert_eq!(u.userinfo, Some(("us@er".into(), "p:ss".into())));
        assert_eq!(
            u.to_string(),
            "http://127.0.0.1/",
            "no credentials in the text"
        );

        let u = Url::parse("http://h:/caf\u{e9}").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/caf%C3%A9"));
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "",
            "example.com/path",
            "/relative",
            "ftp://h/",
            "http:h/",
            "http:///path",
            "http://h:0/",
            "http://h:65536/",
            "http://h:12a/",
            "http://h /",
            "http://h/a b",
            "http://h/\r\nX: y",
            "http://[::1/",
            "http://[zz]/",
            "http://[::1]x/",
            "http://h\u{e9}/",
            "http://h!/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn resolves_redirect_locations() {
        let base = Url::parse("http://u:p@a.test:81/d1/d2/page?q=1").unwrap();
        let join = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(join("https://b.test/x"), "https://b.test/x");
        assert_eq!(join("//b.test/x?y"), "http://b.test/x?y");
        assert_eq!(join("/abs/./p/../q"), "http://a.test:81/abs/q");
        assert_eq!(join("?z=2"), "http://a.test:81/d1/d2/page?z=2");
        assert_eq!(join("other"), "http://a.test:81/d1/d2/other");
        assert_eq!(join("../up?k"), "http://a.test:81/d1/up?k");
        assert_eq!(join("../../../../top"), "http://a.test:81/top");
        assert_eq!(join("./"), "http://a.test:81/d1/d2/");
        assert_eq!(join(".."), "http://a.test:81/d1/");
        assert_eq!(join(""), "http://a.test:81/d1/d2/page?q=1");
        assert_eq!(join("#frag"), "http://a.test:81/d1/d2/page?q=1");
        assert_eq!(base.join("/x").unwrap().userinfo, None);
        assert!(base.join("mailto:x@y").is_err());
        assert!(base.join("/a b").is_err());
    }

    #[test]
    fn origins() {
        let a = Url::parse("http://a.test/x").unwrap();
        assert!(a.same_origin(&Url::parse("http://A.test:80/y").unwrap()));
        assert!(!a.same_origin(&Url::parse("https://a.test/").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://a.test:81/").unwrap()));
        assert!(!a.same_origin(&Url::parse("http://b.test/").unwrap()));
        assert_eq!(a.origin(), Url::parse("http://a.test/z").unwrap().origin());
    }
}
