//! Request arguments, Tornado-style: from the query string and from urlencoded or
//! multipart/form-data bodies, parsed lazily on first use.
//!
//! `argument` / `arguments` clean their values as Tornado's `get_argument` does: each control
//! character other than tab, LF, VT, FF and CR (`\x00`-`\x08`, `\x0e`-`\x1f`) becomes a space,
//! then surrounding whitespace is stripped (a NUL or an ESC sent in a form field does not come
//! back into a page as is); [`all_arguments`](Context::all_arguments) gives the raw values. A body that does
//! not parse (bad encoding, broken multipart) is a 400, never a panic.
//!
//! ### Cost
//!
//! Nothing is parsed until a handler (or the XSRF check) asks for an argument: a request that
//! reads none allocates nothing here. The first read of a source (the query string, the body)
//! checks it, counts its arguments against [`Settings::max_arguments`] (400 "Too many
//! arguments" beyond it, before anything is allocated) and groups them by name in an
//! [`ArgIndex`]: linear time, and for a urlencoded source 4 bytes per argument plus a little
//! per distinct name, the names and values staying in the request and decoded when read. Every
//! lookup by name is then a hash lookup, and [`all_arguments`](Context::all_arguments) one walk
//! over the groups.
//!
//! [`Settings::max_arguments`]: super::Settings::max_arguments

mod index;

use std::borrow::Cow;
use std::cell::OnceCell;

use self::index::ArgIndex;
use super::Context;
use crate::httputil::{
    decode_form_text, form_field_at, form_fields, multipart_boundary, parse_header_params,
    parse_multipart_limited, LimitedError, Multipart, UploadedFile,
};
use crate::web::error::{HttpError, Result};

/// Why a source's arguments cannot be read.
#[derive(Debug)]
enum ArgsError {
    /// Malformed (the parser's message, for the log).
    Malformed(String),
    /// More than `Settings::max_arguments`.
    TooMany,
}

/// The arguments of the body, by its `Content-Type`.
#[derive(Default)]
enum BodyArgs {
    /// No body, or a type without arguments.
    #[default]
    None,
    /// `application/x-www-form-urlencoded`: an index over the body's bytes.
    Form(ArgIndex),
    /// `multipart/form-data`: the parsed form, its fields and its files indexed by name.
    Multipart {
        form: Multipart,
        fields: ArgIndex,
        files: ArgIndex,
    },
}

/// Parsed arguments, computed on first access.
#[derive(Default)]
pub(crate) struct ArgsCache {
    query: OnceCell<std::result::Result<ArgIndex, ArgsError>>,
    body: OnceCell<std::result::Result<BodyArgs, ArgsError>>,
}

/// Where the arguments of an index live, to read their names and values by handle.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A query string or urlencoded body; a handle is the offset of an argument's segment.
    Encoded(&'a [u8]),
    /// Multipart fields; a handle is an index.
    Fields(&'a [(String, String)]),
    /// Multipart files; a handle is an index.
    Files(&'a [(String, UploadedFile)]),
}

/// Decoded text that was checked to be UTF-8 when its source was indexed.
fn checked_text(raw: &[u8]) -> Cow<'_, str> {
    decode_form_text(raw).unwrap_or_default()
}

impl<'a> Source<'a> {
    fn name(self, h: u32) -> Cow<'a, str> {
        let i = h as usize;
        match self {
            Source::Encoded(text) => checked_text(form_field_at(text, i).0),
            Source::Fields(fields) => Cow::Borrowed(fields.get(i).map_or("", |f| &f.0)),
            Source::Files(files) => Cow::Borrowed(files.get(i).map_or("", |f| &f.0)),
        }
    }

    fn value(self, h: u32) -> Cow<'a, str> {
        let i = h as usize;
        match self {
            Source::Encoded(text) => checked_text(form_field_at(text, i).1),
            Source::Fields(fields) => Cow::Borrowed(fields.get(i).map_or("", |f| &f.1)),
            Source::Files(_) => Cow::Borrowed(""),
        }
    }

    fn index(self) -> ArgIndex {
        let name_of = move |h| self.name(h);
        let upto = |n: usize| 0..u32::try_from(n).unwrap_or(u32::MAX);
        match self {
            Source::Encoded(text) => ArgIndex::build(offsets(text), name_of),
            Source::Fields(fields) => ArgIndex::build(upto(fields.len()), name_of),
            Source::Files(files) => ArgIndex::build(upto(files.len()), name_of),
        }
    }
}

/// The handles of a urlencoded text's arguments: the offsets of their segments.
fn offsets(text: &[u8]) -> impl Iterator<Item = u32> + Clone + '_ {
    form_fields(text).map(|(at, _, _)| u32::try_from(at).unwrap_or(u32::MAX))
}

/// Checks a query string or urlencoded body (every name and value decodes to UTF-8, at most
/// `max` arguments) and indexes it.
fn index_encoded(text: &[u8], max: usize) -> std::result::Result<ArgIndex, ArgsError> {
    if u32::try_from(text.len()).is_err() {
        return Err(ArgsError::Malformed(
            "too large to read arguments from".into(),
        ));
    }
    let mut count = 0usize;
    for (_, name, value) in form_fields(text) {
        count += 1;
        if count > max {
            return Err(ArgsError::TooMany);
        }
        for raw in [name, value] {
            decode_form_text(raw).map_err(|e| ArgsError::Malformed(e.to_string()))?;
        }
    }
    Ok(Source::Encoded(text).index())
}

/// The body's arguments by its `Content-Type` (Tornado's `parse_body_arguments`).
fn index_body(
    content_type: &str,
    body: &[u8],
    max: usize,
) -> std::result::Result<BodyArgs, ArgsError> {
    let (main, _) = parse_header_params(content_type);
    if main.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(BodyArgs::Form(index_encoded(body, max)?));
    }
    if !main.eq_ignore_ascii_case("multipart/form-data") {
        return Ok(BodyArgs::None);
    }
    let boundary = multipart_boundary(content_type)
        .ok_or_else(|| ArgsError::Malformed("multipart/form-data without a boundary".into()))?;
    let form = parse_multipart_limited(&boundary, body, max).map_err(|e| match e {
        LimitedError::TooMany => ArgsError::TooMany,
        LimitedError::Malformed(e) => ArgsError::Malformed(e.to_string()),
    })?;
    let fields = Source::Fields(&form.fields).index();
    let files = Source::Files(&form.files).index();
    Ok(BodyArgs::Multipart {
        form,
        fields,
        files,
    })
}

impl Context {
    fn args_error(&self, what: &str, e: &ArgsError) -> HttpError {
        match e {
            ArgsError::Malformed(e) => HttpError::new(400).log(format!("invalid {what}: {e}")),
            ArgsError::TooMany => {
                HttpError::new(400)
                    .with_reason("Too many arguments")
                    .log(format!(
                        "more than {} arguments in the {what} (Settings::max_arguments)",
                        self.settings().max_arguments
                    ))
            }
        }
    }

    fn query_index(&self) -> Result<&ArgIndex> {
        self.parts
            .args_cache
            .query
            .get_or_init(|| {
                self.parts.touched.set(true);
                index_encoded(
                    self.query_string().as_bytes(),
                    self.settings().max_arguments,
                )
            })
            .as_ref()
            .map_err(|e| self.args_error("query string", e))
    }

    fn body_args(&self) -> Result<&BodyArgs> {
        self.parts
            .args_cache
            .body
            .get_or_init(|| {
                self.parts.touched.set(true);
                // An empty body has no arguments, whatever its Content-Type says. This is also
                // every streamed request (`stream_request_body`): its body went to
                // `data_received`, and "parsing" the empty remainder as multipart would fail,
                // making even query arguments (the XSRF token of a streamed upload) a 400.
                if self.body().is_empty() {
                    return Ok(BodyArgs::None);
                }
                let ct = self.header("Content-Type").unwrap_or("");
                index_body(ct, self.body(), self.settings().max_arguments)
            })
            .as_ref()
            .map_err(|e| self.args_error("request body", e))
    }

    /// The query's index and its source.
    fn query_source(&self) -> Result<(&ArgIndex, Source<'_>)> {
        Ok((
            self.query_index()?,
            Source::Encoded(self.query_string().as_bytes()),
        ))
    }

    /// The body's field index and its source (`None` when the body has no fields).
    fn body_source(&self) -> Result<Option<(&ArgIndex, Source<'_>)>> {
        Ok(match self.body_args()? {
            BodyArgs::None => None,
            BodyArgs::Form(index) => Some((index, Source::Encoded(self.body()))),
            BodyArgs::Multipart { form, fields, .. } => {
                Some((fields, Source::Fields(&form.fields)))
            }
        })
    }

    /// Every (name, value) of the query string, raw, grouped by name: for typed input.
    pub(crate) fn query_pairs(&self) -> Result<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
        let (index, src) = self.query_source()?;
        Ok(pairs_of(index, src))
    }

    /// Every (name, value) of the body's fields (urlencoded or multipart; files are not
    /// fields), raw, grouped by name: for typed input.
    pub(crate) fn body_pairs(&self) -> Result<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
        Ok(match self.body_source()? {
            Some((index, src)) => pairs_of(index, src),
            None => Vec::new(),
        })
    }

    /// The last value of argument `name` from the query or the body, cleaned (control
    /// characters made spaces, whitespace stripped: see the module docs).
    ///
    /// # Errors
    ///
    /// 400 if it is missing (Tornado's `MissingArgumentError`), the query or body is malformed,
    /// or either holds more than [`Settings::max_arguments`](super::Settings::max_arguments).
    pub fn argument(&self, name: &str) -> Result<String> {
        self.argument_opt(name)?
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// The last value of argument `name`, or `None` if absent.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed or has too many arguments.
    pub fn argument_opt(&self, name: &str) -> Result<Option<String>> {
        let (query, qsrc) = self.query_source()?;
        let body = self.body_source()?;
        let last = body
            .and_then(|(index, src)| index.get(name, |h| src.name(h)).last().map(|&h| (src, h)))
            .or_else(|| query.get(name, |h| qsrc.name(h)).last().map(|&h| (qsrc, h)));
        Ok(last.map(|(src, h)| clean(&src.value(h))))
    }

    /// Every value of argument `name` (query first, then body), cleaned as `argument` does.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed or has too many arguments.
    pub fn arguments(&self, name: &str) -> Result<Vec<String>> {
        let mut out = self.query_arguments(name)?;
        out.extend(self.body_arguments(name)?);
        Ok(out)
    }

    /// Every value of `name` in the query string, cleaned as `argument` does.
    ///
    /// # Errors
    ///
    /// 400 if the query string is malformed or has too many arguments.
    pub fn query_arguments(&self, name: &str) -> Result<Vec<String>> {
        let (index, src) = self.query_source()?;
        Ok(stripped(index, src, name))
    }

    /// The last value of `name` in the query string.
    ///
    /// # Errors
    ///
    /// 400 if missing, malformed, or with too many arguments.
    pub fn query_argument(&self, name: &str) -> Result<String> {
        self.query_arguments(name)?
            .pop()
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// Every value of `name` in the body (urlencoded or multipart), cleaned as `argument` does.
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed or has too many arguments.
    pub fn body_arguments(&self, name: &str) -> Result<Vec<String>> {
        Ok(match self.body_source()? {
            Some((index, src)) => stripped(index, src, name),
            None => Vec::new(),
        })
    }

    /// The last value of `name` in the body.
    ///
    /// # Errors
    ///
    /// 400 if missing, malformed, or with too many arguments.
    pub fn body_argument(&self, name: &str) -> Result<String> {
        self.body_arguments(name)?
            .pop()
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// All arguments, query then body, grouped by name in order of first appearance, raw
    /// (not stripped): Tornado's `request.arguments`.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed or has too many arguments.
    pub fn all_arguments(&self) -> Result<Vec<(String, Vec<String>)>> {
        let (query, qsrc) = self.query_source()?;
        let body = self.body_source()?;
        let values = |handles: &[u32], src: Source<'_>, out: &mut Vec<String>| {
            out.extend(handles.iter().map(|&h| src.value(h).into_owned()));
        };
        let mut out = Vec::new();
        for group in query.groups() {
            let Some(&first) = group.first() else {
                continue;
            };
            let name = qsrc.name(first);
            let mut vs = Vec::with_capacity(group.len());
            values(group, qsrc, &mut vs);
            if let Some((index, src)) = body {
                values(index.get(&name, |h| src.name(h)), src, &mut vs);
            }
            out.push((name.into_owned(), vs));
        }
        if let Some((index, src)) = body {
            for group in index.groups() {
                let Some(&first) = group.first() else {
                    continue;
                };
                let name = src.name(first);
                if !query.get(&name, |h| qsrc.name(h)).is_empty() {
                    continue; // grouped with the query's arguments above
                }
                let mut vs = Vec::with_capacity(group.len());
                values(group, src, &mut vs);
                out.push((name.into_owned(), vs));
            }
        }
        Ok(out)
    }

    /// The files uploaded under field `name` (multipart/form-data).
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed or has too many parts.
    pub fn files(&self, name: &str) -> Result<Vec<&UploadedFile>> {
        Ok(match self.body_args()? {
            BodyArgs::Multipart { form, files, .. } => {
                let src = Source::Files(&form.files);
                files
                    .get(name, |h| src.name(h))
                    .iter()
                    .filter_map(|&h| form.files.get(h as usize).map(|(_, f)| f))
                    .collect()
            }
            _ => Vec::new(),
        })
    }

    /// Every uploaded file with its field name.
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed or has too many parts.
    pub fn all_files(&self) -> Result<&[(String, UploadedFile)]> {
        Ok(match self.body_args()? {
            BodyArgs::Multipart { form, .. } => &form.files,
            _ => &[],
        })
    }
}

/// Every argument of one source as (name, value), grouped by name.
fn pairs_of<'a>(index: &ArgIndex, src: Source<'a>) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut out = Vec::new();
    for group in index.groups() {
        let Some(&first) = group.first() else {
            continue;
        };
        let name = src.name(first);
        out.extend(group.iter().map(|&h| (name.clone(), src.value(h))));
    }
    out
}

/// The values of `name` in one source, cleaned.
fn stripped(index: &ArgIndex, src: Source<'_>, name: &str) -> Vec<String> {
    index
        .get(name, |h| src.name(h))
        .iter()
        .map(|&h| clean(&src.value(h)))
        .collect()
}

/// Whether `c` is one of the control characters Tornado's `get_argument` turns into a space
/// (its `[\x00-\x08\x0e-\x1f]`: C0 controls other than the whitespace ones).
fn is_weird_control(c: char) -> bool {
    matches!(c, '\x00'..='\x08' | '\x0e'..='\x1f')
}

/// An argument value as `argument` gives it: weird control characters made spaces, then
/// surrounding whitespace stripped. Copies once; the common value without any control
/// character is only trimmed.
fn clean(value: &str) -> String {
    if value.contains(is_weird_control) {
        let spaced: String = value
            .chars()
            .map(|c| if is_weird_control(c) { ' ' } else { c })
            .collect();
        spaced.trim().to_owned()
    } else {
        value.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_makes_weird_controls_spaces_then_strips() {
        assert_eq!(clean("  ann  "), "ann");
        assert_eq!(clean("a\x00b"), "a b");
        assert_eq!(clean("\x00\x1b[31mred\x7f"), "[31mred\x7f");
        assert_eq!(clean("\x01\x08x\x0e\x1f"), "x");
        // Tab, LF, VT, FF and CR stay inside a value (Tornado keeps them); around it they
        // are whitespace and go.
        assert_eq!(clean("\ta\tb\nc\r\n"), "a\tb\nc");
        assert_eq!(clean("x\x0b\x0cy"), "x\x0b\x0cy");
        assert_eq!(clean("caf\u{e9}\u{0}"), "caf\u{e9}");
        assert_eq!(clean(""), "");
    }
}
