//! Header fields: [`HeaderMap`], the ordered case-insensitive multimap of a request's or
//! response's fields. What a field may hold to be sent is `header_policy`'s.

use std::fmt;

// ---------------------------------------------------------------------------------------------
// HeaderMap
// ---------------------------------------------------------------------------------------------

/// A field: its name and value copied into buffers of its own, which the map keeps (with
/// their capacity) when the field is removed or the map cleared, so the next text copied into
/// them needs no allocation once it fits.
#[derive(Default)]
struct Field {
    name: String,
    value: String,
}

/// Copies `s` into `buf`; returns by how much the buffer's capacity grew.
#[inline(always)]
fn copy_text(buf: &mut String, s: &str) -> usize {
    let before = buf.capacity();
    buf.clear();
    buf.push_str(s);
    buf.capacity() - before
}

/// Past this much buffer capacity in its fields, [`HeaderMap::clear`] lets the fields go
/// instead of keeping them for the next response: one response with huge headers does not pin their
/// memory for good.
const KEPT_TEXT_CAPACITY: usize = 16 * 1024;

/// Header names compare ASCII-case-insensitively; the same spelling (the usual case: both
/// from one literal) is settled by one `memcmp` instead of a byte-by-byte case fold.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a == b || a.eq_ignore_ascii_case(b))
}

/// An ordered, case-insensitive multimap of header fields.
///
/// Tuned for the handful of fields a request or response carries: a `Vec` of (name, value)
/// pairs scanned linearly, no hashing. Names compare ASCII-case-insensitively; each keeps the
/// spelling it was given.
///
/// ### Storage
///
/// [`insert`](HeaderMap::insert) and [`append`](HeaderMap::append) take text of any lifetime
/// (`&str`, `&String`, `String`, `Cow<str>`) and copy it into the map. Each field's name and
/// value have a buffer of their own, which the map keeps when the field is removed or the map
/// [cleared](HeaderMap::clear): a map that is cleared and reused (a pooled response's) stores
/// its fields without allocating once its buffers have grown to fit them (up to 16 KiB of
/// buffers in all; past that, `clear` frees them). Reading a field is then a plain string
/// borrow, as cheap as the copy of a handful of short strings is.
///
/// `insert` and `append` do **not** validate: the map stores what it is given. Where a name or
/// value comes from untrusted input and will be written to the wire, check it first with
/// [`validate_header_name`](super::validate_header_name) /
/// [`validate_header_value`](super::validate_header_value).
///
/// # Examples
///
/// ```
/// use squall::httputil::HeaderMap;
///
/// let mut h = HeaderMap::new();
/// h.append("Set-Cookie", "a=1");
/// let value = format!("b={}", 2);
/// h.append("set-cookie", &value); // borrowed: copied into the map
/// h.insert("Content-Type", "text/plain");
/// assert_eq!(h.get("SET-COOKIE"), Some("a=1"));
/// assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
/// assert_eq!(h.len(), 3);
/// ```
#[derive(Default)]
pub struct HeaderMap {
    /// `fields[..len]` are the map's fields, in order; the ones past `len` were removed or
    /// cleared and are kept for their buffers.
    fields: Vec<Field>,
    len: usize,
    /// The summed capacity of every slot's buffer, live or kept.
    kept: usize,
}

impl HeaderMap {
    /// Creates an empty map without allocating.
    pub fn new() -> Self {
        HeaderMap {
            fields: Vec::new(),
            len: 0,
            kept: 0,
        }
    }

    /// Creates an empty map with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        HeaderMap {
            fields: Vec::with_capacity(capacity),
            len: 0,
            kept: 0,
        }
    }

    /// How many fields the map holds room for without reallocating.
    pub fn capacity(&self) -> usize {
        self.fields.capacity()
    }

    /// The number of fields (a repeated name counts once per value).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no field.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The map's fields, in order.
    #[inline(always)]
    fn live(&self) -> &[Field] {
        self.fields.get(..self.len).unwrap_or_default()
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.live()
            .iter()
            .find(|f| same_name(&f.name, name))
            .map(|f| &*f.value)
    }

    /// Every value of `name`, in insertion order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.live()
            .iter()
            .filter(move |f| same_name(&f.name, name))
            .map(|f| &*f.value)
    }

    /// Whether at least one field is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets `name` to the single value `value`, copying both into the map.
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
    /// let four = 4.to_string();
    /// h.insert("A", &four);
    /// assert_eq!(h.iter().collect::<Vec<_>>(), [("A", "4"), ("b", "2")]);
    /// ```
    #[inline]
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        let i = self.slot_for(name);
        self.copy_field(i, name, value);
    }

    /// Adds a field after the existing ones, keeping any other value of the same name; copies
    /// name and value into the map.
    ///
    /// Does not validate (see the type's documentation).
    #[inline]
    pub fn append(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let i = self.push_slot();
        self.copy_field(i, name.as_ref(), value.as_ref());
    }

    /// Removes every field called `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.len;
        self.retain_from(0, name);
        self.len != before
    }

    /// Removes every field, keeping the allocated capacity for reuse (the fields' text buffers
    /// only up to 16 KiB in all).
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        if self.kept > KEPT_TEXT_CAPACITY {
            self.fields.clear();
            self.kept = 0;
        }
    }

    /// The fields as `(name, value)` pairs, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.live().iter(),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.live().iter().position(|f| same_name(&f.name, name))
    }

    /// The index of a new last field (a kept slot when there is one).
    #[inline(always)]
    fn push_slot(&mut self) -> usize {
        if self.len == self.fields.len() {
            self.fields.push(Field::default());
        }
        self.len += 1;
        self.len - 1
    }

    /// The index [`insert`](HeaderMap::insert) writes `name` to.
    #[inline(always)]
    fn slot_for(&mut self, name: &str) -> usize {
        // An empty map (a handler's first header) holds nothing to replace: the common case
        // stays a push, and the search and removal out of line.
        if self.len == 0 {
            return self.push_slot();
        }
        self.replace_slot(name)
    }

    /// [`slot_for`](HeaderMap::slot_for) in a map that has fields: the first field called
    /// `name`, the others of that name removed, or a new last field.
    #[inline(never)]
    fn replace_slot(&mut self, name: &str) -> usize {
        match self.position(name) {
            Some(first) => {
                self.retain_from(first + 1, name);
                first
            }
            None => self.push_slot(),
        }
    }

    /// Removes the fields called `name` at or after `start`, keeping the others in order; the
    /// removed slots move past `len`, where they are kept.
    fn retain_from(&mut self, start: usize, name: &str) {
        let mut kept = start;
        for i in start..self.len {
            if !same_name(&self.fields[i].name, name) {
                self.fields.swap(kept, i);
                kept += 1;
            }
        }
        self.len = kept;
    }

    #[inline(always)]
    fn copy_field(&mut self, i: usize, name: &str, value: &str) {
        let f = &mut self.fields[i];
        let grown = copy_text(&mut f.name, name) + copy_text(&mut f.value, value);
        self.kept += grown;
    }
}

impl Clone for HeaderMap {
    /// A map with the same fields (without the kept buffers of removed ones).
    fn clone(&self) -> Self {
        let fields: Vec<Field> = self
            .live()
            .iter()
            .map(|f| Field {
                name: f.name.clone(),
                value: f.value.clone(),
            })
            .collect();
        let kept = fields
            .iter()
            .map(|f| f.name.capacity() + f.value.capacity())
            .sum();
        HeaderMap {
            len: fields.len(),
            fields,
            kept,
        }
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<N, V> Extend<(N, V)> for HeaderMap
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    /// Appends every pair, as [`HeaderMap::append`] does.
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (n, v) in iter {
            self.append(n, v);
        }
    }
}

impl<N, V> FromIterator<(N, V)> for HeaderMap
where
    N: AsRef<str>,
    V: AsRef<str>,
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
#[derive(Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Field>,
}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|f| (&*f.name, &*f.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|f| (&*f.name, &*f.value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn header_map_copies_borrowed_text() {
        let mut h = HeaderMap::new();
        h.insert(String::from("X-Id"), format!("{}", 42));
        let local = String::from("X-Local");
        h.append(local.as_str(), &local);
        let cow: std::borrow::Cow<'_, str> = local[..3].into();
        h.append("X-Cow", cow);
        drop(local);
        assert_eq!(h.get("x-id"), Some("42"));
        assert_eq!(h.get("x-local"), Some("X-Local"));
        assert_eq!(h.get("x-cow"), Some("X-L"));
    }

    #[test]
    fn header_map_keeps_its_buffers_and_drops_huge_ones() {
        let mut h = HeaderMap::new();
        h.insert("Content-Type", "text/plain");
        h.insert("content-type", "text/html"); // replaced in its slot
        h.append("X-A", "1");
        h.append("X-B", "2");
        assert!(h.remove("x-a")); // its slot is kept past the live fields
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("content-type", "text/html"), ("X-B", "2")]
        );
        let buffers = |h: &HeaderMap| {
            h.fields
                .iter()
                .map(|f| (f.name.as_ptr(), f.value.as_ptr()))
                .collect::<Vec<_>>()
        };
        let before = buffers(&h);
        assert_eq!(before.len(), 3);
        let kept = h.kept;
        assert!(kept >= "content-typetext/htmlX-A1X-B2".len());
        h.clear();
        assert!(h.is_empty() && h.iter().next().is_none() && h.get("x-b").is_none());
        // Refilled with text that fits: the same buffers, no allocation.
        h.insert("Content-Type", "text/plain");
        h.append("X-C", "3");
        h.append("X-D", "4");
        assert_eq!(buffers(&h), before);
        assert_eq!(h.kept, kept);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("Content-Type", "text/plain"), ("X-C", "3"), ("X-D", "4")]
        );
        // One huge value: cleared, the buffers go.
        h.append("X", "y".repeat(KEPT_TEXT_CAPACITY + 1));
        assert_eq!(h.get("x").map(str::len), Some(KEPT_TEXT_CAPACITY + 1));
        h.clear();
        assert_eq!((h.fields.len(), h.kept), (0, 0));
        h.append("X", "z");
        assert_eq!(h.get("x"), Some("z"));
    }

    #[test]
    fn header_map_insert_and_remove_keep_order() {
        let mut h = HeaderMap::new();
        h.append("Vary", "Cookie");
        h.append("X", "1");
        h.append("vary", String::from("Origin"));
        h.insert("VARY", "*");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("VARY", "*"), ("X", "1")]);
        assert!(h.remove("x"));
        h.append("X", "2");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("VARY", "*"), ("X", "2")]);
        let c = h.clone();
        h.clear();
        assert_eq!(c.get("x"), Some("2"));
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
}
