//! ETags: computing one from a response body, and evaluating `If-None-Match` and `If-Match`
//! against it (RFC 9110 §8.8.3, §13.1.1, §13.1.2).
//!
//! ### Comparison
//!
//! An entity-tag is an opaque quoted string, optionally marked weak with `W/`. *Strong*
//! comparison (for `If-Match`, which guards writes) needs both tags strong and equal; *weak*
//! comparison (for `If-None-Match`, which only saves a download) ignores `W/` on both sides.
//!
//! ### Lists
//!
//! Both headers hold `*` or a comma-separated list of entity-tags. The parser respects quotes,
//! so `"a,b", "c"` is two tags; empty list elements and whitespace around commas are allowed.
//! An element that is not a well-formed entity-tag (no quotes, a lowercase `w/`, a space or
//! control character inside the quotes, trailing text) is skipped: it matches nothing, and the
//! elements after it are still read. `*` counts only as the whole field value. Parsing is one
//! linear pass and never fails.

use std::fmt;

/// The ETag of a complete body: the lowercase hex MD5 of its bytes, in double quotes (a strong
/// validator). Tornado uses SHA-1 here; Squall's design calls for MD5, which is enough for
/// telling versions apart and is not relied on for security.
///
/// # Examples
///
/// ```
/// use squall::web::etag::compute_etag;
///
/// assert_eq!(compute_etag(b""), r#""d41d8cd98f00b204e9800998ecf8427e""#);
/// assert_eq!(compute_etag(b"hello world"), r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#);
/// ```
pub fn compute_etag(body: &[u8]) -> String {
    tag_str(&etag_bytes(body)).to_owned()
}

/// A tag made by [`etag_bytes`] as text (quotes and hex digits: always ASCII).
fn tag_str(tag: &[u8; 34]) -> &str {
    std::str::from_utf8(tag).unwrap_or_default()
}

/// [`compute_etag`]'s value as bytes.
fn etag_bytes(body: &[u8]) -> [u8; 34] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tag = [b'"'; 34];
    for (i, b) in md5::compute(body).0.iter().enumerate() {
        tag[1 + 2 * i] = HEX[(b >> 4) as usize];
        tag[2 + 2 * i] = HEX[(b & 15) as usize];
    }
    tag
}

/// Bodies up to this size are remembered next to their ETag (see [`EtagMemo`]).
const MEMO_MAX: usize = 1024;

/// The automatic ETag of the last body a pooled context hashed, with a copy of that body.
///
/// Many handlers answer the same bytes request after request (a fixed page, a cached JSON
/// document). MD5 costs about ten instructions per byte and at least one 64-byte block; a
/// comparison against the remembered body costs a fraction of that, so the tag is reused when
/// the body is byte-for-byte the one it was computed from. The value sent is exactly
/// [`compute_etag`] of the body either way. Only bodies up to [`MEMO_MAX`] bytes are
/// remembered, so a miss costs at most a short compare and copy on top of the hash, and the
/// memory kept per pooled context stays small.
///
/// The tag is also kept as the whole header line the response sends, `Etag: <tag>\r\n`.
pub(crate) struct EtagMemo {
    /// `compute_etag(&body)` when `valid`. Also inside `line`, but kept as text too: checking
    /// the line's bytes as UTF-8 on every request would cost ~75 instructions.
    tag: String,
    /// `Etag: <tag>\r\n`.
    line: [u8; LINE_LEN],
    body: Vec<u8>,
    valid: bool,
}

/// `Etag: ` and `\r\n` around a 34-byte tag.
const LINE_LEN: usize = 6 + 34 + 2;

impl Default for EtagMemo {
    fn default() -> Self {
        let mut line = [b'"'; LINE_LEN];
        line[..6].copy_from_slice(b"Etag: ");
        line[LINE_LEN - 2..].copy_from_slice(b"\r\n");
        EtagMemo {
            tag: String::new(),
            line,
            body: Vec::new(),
            valid: false,
        }
    }
}

impl EtagMemo {
    /// The ETag of `body`, computed or remembered (the comparison inline, the hashing not).
    #[inline(always)]
    pub(crate) fn tag_of(&mut self, body: &[u8]) -> &str {
        if !(self.valid && super::same_bytes(&self.body, body)) {
            self.remember(body);
        }
        &self.tag
    }

    #[inline(never)]
    fn remember(&mut self, body: &[u8]) {
        let tag = etag_bytes(body);
        self.line[6..6 + 34].copy_from_slice(&tag);
        self.tag.clear();
        self.tag.push_str(tag_str(&tag));
        self.body.clear();
        self.valid = body.len() <= MEMO_MAX;
        if self.valid {
            self.body.extend_from_slice(body);
        }
    }

    /// The tag [`tag_of`](EtagMemo::tag_of) returned last.
    #[cfg(test)]
    pub(crate) fn last(&self) -> &str {
        &self.tag
    }

    /// The header line of the tag [`tag_of`](EtagMemo::tag_of) returned last:
    /// `Etag: <tag>\r\n`.
    pub(crate) fn last_line(&self) -> &[u8] {
        &self.line
    }
}

/// Computes the same ETag as [`compute_etag`] from a body written in pieces.
///
/// # Examples
///
/// ```
/// use squall::web::etag::{compute_etag, EtagHasher};
///
/// let mut hasher = EtagHasher::new();
/// hasher.update(b"hello ");
/// hasher.update(b"world");
/// assert_eq!(hasher.finish(), compute_etag(b"hello world"));
/// ```
#[derive(Clone, Default)]
pub struct EtagHasher {
    context: md5::Context,
}

impl EtagHasher {
    /// A hasher that has seen no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::{compute_etag, EtagHasher};
    ///
    /// assert_eq!(EtagHasher::new().finish(), compute_etag(b""));
    /// ```
    pub fn new() -> EtagHasher {
        EtagHasher::default()
    }

    /// Feeds the next piece of the body.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EtagHasher;
    ///
    /// let mut hasher = EtagHasher::new();
    /// hasher.update(b"chunk");
    /// ```
    pub fn update(&mut self, piece: &[u8]) {
        self.context.consume(piece);
    }

    /// The ETag of everything fed so far, quoted.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EtagHasher;
    ///
    /// let mut hasher = EtagHasher::new();
    /// hasher.update(b"hello world");
    /// assert_eq!(hasher.finish(), r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#);
    /// ```
    pub fn finish(self) -> String {
        format!("\"{:x}\"", self.context.finalize())
    }
}

impl fmt::Debug for EtagHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtagHasher").finish_non_exhaustive()
    }
}

/// One entity-tag, borrowed from the text it was parsed from.
///
/// # Examples
///
/// ```
/// use squall::web::etag::EntityTag;
///
/// let tag = EntityTag::parse(r#"W/"v1""#).unwrap();
/// assert!(tag.is_weak());
/// assert_eq!(tag.opaque(), "v1");
/// assert_eq!(tag.to_string(), r#"W/"v1""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

impl<'a> EntityTag<'a> {
    /// Parses exactly one entity-tag: `"..."` or `W/"..."`, the quoted part holding only
    /// `etagc` characters (visible ASCII but `"`, or non-ASCII). No surrounding whitespace.
    /// `None` if `s` is anything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EntityTag;
    ///
    /// assert!(EntityTag::parse(r#""abc""#).is_some());
    /// assert!(EntityTag::parse(r#""""#).is_some());
    /// assert!(EntityTag::parse("abc").is_none());
    /// assert!(EntityTag::parse(r#"w/"abc""#).is_none());
    /// assert!(EntityTag::parse(r#" "abc""#).is_none());
    /// ```
    pub fn parse(s: &'a str) -> Option<EntityTag<'a>> {
        match parse_element(s, 0) {
            // `parse_element` also takes trailing whitespace; a lone tag must fill `s` exactly.
            Ok((tag, _)) if tag.text_len() == s.len() => Some(tag),
            _ => None,
        }
    }

    /// Whether the tag carries the `W/` prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EntityTag;
    ///
    /// assert!(!EntityTag::parse(r#""x""#).unwrap().is_weak());
    /// ```
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The text between the quotes.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EntityTag;
    ///
    /// assert_eq!(EntityTag::parse(r#""x""#).unwrap().opaque(), "x");
    /// ```
    pub fn opaque(&self) -> &'a str {
        self.opaque
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): the opaque parts are equal, `W/` ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EntityTag;
    ///
    /// let weak = EntityTag::parse(r#"W/"1""#).unwrap();
    /// let strong = EntityTag::parse(r#""1""#).unwrap();
    /// assert!(weak.weak_eq(&strong));
    /// ```
    pub fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their opaque parts equal.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::etag::EntityTag;
    ///
    /// let weak = EntityTag::parse(r#"W/"1""#).unwrap();
    /// let strong = EntityTag::parse(r#""1""#).unwrap();
    /// assert!(strong.strong_eq(&strong));
    /// assert!(!weak.strong_eq(&strong));
    /// assert!(!weak.strong_eq(&weak));
    /// ```
    pub fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }
}

impl EntityTag<'_> {
    /// The length of the tag as written: quotes and any `W/` included.
    fn text_len(&self) -> usize {
        self.opaque.len() + 2 + if self.weak { 2 } else { 0 }
    }
}

impl fmt::Display for EntityTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// Whether an `If-None-Match` / `If-Match` field value is `*` (ignoring surrounding
/// whitespace).
///
/// # Examples
///
/// ```
/// use squall::web::etag::is_wildcard;
///
/// assert!(is_wildcard(" * "));
/// assert!(!is_wildcard(r#"*, "a""#));
/// ```
pub fn is_wildcard(header: &str) -> bool {
    trim_ows(header) == "*"
}

/// The well-formed entity-tags of a comma-separated list, in order; malformed elements (and
/// `*`) are skipped. Several header lines of the same field should be joined with `,` first.
///
/// # Examples
///
/// ```
/// use squall::web::etag::parse_entity_tags;
///
/// let tags: Vec<String> = parse_entity_tags(r#""a,b", W/"c" ,bogus, "d""#)
///     .map(|t| t.to_string())
///     .collect();
/// assert_eq!(tags, [r#""a,b""#, r#"W/"c""#, r#""d""#]);
/// ```
pub fn parse_entity_tags(header: &str) -> EntityTags<'_> {
    EntityTags { header, pos: 0 }
}

/// The iterator returned by [`parse_entity_tags`].
#[derive(Debug, Clone)]
pub struct EntityTags<'a> {
    header: &'a str,
    pos: usize,
}

impl<'a> Iterator for EntityTags<'a> {
    type Item = EntityTag<'a>;

    fn next(&mut self) -> Option<EntityTag<'a>> {
        let bytes = self.header.as_bytes();
        loop {
            // Commas and whitespace between elements; empty elements are allowed (RFC 9110 §5.6.1).
            while bytes
                .get(self.pos)
                .is_some_and(|&b| matches!(b, b',' | b' ' | b'\t'))
            {
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return None;
            }
            match parse_element(self.header, self.pos) {
                Ok((tag, end)) => {
                    self.pos = end;
                    return Some(tag);
                }
                Err(resume) => self.pos = resume,
            }
        }
    }
}

impl std::iter::FusedIterator for EntityTags<'_> {}

/// Evaluates `If-None-Match` (RFC 9110 §13.1.2) for a response whose ETag is `etag`: `true`
/// when the field is `*` or lists a tag weakly equal to it, i.e. when a GET or HEAD should be
/// answered with 304 Not Modified.
///
/// `false` when `etag` itself is not a well-formed entity-tag (no representation to match), or
/// when the field is empty or holds nothing but malformed elements. Tornado's
/// `check_etag_header` also accepts `*` at the head of a list and tags without a separating
/// comma; Squall reads the field as the RFC writes it.
///
/// # Examples
///
/// ```
/// use squall::web::etag::if_none_match;
///
/// let etag = r#""5eb63bbb""#;
/// assert!(if_none_match(r#""5eb63bbb""#, etag));
/// assert!(if_none_match(r#""old", W/"5eb63bbb""#, etag));
/// assert!(if_none_match("*", etag));
/// assert!(!if_none_match(r#""old""#, etag));
/// ```
pub fn if_none_match(header: &str, etag: &str) -> bool {
    let Some(current) = EntityTag::parse(trim_ows(etag)) else {
        return false;
    };
    is_wildcard(header) || parse_entity_tags(header).any(|tag| tag.weak_eq(&current))
}

/// Evaluates `If-Match` (RFC 9110 §13.1.1) for a resource whose current ETag is `etag`:
/// `true` when the field is `*` or lists a tag strongly equal to it, i.e. when the request's
/// precondition holds. A weak tag on either side never matches.
///
/// `false` when `etag` itself is not a well-formed entity-tag, or the field is empty or holds
/// nothing but malformed elements.
///
/// # Examples
///
/// ```
/// use squall::web::etag::if_match;
///
/// let etag = r#""v2""#;
/// assert!(if_match(r#""v1", "v2""#, etag));
/// assert!(if_match("*", etag));
/// assert!(!if_match(r#"W/"v2""#, etag));
/// assert!(!if_match(r#""v2""#, r#"W/"v2""#));
/// ```
pub fn if_match(header: &str, etag: &str) -> bool {
    let Some(current) = EntityTag::parse(trim_ows(etag)) else {
        return false;
    };
    is_wildcard(header) || parse_entity_tags(header).any(|tag| tag.strong_eq(&current))
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// RFC 9110 `etagc`: `!`, `#`-`~`, or obs-text (any byte of a non-ASCII character).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

/// Parses the list element starting at `start` (not whitespace or a comma).
///
/// `Ok((tag, end))`: a well-formed entity-tag followed by optional whitespace, with `end` at the
/// following comma or the end of the input. `Err(resume)`: the element is malformed, and the
/// next one begins at or after `resume`. Every byte is looked at a bounded number of times
/// across a whole list, so parsing a list is linear.
fn parse_element(s: &str, start: usize) -> Result<(EntityTag<'_>, usize), usize> {
    let bytes = s.as_bytes();
    let mut i = start;
    let weak = bytes.get(i..i + 2) == Some(b"W/");
    if weak {
        i += 2;
    }
    if bytes.get(i) != Some(&b'"') {
        return Err(skip_element(bytes, i));
    }
    let open = i + 1;
    let Some(len) = bytes[open..].iter().position(|&b| b == b'"') else {
        // Unterminated: nothing after it can be read as a separate element.
        return Err(bytes.len());
    };
    let close = open + len;
    let well_formed = bytes[open..close].iter().all(|&b| is_etagc(b));
    let mut end = close + 1;
    while bytes.get(end).is_some_and(|&b| b == b' ' || b == b'\t') {
        end += 1;
    }
    if end < bytes.len() && bytes[end] != b',' {
        return Err(skip_element(bytes, end));
    }
    if !well_formed {
        return Err(end);
    }
    // `open` and `close` sit next to ASCII quotes, so they are character boundaries.
    let opaque = s.get(open..close).ok_or(end)?;
    Ok((EntityTag { weak, opaque }, end))
}

/// The index of the comma ending the element that `from` is inside, skipping commas within
/// quotes; the input's length if there is none.
fn skip_element(bytes: &[u8], from: usize) -> usize {
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => return i,
            _ => {}
        }
    }
    bytes.len()
}

/// Headers a 304 drops: they describe the body it does not carry (RFC 9110 §15.4.5).
pub(crate) const REPRESENTATION_HEADERS: [&str; 4] = [
    "Content-Type",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
];

/// Whether any of a request's `If-None-Match` field lines matches `etag` (weak comparison).
#[inline]
pub(crate) fn request_matches(request: &crate::http1::Request, etag: &str) -> bool {
    request
        .header_all("If-None-Match")
        .any(|h| if_none_match(h, etag))
}

#[cfg(test)]
mod tests;
