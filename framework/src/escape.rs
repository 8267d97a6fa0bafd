//! Escaping and unescaping for HTML, URLs and JSON (Tornado's `tornado.escape`).
//!
//! Pure string functions. Those that often have nothing to do return a [`Cow`] that borrows
//! the input in that case, so escaping clean text does not allocate.

use std::borrow::Cow;

use crate::httputil::{percent_decode, percent_encode_into, ParseError};

/// Escapes a string for HTML or XML text and attribute values.
///
/// `&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&#x27;`, byte for byte what
/// Tornado's `xhtml_escape` writes (6.4 and later, Python's `html.escape`). Borrows the input
/// when it holds none of them.
///
/// # Examples
///
/// ```
/// use std::borrow::Cow;
/// use squall::escape::xhtml_escape;
/// assert_eq!(xhtml_escape(r#"<a href="x">Tom & Jerry's</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt;");
/// assert!(matches!(xhtml_escape("plain"), Cow::Borrowed("plain")));
/// ```
pub fn xhtml_escape(s: &str) -> Cow<'_, str> {
    let Some(first) = s.bytes().position(|b| escape_for(b).is_some()) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    let mut copied = 0;
    for (i, b) in s.bytes().enumerate().skip(first) {
        if let Some(entity) = escape_for(b) {
            // `i` is the offset of an ASCII byte, so these slices are on char boundaries.
            out.push_str(&s[copied..i]);
            out.push_str(entity);
            copied = i + 1;
        }
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

fn escape_for(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&#x27;"),
        _ => None,
    }
}

/// Unescapes HTML character references.
///
/// Decodes the named references `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&nbsp;` and numeric
/// ones (`&#39;`, `&#x27;`, `&#X27;`). Anything else, an unknown name, a number that is not a
/// Unicode scalar value, or a reference without its `;`, is left as it is. Borrows the input
/// when it holds no `&`.
///
/// # Examples
///
/// ```
/// use squall::escape::xhtml_unescape;
/// assert_eq!(xhtml_unescape("&lt;b&gt; &amp;amp; &#233;&#x20AC; &copy; &amp"),
///            "<b> &amp; é€ &copy; &amp");
/// ```
pub fn xhtml_unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(before);
        match decode_reference(after) {
            Some((c, used)) => {
                out.push(c);
                rest = after.get(used..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decodes the reference at the start of `s` (the text after a `&`): the character and the
/// number of bytes it used, `;` included.
fn decode_reference(s: &str) -> Option<(char, usize)> {
    let numeric = s.starts_with('#');
    let start = usize::from(numeric);
    let body = s.get(start..)?;
    let len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if len == 0 || body.as_bytes().get(len) != Some(&b';') {
        return None;
    }
    let name = body.get(..len)?;
    let c = if numeric {
        let (digits, radix) = match name.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (name, 10),
        };
        char::from_u32(u32::from_str_radix(digits, radix).ok()?)?
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            _ => return None,
        }
    };
    Some((c, start + len + 1))
}

/// Percent-encodes a string for a URL (Tornado's `url_escape`).
///
/// Letters, digits and `_.-~` are kept and every other UTF-8 byte becomes `%XX`. With `plus`
/// (for query strings, like Python's `quote_plus`) a space becomes `+` and `/` is encoded too.
/// Without it (for paths, like Python's `quote`) a space is `%20` and `/` is kept, as in
/// Tornado: encode a `/` inside a single path segment yourself.
///
/// # Examples
///
/// ```
/// use squall::escape::url_escape;
/// assert_eq!(url_escape("a b/c&d=é", true), "a+b%2Fc%26d%3D%C3%A9");
/// assert_eq!(url_escape("a b/c&d=é", false), "a%20b/c%26d%3D%C3%A9");
/// ```
pub fn url_escape(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let safe: &[u8] = if plus { b"" } else { b"/" };
    percent_encode_into(&mut out, s, plus, safe);
    out
}

/// Decodes a percent-encoded string (Tornado's `url_unescape`).
///
/// `%XX` becomes the byte it names; with `plus`, `+` becomes a space. A `%` not followed by two
/// hex digits is kept literally. Borrows the input when there is nothing to decode.
///
/// # Errors
///
/// [`ParseError`] when the decoded bytes are not valid UTF-8 (unlike Python, nothing is
/// replaced with U+FFFD). Use [`url_unescape_bytes`] for binary data.
///
/// # Examples
///
/// ```
/// use squall::escape::url_unescape;
/// assert_eq!(url_unescape("caf%C3%A9+au+lait", true).unwrap(), "café au lait");
/// assert_eq!(url_unescape("1+1%3D2", false).unwrap(), "1+1=2");
/// assert!(url_unescape("%FF", false).is_err());
/// ```
pub fn url_unescape(s: &str, plus: bool) -> Result<Cow<'_, str>, ParseError> {
    match percent_decode(s.as_bytes(), plus) {
        Cow::Borrowed(_) => Ok(Cow::Borrowed(s)),
        Cow::Owned(bytes) => String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|_| ParseError::new("percent-decoded text is not valid UTF-8")),
    }
}

/// Decodes percent-encoded bytes, as [`url_unescape`] does, without requiring UTF-8.
///
/// # Examples
///
/// ```
/// use squall::escape::url_unescape_bytes;
/// assert_eq!(url_unescape_bytes(b"%FF+%zz", true), b"\xff %zz");
/// ```
pub fn url_unescape_bytes(s: &[u8], plus: bool) -> Vec<u8> {
    percent_decode(s, plus).into_owned()
}

/// Serializes a value to JSON that is safe to embed in an HTML `<script>` element.
///
/// As Tornado's `json_encode`, every `</` is written `<\/` (the same string to a JSON parser),
/// so a string value cannot close the script element.
///
/// # Errors
///
/// The [`serde_json::Error`] of a value that cannot be serialized (a map with non-string keys,
/// a failing `Serialize` impl).
///
/// # Examples
///
/// ```
/// use squall::escape::json_encode;
/// let json = json_encode(&["</script><script>alert(1)"]).unwrap();
/// assert_eq!(json, r#"["<\/script><script>alert(1)"]"#);
/// ```
#[cfg(feature = "json")]
pub fn json_encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    // `<` only ever appears inside JSON strings, where `\/` is a valid escape for `/`.
    Ok(if json.contains("</") {
        json.replace("</", "<\\/")
    } else {
        json
    })
}

/// Deserializes a value from JSON text (Tornado's `json_decode`).
///
/// # Errors
///
/// The [`serde_json::Error`] of text that is not JSON or does not fit `T`.
///
/// # Examples
///
/// ```
/// let v: Vec<String> = squall::escape::json_decode(r#"["<\/b>"]"#).unwrap();
/// assert_eq!(v, ["</b>"]);
/// ```
#[cfg(feature = "json")]
pub fn json_decode<'de, T: serde::Deserialize<'de>>(s: &'de str) -> Result<T, serde_json::Error> {
    serde_json::from_str(s)
}

/// Collapses every run of whitespace (and ASCII control characters) into one space, and trims
/// the ends (Tornado's `squeeze`).
///
/// # Examples
///
/// ```
/// assert_eq!(squall::escape::squeeze("  a \t\r\n b\u{a0} c  "), "a b c");
/// ```
pub fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c <= ' ' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xhtml_escape_borrows_when_clean() {
        assert!(matches!(xhtml_escape(""), Cow::Borrowed("")));
        assert!(matches!(
            xhtml_escape("héllo wörld; a=b/c"),
            Cow::Borrowed("héllo wörld; a=b/c")
        ));
    }

    #[test]
    fn xhtml_escape_all_five() {
        let escaped = xhtml_escape(r#"&<>"'"#);
        assert!(matches!(escaped, Cow::Owned(_)));
        assert_eq!(escaped, "&amp;&lt;&gt;&quot;&#x27;");
        assert_eq!(
            xhtml_escape("é<script>alert('x')</script>€"),
            "é&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;€"
        );
        assert_eq!(xhtml_escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn xhtml_unescape_named_and_numeric() {
        assert!(matches!(xhtml_unescape("plain"), Cow::Borrowed("plain")));
        assert_eq!(
            xhtml_unescape("&amp;&lt;&gt;&quot;&apos;&nbsp;"),
            "&<>\"'\u{a0}"
        );
        assert_eq!(xhtml_unescape("&#39;&#x27;&#X27;&#0065;"), "''\'A");
        assert_eq!(xhtml_unescape("&#x1F600;"), "\u{1F600}");
        assert_eq!(xhtml_unescape("&amp;lt;"), "&lt;");
    }

    #[test]
    fn xhtml_unescape_leaves_unknown_as_is() {
        for s in [
            "&",
            "&&",
            "a & b",
            "&copy;",
            "&AMP;",
            "&amp",
            "&#;",
            "&#x;",
            "&#xZZ;",
            "&#12a;",
            "&#xD800;",
            "&#1114112;",
            "&#99999999999999999999;",
            "&;",
            "&é;",
            "&am p;",
        ] {
            assert_eq!(xhtml_unescape(s), s, "{s:?}");
        }
        assert_eq!(xhtml_unescape("&&amp;&"), "&&&");
        assert_eq!(xhtml_unescape("x &foo; &lt;y"), "x &foo; <y");
    }

    #[test]
    fn xhtml_round_trip() {
        let s = r#"<a href="?a=1&b='2'">é</a>"#;
        assert_eq!(xhtml_unescape(&xhtml_escape(s)), s);
    }

    #[test]
    fn url_escape_plus_and_path() {
        assert_eq!(url_escape("", true), "");
        assert_eq!(url_escape("AZaz09_.-~", true), "AZaz09_.-~");
        assert_eq!(url_escape("a b", true), "a+b");
        assert_eq!(url_escape("a b", false), "a%20b");
        assert_eq!(url_escape("/", true), "%2F");
        assert_eq!(url_escape("/", false), "/");
        assert_eq!(
            url_escape("!*'();:@&=+$,?#[]%\"<>\\^`{|}", true),
            "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D%25%22%3C%3E%5C%5E%60%7B%7C%7D"
        );
        assert_eq!(url_escape("€\n\0", true), "%E2%82%AC%0A%00");
    }

    #[test]
    fn url_unescape_cases() {
        assert!(matches!(
            url_unescape("abc", true),
            Ok(Cow::Borrowed("abc"))
        ));
        assert!(matches!(
            url_unescape("a+b", false),
            Ok(Cow::Borrowed("a+b"))
        ));
        assert_eq!(url_unescape("a+b%20c", true).unwrap(), "a b c");
        assert_eq!(url_unescape("a+b%20c", false).unwrap(), "a+b c");
        assert_eq!(url_unescape("", true).unwrap(), "");
        assert_eq!(url_unescape("%", true).unwrap(), "%");
        assert_eq!(url_unescape("%2", true).unwrap(), "%2");
        assert_eq!(url_unescape("%zz%2b", true).unwrap(), "%zz+");
        assert_eq!(url_unescape("%E2%82%ac", true).unwrap(), "€");
        let e = url_unescape("%E2%82", true).unwrap_err();
        assert_eq!(e.message(), "percent-decoded text is not valid UTF-8");
    }

    #[test]
    fn url_escape_round_trip() {
        let s = "a b+c/d?e=f&g=€%";
        assert_eq!(url_unescape(&url_escape(s, true), true).unwrap(), s);
        assert_eq!(url_unescape(&url_escape(s, false), false).unwrap(), s);
    }

    #[test]
    fn url_unescape_bytes_cases() {
        assert_eq!(url_unescape_bytes(b"", true), b"");
        assert_eq!(url_unescape_bytes(b"%00%ff+", true), b"\x00\xff ");
        assert_eq!(url_unescape_bytes(b"%00%ff+", false), b"\x00\xff+");
        assert_eq!(url_unescape_bytes(b"\xfe%", false), b"\xfe%");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_encode_escapes_closing_tags() {
        let v = serde_json::json!({"html": "</script><b>x</b>", "n": [1, 2]});
        assert_eq!(
            json_encode(&v).unwrap(),
            r#"{"html":"<\/script><b>x<\/b>","n":[1,2]}"#
        );
        assert_eq!(json_encode("plain").unwrap(), r#""plain""#);
        assert_eq!(json_encode(&[1u8, 2]).unwrap(), "[1,2]");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_round_trip_and_errors() {
        let original = vec!["</a>".to_string(), "é\"\\".to_string()];
        let encoded = json_encode(&original).unwrap();
        let decoded: Vec<String> = json_decode(&encoded).unwrap();
        assert_eq!(decoded, original);
        let borrowed: &str = json_decode(r#""no escapes""#).unwrap();
        assert_eq!(borrowed, "no escapes");
        assert!(json_decode::<Vec<u8>>("[1,").is_err());
        assert!(json_decode::<u8>("256").is_err());
        let mut bad_keys = std::collections::BTreeMap::new();
        bad_keys.insert(vec![1u8], 1);
        assert!(json_encode(&bad_keys).is_err());
    }

    #[test]
    fn squeeze_cases() {
        assert_eq!(squeeze(""), "");
        assert_eq!(squeeze(" \t\r\n "), "");
        assert_eq!(squeeze("a"), "a");
        assert_eq!(squeeze("  a   b\t\tc\r\n\r\nd  "), "a b c d");
        assert_eq!(squeeze("a\0\x1fb"), "a b");
        assert_eq!(squeeze("a\u{3000}\u{a0}b"), "a b");
        assert_eq!(squeeze("é  ü"), "é ü");
    }
}
