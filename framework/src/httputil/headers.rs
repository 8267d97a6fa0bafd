//! Header fields: the response [`HeaderMap`] and the validation that keeps CR, LF and NUL
//! out of what Squall sends.

use std::borrow::Cow;
use std::fmt;

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

// ---------------------------------------------------------------------------------------------
// Header validation
// ---------------------------------------------------------------------------------------------

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
pub fn validate_header_name(name: &str) -> Result<(), InvalidHeader> {
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
pub fn validate_header_value(value: &str) -> Result<(), InvalidHeader> {
    match value
        .bytes()
        .enumerate()
        .find(|&(_, b)| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        Some((index, byte)) => Err(InvalidHeader::ValueByte { byte, index }),
        None => Ok(()),
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
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

// ---------------------------------------------------------------------------------------------
// HeaderMap
// ---------------------------------------------------------------------------------------------

type Field = (Cow<'static, str>, Cow<'static, str>);

/// Header names compare ASCII-case-insensitively; the same spelling (the usual case: both
/// from one literal) is settled by one `memcmp` instead of a byte-by-byte case fold.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a == b || a.eq_ignore_ascii_case(b))
}

/// An ordered, case-insensitive multimap of header fields.
///
/// Tuned for the handful of fields a request or response carries: a `Vec` of (name, value)
/// pairs scanned linearly, no hashing. Names compare ASCII-case-insensitively; each keeps the
/// spelling it was given. `&'static str` names and values are stored without allocating.
///
/// `insert` and `append` do **not** validate: the map stores what it is given. Where a name or
/// value comes from untrusted input and will be written to the wire, check it first with
/// [`validate_header_name`] / [`validate_header_value`].
///
/// # Examples
///
/// ```
/// use squall::httputil::HeaderMap;
///
/// let mut h = HeaderMap::new();
/// h.append("Set-Cookie", "a=1");
/// h.append("set-cookie", "b=2");
/// h.insert("Content-Type", "text/plain");
/// assert_eq!(h.get("SET-COOKIE"), Some("a=1"));
/// assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
/// assert_eq!(h.len(), 3);
/// ```
#[derive(Clone, Default)]
pub struct HeaderMap {
    fields: Vec<Field>,
}

impl HeaderMap {
    /// Creates an empty map without allocating.
    pub fn new() -> Self {
        HeaderMap { fields: Vec::new() }
    }

    /// Creates an empty map with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        HeaderMap {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// The number of fields the map can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.fields.capacity()
    }

    /// The number of fields (a name present twice counts twice).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the map holds no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| &**v)
    }

    /// Every value of `name`, in insertion order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| same_name(n, name))
            .map(|(_, v)| &**v)
    }

    /// Whether at least one field is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets `name` to the single value `value`.
    ///
    /// Replaces the first field of that name in place (keeping its position, taking the new
    /// spelling of the name) and removes the others; appends when there is none. Does not
    /// validate (see the type's documentation).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::httputil::HeaderMap;
    /// let mut h: HeaderMap = [("a", "1"), ("b", "2"), ("A", "3")].into_iter().collect();
    /// h.insert("A", "4");
    /// assert_eq!(h.iter().collect::<Vec<_>>(), [("A", "4"), ("b", "2")]);
    /// ```
    #[inline]
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) {
        let name = name.into();
        let value = value.into();
        // An empty map (a handler's first header) holds nothing to replace: the common case
        // stays a push, and the search and replacement out of line.
        if self.fields.is_empty() {
            self.fields.push((name, value));
            return;
        }
        self.replace(name, value);
    }

    /// [`insert`](HeaderMap::insert) into a map that has fields.
    #[inline(never)]
    fn replace(&mut self, name: Cow<'static, str>, value: Cow<'static, str>) {
        let Some(first) = self.position(&name) else {
            self.fields.push((name, value));
            return;
        };
        let repeated = self.fields[first + 1..]
            .iter()
            .any(|(n, _)| same_name(n, &name));
        if !repeated {
            self.fields[first] = (name, value);
            return;
        }
        let mut index = 0;
        self.fields.retain(|(n, _)| {
            let keep = index <= first || !same_name(n, &name);
            index += 1;
            keep
        });
        if let Some(slot) = self.fields.get_mut(first) {
            *slot = (name, value);
        }
    }

    /// Adds a field after the existing ones, keeping any other value of the same name.
    ///
    /// Does not validate (see the type's documentation).
    pub fn append(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) {
        self.fields.push((name.into(), value.into()));
    }

    /// Removes every field called `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.fields.len();
        self.fields.retain(|(n, _)| !same_name(n, name));
        self.fields.len() != before
    }

    /// Removes every field, keeping the allocated capacity for reuse.
    pub fn clear(&mut self) {
        self.fields.clear();
    }

    /// The fields as `(name, value)` pairs, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.fields.iter(),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| same_name(n, name))
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<N, V> Extend<(N, V)> for HeaderMap
where
    N: Into<Cow<'static, str>>,
    V: Into<Cow<'static, str>>,
{
    /// Appends every pair, as [`HeaderMap::append`] does.
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        self.fields
            .extend(iter.into_iter().map(|(n, v)| (n.into(), v.into())));
    }
}

impl<N, V> FromIterator<(N, V)> for HeaderMap
where
    N: Into<Cow<'static, str>>,
    V: Into<Cow<'static, str>>,
{
    /// Builds a map by appending every pair in order.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut map = HeaderMap::new();
        map.extend(iter);
        map
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the `(name, value)` pairs of a [`HeaderMap`], from [`HeaderMap::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(n, v)| (&**n, &**v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(n, v)| (&**n, &**v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

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
    fn header_map_is_case_insensitive_and_ordered() {
        let mut h = HeaderMap::new();
        h.append("Content-Type", "text/html");
        h.append("Set-Cookie", "a=1");
        h.append("set-cookie", "b=2");
        assert_eq!(h.get("content-type"), Some("text/html"));
        assert_eq!(h.get("SET-COOKIE"), Some("a=1"));
        assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.get_all("missing").count(), 0);
        assert!(h.contains("CONTENT-type"));
        assert!(!h.contains("Content"));
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [
                ("Content-Type", "text/html"),
                ("Set-Cookie", "a=1"),
                ("set-cookie", "b=2")
            ]
        );
    }

    #[test]
    fn header_map_insert_replaces_all_and_keeps_first_position() {
        let mut h: HeaderMap = [("A", "1"), ("B", "2"), ("a", "3"), ("C", "4"), ("A", "5")]
            .into_iter()
            .collect();
        h.insert("a", "new");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("a", "new"), ("B", "2"), ("C", "4")]
        );
        h.insert("D", "appended");
        assert_eq!(h.iter().next_back(), Some(("D", "appended")));
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn header_map_remove_and_clear() {
        let mut h: HeaderMap = [("A", "1"), ("B", "2"), ("a", "3")].into_iter().collect();
        assert!(h.remove("A"));
        assert!(!h.remove("A"));
        assert_eq!(h.iter().collect::<Vec<_>>(), [("B", "2")]);
        let mut h = HeaderMap::with_capacity(8);
        h.append("X", "y");
        let cap = h.capacity();
        assert!(cap >= 8);
        h.clear();
        assert!(h.is_empty());
        assert_eq!(h.len(), 0);
        assert_eq!(h.capacity(), cap);
    }

    #[test]
    fn header_map_static_strings_are_borrowed_and_owned_ones_work() {
        let mut h = HeaderMap::new();
        h.append("Server", "squall");
        h.insert(String::from("X-Id"), format!("{}", 42));
        assert!(matches!(h.fields[0], (Cow::Borrowed(_), Cow::Borrowed(_))));
        assert!(matches!(h.fields[1], (Cow::Owned(_), Cow::Owned(_))));
        assert_eq!(h.get("x-id"), Some("42"));
    }

    #[test]
    fn header_map_debug_clone_default_and_iterators() {
        let mut h = HeaderMap::default();
        assert!(h.is_empty());
        h.extend([("A", "1")]);
        h.append("B", "2");
        let c = h.clone();
        assert_eq!(format!("{c:?}"), r#"{"A": "1", "B": "2"}"#);
        assert_eq!(c.iter().len(), 2);
        assert_eq!(c.iter().next_back(), Some(("B", "2")));
        let names: Vec<&str> = (&c).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn header_map_does_not_validate() {
        let mut h = HeaderMap::new();
        h.append("Bad Name", "a\r\nb");
        assert_eq!(h.get("bad name"), Some("a\r\nb"));
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

    // --- header parameters -------------------------------------------------------------------
}
