//! HTTP utilities shared by the server and the web layer (Tornado's `tornado.httputil`).
//!
//! A small header multimap ([`HeaderMap`]), header-field validation, header parameter parsing
//! ([`parse_header_params`]), query-string / form / `multipart/form-data` body parsing
//! ([`parse_query`], [`parse_multipart`], [`parse_body_arguments`]), HTTP dates and
//! [`url_concat`].
//!
//! Everything here is pure: no I/O, no global state; the only side effect is a `log::warn!` for
//! a skipped multipart part, as Tornado does.
//!
//! ### Untrusted input
//!
//! The parsers take client-controlled bytes. They never panic on them, and each runs in time
//! linear in its input: the parameter splitter and the percent-decoder look at every byte a
//! bounded number of times, and the multipart boundary search is a first-byte scan whose
//! matches cannot overlap (a boundary holds no CR, which [`parse_multipart`] checks).
//!
//! ### One header policy
//!
//! What a header Squall may send is one rule, owned by `header_policy`: the name an RFC 9110
//! token, the value without CR, LF, NUL or another control ([`validate_header_name`],
//! [`validate_header_value`], [`InvalidHeader`]). The web layer's `set_header`, the HTTP/1
//! [`Responder`](crate::http1::Responder) and the HTTP client all apply it, and none drops a
//! header silently. [`HeaderMap`] itself stores whatever it is given: code that writes a map's
//! fields by other means must check them with the same two functions.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod form;
mod header_policy;
mod headers;

pub(crate) use form::{
    decode_form_text, form_field_at, form_fields, parse_multipart_limited, LimitedError,
};
pub use form::{
    multipart_boundary, parse_body_arguments, parse_multipart, parse_query, Multipart, UploadedFile,
};
pub(crate) use header_policy::{header_ok, is_tchar};
pub use header_policy::{validate_header_name, validate_header_value, InvalidHeader};
pub(crate) use headers::same_name;
pub use headers::{HeaderMap, Iter};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A malformed query string, form body, `multipart/form-data` body or percent-encoded text.
///
/// The server answers it with 400 Bad Request. The message says what was wrong without echoing
/// the client's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: Cow<'static, str>,
}

impl ParseError {
    /// Creates an error with the given message.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = squall::httputil::ParseError::new("bad input");
    /// assert_eq!(e.to_string(), "bad input");
    /// ```
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        ParseError {
            message: message.into(),
        }
    }

    /// The message describing what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

// ---------------------------------------------------------------------------------------------
// Header parameters
// ---------------------------------------------------------------------------------------------

/// Splits a header value into its main value and its `; key=value` parameters.
///
/// Tornado's `_parse_header`. The main value is trimmed but keeps its case; parameter keys are
/// trimmed and lowercased. A value in double quotes is unquoted, with `\"` and `\\` unescaped
/// (any other backslash is kept, so Windows paths in filenames survive); a `;` inside quotes
/// does not split. Segments without `=` are dropped.
///
/// An RFC 2231 / 5987 extended parameter (`filename*=UTF-8''%e2%82%ac.txt`) is percent-decoded
/// in its charset (UTF-8 or ISO-8859-1), returned under the name without the `*`, and takes
/// precedence over the plain parameter of that name, wherever either appears. One that cannot be
/// decoded (unknown charset, invalid UTF-8, no `charset'lang'` prefix) is dropped, so the plain
/// one is used. RFC 2231 continuations (`name*0`, `name*1*`) are not joined. Duplicate plain
/// parameters are all returned, in order.
///
/// Runs in linear time; never fails.
///
/// # Examples
///
/// ```
/// use squall::httputil::parse_header_params;
///
/// let (main, params) = parse_header_params(
///     r#"form-data; name="a;b"; filename="x.txt"; filename*=UTF-8''%e2%82%ac.txt"#,
/// );
/// assert_eq!(main, "form-data");
/// assert_eq!(params, [
///     ("name".to_string(), "a;b".to_string()),
///     ("filename".to_string(), "€.txt".to_string()),
/// ]);
/// ```
pub fn parse_header_params(value: &str) -> (&str, Vec<(String, String)>) {
    let mut segments = ParamSplit { rest: Some(value) };
    let main = segments.next().unwrap_or("").trim();

    // (key, value, extended?)
    let mut raw: Vec<(String, String, bool)> = Vec::new();
    for segment in segments {
        let Some((key, val)) = segment.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim();
        match key.strip_suffix('*') {
            Some(base) => {
                if let Some(decoded) = decode_ext_value(&unquote(val)) {
                    raw.push((base.to_owned(), decoded, true));
                }
            }
            None => raw.push((key, unquote(val).into_owned(), false)),
        }
    }

    if !raw.iter().any(|p| p.2) {
        return (main, raw.into_iter().map(|(k, v, _)| (k, v)).collect());
    }
    // Extended parameters shadow plain ones of the same name. Sets keep this linear even for a
    // hostile header with thousands of parameters; the common case never gets here.
    let extended: HashSet<String> = raw.iter().filter(|p| p.2).map(|p| p.0.clone()).collect();
    let mut seen = HashSet::new();
    let params = raw
        .into_iter()
        .filter_map(|(k, v, ext)| {
            let keep = if ext {
                seen.insert(k.clone())
            } else {
                !extended.contains(&k)
            };
            keep.then_some((k, v))
        })
        .collect();
    (main, params)
}

/// Iterator over the `;`-separated segments of a header value, ignoring `;` inside quotes.
struct ParamSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for ParamSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, b) in s.bytes().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' if in_quotes => escaped = true,
                b'"' => in_quotes = !in_quotes,
                b';' if !in_quotes => {
                    // `i` is the offset of an ASCII byte: both halves are on char boundaries.
                    self.rest = Some(&s[i + 1..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(s)
    }
}

/// Removes surrounding double quotes and unescapes `\"` and `\\` inside them.
fn unquote(v: &str) -> Cow<'_, str> {
    let inner = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => return Cow::Borrowed(v),
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next @ ('"' | '\\')) = chars.peek() {
                out.push(next);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Decodes an RFC 5987 `ext-value`: `charset'language'percent-encoded`.
fn decode_ext_value(v: &str) -> Option<String> {
    let mut parts = v.splitn(3, '\'');
    let (charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = percent_decode(encoded.as_bytes(), false);
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes.into_owned()).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") || charset.eq_ignore_ascii_case("latin1") {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Percent encoding (shared with `escape`)
// ---------------------------------------------------------------------------------------------

/// Percent-decodes `input`, turning `+` into a space when `plus` is set.
///
/// A `%` not followed by two hex digits is kept literally, as Python's `unquote` does. Borrows
/// when there is nothing to decode.
pub(crate) fn percent_decode(input: &[u8], plus: bool) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        i += 1;
        match b {
            b'+' if plus => out.push(b' '),
            b'%' => match (hex_value(input.get(i)), hex_value(input.get(i + 1))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
    }
    Cow::Owned(out)
}

fn hex_value(b: Option<&u8>) -> Option<u8> {
    match *b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `input` to `out` percent-encoded as Python's `quote` does: letters, digits and
/// `_.-~` are kept, as are the bytes of `safe`; with `plus`, a space becomes `+` (`quote_plus`);
/// everything else becomes `%XX` (upper-case hex) of its UTF-8 bytes.
pub(crate) fn percent_encode_into(out: &mut String, input: &str, plus: bool, safe: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') || safe.contains(&b)
        {
            out.push(char::from(b));
        } else if plus && b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dates and URLs
// ---------------------------------------------------------------------------------------------

/// Formats a time as an RFC 9110 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
///
/// Sub-second precision is dropped. Times outside what the format can express are clamped to
/// 1970-01-01 and 9999-12-31, so this never panics.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(squall::httputil::format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn format_http_date(time: SystemTime) -> String {
    // 9999-12-31T23:59:59Z, the last second `httpdate` formats (it panics past it).
    const MAX_SECS: u64 = 253_402_300_799;
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(MAX_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses an HTTP date in any of the three RFC 9110 formats (IMF-fixdate, RFC 850, asctime).
///
/// Surrounding whitespace is ignored. `None` for anything else, including dates before 1970.
///
/// # Examples
///
/// ```
/// use squall::httputil::parse_http_date;
/// let a = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
/// assert!(a.is_some());
/// assert_eq!(a, parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
/// assert_eq!(a, parse_http_date("Sun Nov  6 08:49:37 1994"));
/// assert_eq!(parse_http_date("yesterday"), None);
/// ```
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

/// Appends query arguments to a URL (Tornado's `url_concat`).
///
/// Adds `?` or `&` as the URL needs, encodes each name and value as Python's `quote_plus` does
/// (space as `+`, everything but letters, digits and `_.-~` as `%XX`), and keeps an existing
/// query and `#fragment` as they are (the arguments go before the fragment). With no
/// arguments the URL is returned unchanged.
///
/// # Examples
///
/// ```
/// use squall::httputil::url_concat;
/// assert_eq!(url_concat("/foo", &[("c", "d e")]), "/foo?c=d+e");
/// assert_eq!(url_concat("/foo?a=b", &[("c", "d"), ("c", "&")]), "/foo?a=b&c=d&c=%26");
/// assert_eq!(url_concat("/foo?a=b#top", &[("c", "d")]), "/foo?a=b&c=d#top");
/// ```
pub fn url_concat(url: &str, args: &[(&str, &str)]) -> String {
    if args.is_empty() {
        return url.to_owned();
    }
    let (base, fragment) = url.split_at(url.find('#').unwrap_or(url.len()));
    let mut out = String::with_capacity(url.len() + args.len() * 16);
    out.push_str(base);
    match base.split_once('?') {
        None => out.push('?'),
        Some((_, query)) if query.is_empty() || query.ends_with('&') => {}
        Some(_) => out.push('&'),
    }
    for (i, (name, value)) in args.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, name, true, b"");
        out.push('=');
        percent_encode_into(&mut out, value, true, b"");
    }
    out.push_str(fragment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // --- HeaderMap ---------------------------------------------------------------------------

    #[test]
    fn header_params_basic() {
        let (main, params) = parse_header_params(" text/html ; Charset=UTF-8 ;q=0.5");
        assert_eq!(main, "text/html");
        assert_eq!(params, pairs(&[("charset", "UTF-8"), ("q", "0.5")]));
    }

    #[test]
    fn header_params_empty_and_bare() {
        assert_eq!(parse_header_params(""), ("", vec![]));
        assert_eq!(parse_header_params("   "), ("", vec![]));
        assert_eq!(parse_header_params("inline"), ("inline", vec![]));
        // Segments without `=` are dropped; an empty value is kept.
        assert_eq!(
            parse_header_params("a; novalue; ;; k=; =v"),
            ("a", pairs(&[("k", ""), ("", "v")]))
        );
    }

    #[test]
    fn header_params_quoted_with_semicolons_and_escapes() {
        let (main, params) = parse_header_params(
            r#"form-data; name="a;b=c"; filename="say \"hi\"; \\o/ C:\dir\f.txt"; x="""#,
        );
        assert_eq!(main, "form-data");
        assert_eq!(
            params,
            pairs(&[
                ("name", "a;b=c"),
                ("filename", r#"say "hi"; \o/ C:\dir\f.txt"#),
                ("x", ""),
            ])
        );
    }

    #[test]
    fn header_params_escaped_quote_does_not_end_the_string() {
        // One escaped quote: a splitter that ignored `\` would leave the string at `\"` and
        // split at the `;` that follows.
        let (main, params) = parse_header_params(r#"a; k="x\"; y"; z=1"#);
        assert_eq!(main, "a");
        assert_eq!(params, pairs(&[("k", r#"x"; y"#), ("z", "1")]));
    }

    #[test]
    fn header_params_unterminated_quote_swallows_rest() {
        let (main, params) = parse_header_params(r#"a; k="x; y=z"#);
        assert_eq!(main, "a");
        assert_eq!(params, pairs(&[("k", r#""x; y=z"#)]));
    }

    #[test]
    fn header_params_rfc5987_takes_precedence() {
        let (_, p) = parse_header_params(
            "attachment; filename*=UTF-8''%e2%82%ac%20rates.txt; filename=\"EUR rates.txt\"",
        );
        assert_eq!(p, pairs(&[("filename", "€ rates.txt")]));

        let (_, p) =
            parse_header_params("attachment; FILENAME=plain.txt; FileName*=utf-8'en'x%2By");
        assert_eq!(p, pairs(&[("filename", "x+y")]));

        let (_, p) = parse_header_params("a; title*=iso-8859-1''caf%E9; other=1");
        assert_eq!(p, pairs(&[("title", "café"), ("other", "1")]));

        // Quoted ext-values are tolerated.
        let (_, p) = parse_header_params("a; filename*=\"UTF-8''%C3%A9\"");
        assert_eq!(p, pairs(&[("filename", "é")]));
    }

    #[test]
    fn header_params_undecodable_extended_falls_back_to_plain() {
        for bad in [
            "filename*=UTF-8''%ff",       // invalid UTF-8
            "filename*=koi8-r''%c1",      // unknown charset
            "filename*=no-quotes-at-all", // no charset'lang' prefix
        ] {
            let (_, p) = parse_header_params(&format!("attachment; filename=\"p.txt\"; {bad}"));
            assert_eq!(p, pairs(&[("filename", "p.txt")]), "{bad}");
        }
    }

    #[test]
    fn header_params_duplicates_kept_in_order() {
        let (_, p) = parse_header_params("a; x=1; X=2");
        assert_eq!(p, pairs(&[("x", "1"), ("x", "2")]));
    }

    #[test]
    fn header_params_many_extended_params_is_fast() {
        // Thousands of parameters, half of them extended: must not go quadratic.
        let mut header = String::from("a");
        for i in 0..20_000 {
            header.push_str(&format!("; k{i}=v; k{i}*=UTF-8''w"));
        }
        let (_, p) = parse_header_params(&header);
        assert_eq!(p.len(), 20_000);
        assert_eq!(p[0], ("k0".to_string(), "w".to_string()));
    }

    // --- percent decoding ---------------------------------------------------------------------

    #[test]
    fn percent_decode_edge_cases() {
        assert_eq!(&*percent_decode(b"", true), b"");
        assert!(matches!(
            percent_decode(b"abc", true),
            Cow::Borrowed(b"abc")
        ));
        assert!(matches!(
            percent_decode(b"a+b", false),
            Cow::Borrowed(b"a+b")
        ));
        assert_eq!(&*percent_decode(b"a+b", true), b"a b");
        assert_eq!(&*percent_decode(b"%41%4a%4A", false), b"AJJ");
        assert_eq!(&*percent_decode(b"%", false), b"%");
        assert_eq!(&*percent_decode(b"%2", false), b"%2");
        assert_eq!(&*percent_decode(b"a%zzb", false), b"a%zzb");
        assert_eq!(&*percent_decode(b"%%41", false), b"%A");
        assert_eq!(&*percent_decode(b"%2B+", true), b"+ ");
        assert_eq!(&*percent_decode(b"%ff%00", false), b"\xff\x00");
    }

    // --- dates -------------------------------------------------------------------------------

    #[test]
    fn http_dates_round_trip_and_formats() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT "), Some(t));
        // Sub-seconds dropped.
        assert_eq!(
            format_http_date(t + Duration::from_millis(999)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn http_dates_bad_input() {
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sün, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_date_out_of_range_is_clamped() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(format_http_date(before), "Thu, 01 Jan 1970 00:00:00 GMT");
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(format_http_date(far), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    // --- url_concat --------------------------------------------------------------------------

    #[test]
    fn url_concat_cases() {
        assert_eq!(
            url_concat("http://x.com/foo", &[("c", "d")]),
            "http://x.com/foo?c=d"
        );
        assert_eq!(
            url_concat("http://x.com/foo?a=b", &[("c", "d")]),
            "http://x.com/foo?a=b&c=d"
        );
        assert_eq!(
            url_concat("http://x.com/foo?a=b", &[("c", "d"), ("c", "d2")]),
            "http://x.com/foo?a=b&c=d&c=d2"
        );
        assert_eq!(url_concat("/foo?", &[("c", "d")]), "/foo?c=d");
        assert_eq!(url_concat("/foo?a=b&", &[("c", "d")]), "/foo?a=b&c=d");
        assert_eq!(url_concat("/foo#frag?x", &[("c", "d")]), "/foo?c=d#frag?x");
        assert_eq!(url_concat("/foo?a=1", &[]), "/foo?a=1");
        assert_eq!(url_concat("", &[("a", "")]), "?a=");
        assert_eq!(
            url_concat("/", &[("k y/&=?#+", "v~é_.-")]),
            "/?k+y%2F%26%3D%3F%23%2B=v~%C3%A9_.-"
        );
    }

    #[test]
    fn parse_error_basics() {
        let e = ParseError::new(String::from("boom"));
        assert_eq!(e.message(), "boom");
        assert_eq!(e.to_string(), "boom");
        assert_eq!(e.clone(), e);
        let _: &dyn std::error::Error = &e;
    }
}
