//! Query strings, urlencoded forms and `multipart/form-data` bodies.
//!
//! Private to [`httputil`](super), which re-exports the public items: the parsing of request
//! bodies, apart from the header handling the rest of that module does. The linearity rules of
//! the parent's "Untrusted input" section hold here too; [`find_bytes`] says why the boundary
//! search keeps them.

use std::borrow::Cow;

use super::{parse_header_params, percent_decode, ParseError};

// ---------------------------------------------------------------------------------------------
// Query strings and urlencoded forms
// ---------------------------------------------------------------------------------------------

/// Parses a query string or an `application/x-www-form-urlencoded` body into `(name, value)`
/// pairs, in order.
///
/// Tornado's `parse_qs_bytes` with blank values kept: pairs are split on `&` only (not `;`),
/// each at its first `=`; `+` is a space and `%XX` a byte (a malformed `%` escape is kept
/// literally); `a=` and a bare `a` both give `("a", "")`; empty segments are skipped. Repeated
/// names keep every value, in order. Runs in one pass.
///
/// # Errors
///
/// [`ParseError`] when a decoded name or value is not valid UTF-8 (the server answers 400).
///
/// # Examples
///
/// ```
/// use squall::httputil::parse_query;
/// let pairs = parse_query(b"q=caf%C3%A9+cr%C3%A8me&page=2&&flag").unwrap();
/// assert_eq!(pairs, [
///     ("q".to_string(), "café crème".to_string()),
///     ("page".to_string(), "2".to_string()),
///     ("flag".to_string(), String::new()),
/// ]);
/// assert!(parse_query(b"x=%ff").is_err());
/// ```
pub fn parse_query(input: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    let mut pairs = Vec::new();
    for (_, name, value) in form_fields(input) {
        pairs.push((
            decode_form_text(name)?.into_owned(),
            decode_form_text(value)?.into_owned(),
        ));
    }
    Ok(pairs)
}

/// The fields of a query string or urlencoded body, as [`parse_query`] reads them but not
/// decoded: for each non-empty `&`-separated segment, its offset in `input`, its raw name and
/// its raw value (split at the first `=`). Allocates nothing.
pub(crate) fn form_fields(input: &[u8]) -> impl Iterator<Item = (usize, &[u8], &[u8])> + Clone {
    input
        .split(|&b| b == b'&')
        .scan(0usize, |offset, segment| {
            let at = *offset;
            *offset += segment.len() + 1;
            Some((at, segment))
        })
        .filter(|(_, segment)| !segment.is_empty())
        .map(|(at, segment)| {
            let (name, value) = split_field(segment);
            (at, name, value)
        })
}

/// The raw name and value of the field whose segment starts at `offset` of `input` (an offset
/// [`form_fields`] gave; any other gives what its bytes up to the next `&` say).
pub(crate) fn form_field_at(input: &[u8], offset: usize) -> (&[u8], &[u8]) {
    let rest = input.get(offset..).unwrap_or_default();
    let end = rest.iter().position(|&b| b == b'&').unwrap_or(rest.len());
    split_field(rest.get(..end).unwrap_or_default())
}

fn split_field(segment: &[u8]) -> (&[u8], &[u8]) {
    match segment.iter().position(|&b| b == b'=') {
        Some(eq) => (
            segment.get(..eq).unwrap_or_default(),
            segment.get(eq + 1..).unwrap_or_default(),
        ),
        None => (segment, &[]),
    }
}

/// A name or value of a query string or form, decoded (`+` is a space, `%XX` a byte), borrowed
/// from `raw` when it holds neither.
///
/// # Errors
///
/// [`ParseError`] when the decoded bytes are not UTF-8.
pub(crate) fn decode_form_text(raw: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    let invalid = |_| ParseError::new("query or form data is not valid UTF-8 after decoding");
    match percent_decode(raw, true) {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed).map_err(invalid),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|e| invalid(e.utf8_error())),
    }
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data
// ---------------------------------------------------------------------------------------------

/// A file received in a `multipart/form-data` body (Tornado's `HTTPFile`).
///
/// Every field is client-controlled: `filename` in particular is not sanitized and may hold a
/// path, `..` or anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadedFile {
    /// The `filename` parameter of the part's `Content-Disposition` (`filename*` preferred).
    pub filename: String,
    /// The part's `Content-Type`, `application/octet-stream` when it has none.
    pub content_type: String,
    /// The part's content, byte for byte.
    pub body: Vec<u8>,
}

/// The fields and files of a `multipart/form-data` body, each in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multipart {
    /// `(name, value)` for each part without a filename.
    pub fields: Vec<(String, String)>,
    /// `(name, file)` for each part with a non-empty filename.
    pub files: Vec<(String, UploadedFile)>,
}

/// The `boundary` parameter of a `multipart/*` content type, unquoted.
///
/// `None` when the type is not `multipart/...` or has no (or an empty) boundary.
///
/// # Examples
///
/// ```
/// use squall::httputil::multipart_boundary;
/// assert_eq!(
///     multipart_boundary(r#"multipart/form-data; boundary="--x;y""#).as_deref(),
///     Some("--x;y")
/// );
/// assert_eq!(multipart_boundary("text/plain; boundary=x"), None);
/// ```
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let (main, params) = parse_header_params(content_type);
    let is_multipart = main
        .get(..10)
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/"));
    if !is_multipart {
        return None;
    }
    params
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Parses a `multipart/form-data` body (RFC 7578) delimited by `boundary` (already unquoted; see
/// [`multipart_boundary`]).
///
/// Tornado's `parse_multipart_form_data`, with RFC 2046 delimiters: a boundary counts only at
/// the start of the body or after a CRLF, followed by `--` (the end) or optional blanks and a
/// CRLF, so `--boundary` elsewhere in a part's content is content. The preamble and epilogue
/// are ignored. Part header names are case-insensitive.
///
/// A part whose `Content-Disposition` is missing, is not `form-data`, or has no `name` is
/// skipped with a `log::warn!`, as is a part without a header block. A part with a non-empty
/// `filename` is a file; any other (including `filename=""`, what a browser sends for an empty
/// file input, as in Tornado) is a field.
///
/// # Errors
///
/// [`ParseError`] when the boundary is empty or holds a control character, no boundary is found,
/// the closing `--boundary--` is missing, part headers are not UTF-8 or have a malformed line,
/// or a field's value is not valid UTF-8.
///
/// # Examples
///
/// ```
/// use squall::httputil::parse_multipart;
/// let body = b"--XyZ\r\n\
///     Content-Disposition: form-data; name=\"title\"\r\n\r\n\
///     Hello\r\n\
///     --XyZ\r\n\
///     Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
///     Content-Type: text/plain\r\n\r\n\
///     line 1\r\nline 2\r\n\
///     --XyZ--\r\n";
/// let form = parse_multipart("XyZ", body).unwrap();
/// assert_eq!(form.fields, [("title".to_string(), "Hello".to_string())]);
/// assert_eq!(form.files[0].0, "doc");
/// assert_eq!(form.files[0].1.filename, "a.txt");
/// assert_eq!(form.files[0].1.content_type, "text/plain");
/// assert_eq!(form.files[0].1.body, b"line 1\r\nline 2");
/// ```
pub fn parse_multipart(boundary: &str, body: &[u8]) -> Result<Multipart, ParseError> {
    parse_multipart_limited(boundary, body, usize::MAX).map_err(|e| match e {
        LimitedError::Malformed(e) => e,
        LimitedError::TooMany => ParseError::new("too many multipart parts"),
    })
}

/// Why [`parse_multipart_limited`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitedError {
    /// The body is malformed.
    Malformed(ParseError),
    /// The body has more parts than allowed.
    TooMany,
}

impl From<ParseError> for LimitedError {
    fn from(e: ParseError) -> LimitedError {
        LimitedError::Malformed(e)
    }
}

/// [`parse_multipart`], stopping at the first part beyond `max_parts` (skipped parts count:
/// each costs the same work): the number of parts costs neither time nor memory beyond the
/// limit.
pub(crate) fn parse_multipart_limited(
    boundary: &str,
    body: &[u8],
    max_parts: usize,
) -> Result<Multipart, LimitedError> {
    if boundary.is_empty() {
        return Err(ParseError::new("empty multipart boundary").into());
    }
    // Also what keeps `find_bytes` linear: the delimiter then has a single CR, at its start.
    if boundary.bytes().any(|b| b.is_ascii_control()) {
        return Err(ParseError::new("multipart boundary contains a control character").into());
    }
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary.as_bytes());
    let dash_boundary = delimiter.get(2..).unwrap_or_default();

    let opening = if body.starts_with(dash_boundary) {
        classify_delimiter(body, dash_boundary.len())
    } else {
        None
    };
    let mut next = match opening.or_else(|| find_delimiter(body, 0, &delimiter).map(|d| d.1)) {
        Some(d) => d,
        None => return Err(ParseError::new("no multipart boundary found").into()),
    };

    let mut form = Multipart::default();
    let mut parts = 0usize;
    while let Delimiter::Part(start) = next {
        parts += 1;
        if parts > max_parts {
            return Err(LimitedError::TooMany);
        }
        let Some((end, after)) = find_delimiter(body, start, &delimiter) else {
            return Err(ParseError::new("multipart body has no final boundary").into());
        };
        add_part(body.get(start..end).unwrap_or_default(), &mut form)?;
        next = after;
    }
    Ok(form)
}

/// What follows an occurrence of `--boundary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimiter {
    /// A delimiter line: the next part starts at this offset.
    Part(usize),
    /// The close delimiter `--boundary--`.
    Close,
}

/// Decides whether `--boundary` ending at offset `after` is a real delimiter.
fn classify_delimiter(body: &[u8], after: usize) -> Option<Delimiter> {
    let rest = body.get(after..)?;
    if rest.starts_with(b"--") {
        return Some(Delimiter::Close);
    }
    // RFC 2046 transport padding, then the CRLF ending the delimiter line.
    let padding = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    rest.get(padding..)?
        .starts_with(b"\r\n")
        .then_some(Delimiter::Part(after + padding + 2))
}

/// Finds the next real `CRLF--boundary` at or after `from`: its offset and what follows it.
fn find_delimiter(body: &[u8], from: usize, delimiter: &[u8]) -> Option<(usize, Delimiter)> {
    let mut at = from;
    loop {
        let found = find_bytes(body, delimiter, at)?;
        if let Some(kind) = classify_delimiter(body, found + delimiter.len()) {
            return Some((found, kind));
        }
        at = found + 1;
    }
}

/// Offset of the first `needle` in `haystack` at or after `from`.
///
/// Scans for the needle's first byte, then compares. When that byte occurs nowhere else in the
/// needle (true of `CRLF--boundary` for a boundary without CR) a comparison can only run over
/// bytes that are not candidates, so the comparisons never overlap and the search is linear.
/// Needles here are never empty.
fn find_bytes(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut at = from;
    while let Some(window) = haystack.get(at..) {
        let offset = window.iter().position(|&b| b == first)?;
        let start = at + offset;
        let rest = haystack.get(start + 1..).unwrap_or_default();
        // Byte by byte, stopping at the first difference: the linearity argument needs it.
        if rest.len() >= tail.len() && rest.iter().zip(tail).all(|(a, b)| a == b) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// Parses one part (the bytes between two delimiters) and records it in `form`.
fn add_part(part: &[u8], form: &mut Multipart) -> Result<(), ParseError> {
    let (head, content) = if let Some(content) = part.strip_prefix(b"\r\n") {
        (&[][..], content)
    } else if let Some(end) = find_bytes(part, b"\r\n\r\n", 0) {
        let (head, rest) = part.split_at(end);
        (head, rest.get(4..).unwrap_or_default())
    } else {
        log::warn!("multipart/form-data part without a header block; skipped");
        return Ok(());
    };

    let head = std::str::from_utf8(head)
        .map_err(|_| ParseError::new("multipart part headers are not valid UTF-8"))?;
    let mut disposition = None;
    let mut content_type = None;
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return Err(ParseError::new(
                "obsolete line folding in multipart part headers",
            ));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::new("malformed multipart part header line"));
        };
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type.get_or_insert(value);
        }
    }

    let Some(disposition) = disposition else {
        log::warn!("multipart/form-data part without Content-Disposition; skipped");
        return Ok(());
    };
    let (kind, params) = parse_header_params(disposition);
    if !kind.eq_ignore_ascii_case("form-data") {
        log::warn!("multipart/form-data part with a {kind:?} disposition; skipped");
        return Ok(());
    }
    let mut name = None;
    let mut filename = None;
    for (key, value) in params {
        match key.as_str() {
            "name" if name.is_none() => name = Some(value),
            "filename" if filename.is_none() => filename = Some(value),
            _ => {}
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        log::warn!("multipart/form-data part without a name; skipped");
        return Ok(());
    };

    match filename.filter(|f| !f.is_empty()) {
        Some(filename) => form.files.push((
            name,
            UploadedFile {
                filename,
                content_type: content_type
                    .filter(|t| !t.is_empty())
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                body: content.to_vec(),
            },
        )),
        None => {
            let value = std::str::from_utf8(content)
                .map_err(|_| ParseError::new("multipart field value is not valid UTF-8"))?;
            form.fields.push((name, value.to_owned()));
        }
    }
    Ok(())
}

/// Parses a request body into `(fields, files)` according to its `Content-Type`.
///
/// Tornado's `parse_body_arguments`: `application/x-www-form-urlencoded` goes to
/// [`parse_query`], `multipart/form-data` to [`parse_multipart`] with the type's boundary, and
/// any other type gives two empty lists. Type names compare case-insensitively; parameters such
/// as `charset` are ignored. `Content-Encoding` is not handled here: pass a decoded body.
///
/// # Errors
///
/// [`ParseError`] from the parser chosen, or when a `multipart/form-data` type has no boundary.
///
/// # Examples
///
/// ```
/// use squall::httputil::parse_body_arguments;
/// let (fields, files) = parse_body_arguments(
///     "application/x-www-form-urlencoded; charset=UTF-8",
///     b"a=1&b=two+words",
/// ).unwrap();
/// assert_eq!(fields, [("a".into(), "1".into()), ("b".into(), "two words".into())]);
/// assert!(files.is_empty());
/// ```
// The tuple mirrors Tornado's (arguments, files) pair and reads better in rustdoc than an alias.
#[allow(clippy::type_complexity)]
pub fn parse_body_arguments(
    content_type: &str,
    body: &[u8],
) -> Result<(Vec<(String, String)>, Vec<(String, UploadedFile)>), ParseError> {
    let (main, _) = parse_header_params(content_type);
    if main.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok((parse_query(body)?, Vec::new()))
    } else if main.eq_ignore_ascii_case("multipart/form-data") {
        let boundary = multipart_boundary(content_type)
            .ok_or_else(|| ParseError::new("multipart/form-data without a boundary"))?;
        let form = parse_multipart(&boundary, body)?;
        Ok((form.fields, form.files))
    } else {
        Ok((Vec::new(), Vec::new()))
    }
}

#[cfg(test)]
mod tests;
