//! File uploads streamed to disk: `multipart/form-data` bodies are parsed as they arrive and
//! each file goes straight into a file, never whole into memory (Tornado's
//! `@stream_request_body`, as in its `file_upload` demo).
//!
//! ```sh
//! cargo run --example upload                  # then open http://127.0.0.1:8888/
//! cargo run --example upload -- --dir /srv/uploads --max-size 1073741824 --port 9000
//! curl -F file=@big.iso -F note=hi "http://127.0.0.1:8888/upload?_xsrf=..."   # see below
//! ```
//!
//! - `GET /` renders a form (`enctype="multipart/form-data"`, from `templates/upload/index.html`)
//!   posting to `/upload`.
//! - `POST /upload` streams the body: `body_started` sees the head first and refuses, before
//!   any byte of the body is read, a request without a valid XSRF token (403), with a
//!   `Content-Length` over the limit (413) or that is not `multipart/form-data` (415); then
//!   `data_received` feeds each piece to an incremental multipart parser that writes file parts
//!   to temporary files in `--dir` (default `$TMPDIR/squall-uploads`), hashing them with
//!   SHA-256 on the way, and answers 413 as soon as the bytes received pass `--max-size`
//!   (default 64 MiB; chunked bodies have no length to check up front). Finally `post` moves
//!   each file to its final name and answers JSON: for each file its field, sanitized file name,
//!   content type, size, SHA-256 and path on disk, plus the plain form fields. A refused or
//!   broken upload leaves no file behind.
//!
//! ### XSRF and streamed bodies
//!
//! A streamed body is not parsed into arguments, so the XSRF token cannot come from a form
//! field: it comes from the query string (`/upload?_xsrf=...`, what the page's form does, as
//! in Tornado) or an `X-XSRFToken` header (what scripts do; `curl` users can copy the `_xsrf`
//! cookie's value into it). The framework checks it once the body is in; `body_started` checks
//! it first as well, so that an unauthenticated client cannot fill the disk.

mod common;

use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};
use squall::http1::HttpServerOptions;
use squall::http1::Request;
use squall::httputil::{multipart_boundary, parse_header_params};
use squall::prelude::*;
use squall::web::cookies::parse_cookies;
use squall::web::templates::context;
use squall::web::xsrf::{tokens_match, XsrfToken};

/// Largest part header block, and largest plain (non-file) field value.
const MAX_PART_HEADERS: usize = 16 * 1024;
const MAX_FIELD: usize = 64 * 1024;

/// Where uploads go and how large a body may be.
struct Config {
    dir: PathBuf,
    max_size: u64,
    /// Numbers the temporary and final file names.
    counter: Cell<u64>,
}

impl Config {
    fn next_id(&self) -> u64 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }
}

// ---- the incremental multipart parser ----------------------------------------------------------

/// A file on disk that is removed when dropped unless [`keep`](TempFile::keep) moved it.
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Renames the file to `to` and keeps it.
    fn keep(mut self, to: &Path) -> std::io::Result<()> {
        if let Some(from) = self.path.take() {
            std::fs::rename(&from, to)?;
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A file part, complete on disk.
struct ReceivedFile {
    field: String,
    filename: String,
    content_type: String,
    size: u64,
    sha256: String,
    temp: TempFile,
}

/// The part being received.
enum Part {
    Field {
        name: String,
        value: Vec<u8>,
    },
    File {
        field: String,
        filename: String,
        content_type: String,
        out: BufWriter<File>,
        temp: TempFile,
        size: u64,
        hash: Sha256,
    },
    /// A part without a usable `Content-Disposition`: its content is skipped.
    Skip,
}

impl Part {
    fn write(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Part::Field { value, .. } => {
                if value.len() + data.len() > MAX_FIELD {
                    return Err(HttpError::new(413).log("form field over 64 KiB"));
                }
                value.extend_from_slice(data);
            }
            Part::File {
                out, size, hash, ..
            } => {
                out.write_all(data)?;
                hash.update(data);
                *size += data.len() as u64;
            }
            Part::Skip => {}
        }
        Ok(())
    }
}

enum State {
    /// Before the first delimiter (the preamble is ignored).
    Preamble,
    /// Just after a delimiter: the close (`--`) or the end of the delimiter line follows.
    Delimiter,
    /// Reading a part's header block.
    Headers,
    /// Reading a part's content.
    Content,
    /// After the close delimiter (the epilogue is ignored).
    Done,
}

/// What follows `CRLF--boundary` in the buffer.
enum After {
    /// `--`: the close delimiter.
    Close,
    /// Optional blanks then CRLF: the next part starts this many bytes further.
    Part(usize),
    /// Something else: not a delimiter, just content.
    Content,
    /// Not enough bytes to tell yet.
    Unknown,
}

fn classify(rest: &[u8]) -> After {
    if rest.len() < 2 {
        return After::Unknown;
    }
    if rest.starts_with(b"--") {
        return After::Close;
    }
    // RFC 2046 transport padding, then the CRLF ending the delimiter line.
    let pad = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match rest.get(pad..pad + 2) {
        Some(b"\r\n") => After::Part(pad + 2),
        Some(_) => After::Content,
        None if pad > 64 => After::Content,
        None => After::Unknown,
    }
}

/// Offset of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut at = 0;
    while let Some(i) = haystack.get(at..)?.iter().position(|&b| b == first) {
        let start = at + i;
        if haystack.get(start + 1..start + 1 + tail.len()) == Some(tail) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// Parses a `multipart/form-data` body fed in pieces of any size, writing file parts to disk.
/// Memory use is bounded: the unparsed tail of the input (at most a delimiter's length, or one
/// part's header block) and the plain fields.
struct MultipartStream {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    part: Option<Part>,
    fields: Vec<(String, String)>,
    files: Vec<ReceivedFile>,
    config: Rc<Config>,
}

impl MultipartStream {
    fn new(boundary: &str, config: Rc<Config>) -> MultipartStream {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        MultipartStream {
            delimiter,
            // The first delimiter may open the body without a CRLF before it: supply one.
            buf: b"\r\n".to_vec(),
            state: State::Preamble,
            part: None,
            fields: Vec::new(),
            files: Vec::new(),
            config,
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        let result = self.parse(&mut pos);
        self.buf.drain(..pos);
        result
    }

    /// Consumes what it can of `buf[*pos..]`, advancing `pos`.
    fn parse(&mut self, pos: &mut usize) -> Result<()> {
        let dl = self.delimiter.len();
        loop {
            let buf = &self.buf[*pos..];
            match self.state {
                State::Preamble => match find(buf, &self.delimiter) {
                    Some(i) => {
                        *pos += i + dl;
                        self.state = State::Delimiter;
                    }
                    None => {
                        *pos += buf.len().saturating_sub(dl - 1);
                        return Ok(());
                    }
                },
                State::Delimiter => match classify(buf) {
                    After::Close => {
                        self.state = State::Done;
                    }
                    After::Part(n) => {
                        *pos += n;
                        self.state = State::Headers;
                    }
                    After::Content => {
                        return Err(HttpError::new(400).log("malformed multipart delimiter"))
                    }
                    After::Unknown => return Ok(()),
                },
                State::Headers => {
                    let end = if buf.starts_with(b"\r\n") {
                        Some(0) // no headers at all
                    } else {
                        find(buf, b"\r\n\r\n").map(|i| i + 2)
                    };
                    let Some(end) = end else {
                        if buf.len() > MAX_PART_HEADERS {
                            return Err(HttpError::new(400).log("multipart part headers too long"));
                        }
                        return Ok(());
                    };
                    let head = std::str::from_utf8(&buf[..end])?.to_owned();
                    *pos += end + 2;
                    self.part = Some(self.start_part(&head)?);
                    self.state = State::Content;
                }
                State::Content => {
                    let Some(i) = find(buf, &self.delimiter) else {
                        // Keep what could be the start of a delimiter split across pieces.
                        let n = buf.len().saturating_sub(dl - 1);
                        self.write_part(n, pos)?;
                        return Ok(());
                    };
                    match classify(&buf[i + dl..]) {
                        After::Unknown => {
                            self.write_part(i, pos)?;
                            return Ok(());
                        }
                        After::Content => {
                            // `--boundary` followed by other bytes is content (RFC 2046).
                            self.write_part(i + 1, pos)?;
                        }
                        After::Close | After::Part(_) => {
                            self.write_part(i, pos)?;
                            *pos += dl;
                            self.end_part()?;
                            self.state = State::Delimiter;
                        }
                    }
                }
                State::Done => {
                    *pos = self.buf.len();
                    return Ok(());
                }
            }
        }
    }

    /// Writes `buf[*pos..*pos + n]` to the current part and advances `pos`.
    fn write_part(&mut self, n: usize, pos: &mut usize) -> Result<()> {
        if let Some(part) = self.part.as_mut() {
            part.write(&self.buf[*pos..*pos + n])?;
        }
        *pos += n;
        Ok(())
    }

    fn start_part(&self, head: &str) -> Result<Part> {
        let mut disposition = None;
        let mut content_type = "application/octet-stream".to_owned();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| HttpError::new(400).log("malformed multipart part header"))?;
            if name.trim().eq_ignore_ascii_case("Content-Disposition") {
                disposition = Some(value.trim().to_owned());
            } else if name.trim().eq_ignore_ascii_case("Content-Type") {
                content_type = value.trim().to_owned();
            }
        }
        let Some(disposition) = disposition else {
            return Ok(Part::Skip);
        };
        let (kind, params) = parse_header_params(&disposition);
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (true, Some(name)) = (kind.eq_ignore_ascii_case("form-data"), param("name")) else {
            return Ok(Part::Skip);
        };
        match param("filename").filter(|f| !f.is_empty()) {
            None => Ok(Part::Field {
                name,
                value: Vec::new(),
            }),
            Some(filename) => {
                let path = self.config.dir.join(format!(
                    ".upload-{}-{}.part",
                    std::process::id(),
                    self.config.next_id()
                ));
                let file = File::create(&path)?;
                Ok(Part::File {
                    field: name,
                    filename,
                    content_type,
                    out: BufWriter::with_capacity(64 * 1024, file),
                    temp: TempFile { path: Some(path) },
                    size: 0,
                    hash: Sha256::new(),
                })
            }
        }
    }

    fn end_part(&mut self) -> Result<()> {
        match self.part.take() {
            Some(Part::Field { name, value }) => {
                self.fields.push((name, String::from_utf8(value)?));
            }
            Some(Part::File {
                field,
                filename,
                content_type,
                out,
                temp,
                size,
                hash,
            }) => {
                let file = out
                    .into_inner()
                    .map_err(|e| HttpError::internal(e.to_string()))?;
                file.sync_all()?;
                self.files.push(ReceivedFile {
                    field,
                    filename,
                    content_type,
                    size,
                    sha256: format!("{:x}", hash.finalize()),
                    temp,
                });
            }
            Some(Part::Skip) | None => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

// ---- handlers --------------------------------------------------------------------------------

/// `GET /`: the upload form.
#[derive(Clone)]
struct FormPage {
    config: Rc<Config>,
}

#[handler]
impl FormPage {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        // templates/upload/index.html: the form posts to /upload?_xsrf=<token>.
        cx.render("index.html", context! { max_size => self.config.max_size })
    }
}

/// Whether the request carries an XSRF token (header, or `_xsrf` in the query) matching its
/// `_xsrf` cookie: the framework's check, run early on the head alone.
fn xsrf_ok(request: &Request) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let query_token = || {
        squall::httputil::parse_query(request.query().as_bytes())
            .ok()?
            .into_iter()
            .rev()
            .find(|(k, _)| k == "_xsrf")
            .map(|(_, v)| v)
    };
    let sent = request
        .header("X-XSRFToken")
        .or_else(|| request.header("X-CSRFToken"))
        .map(str::to_owned)
        .or_else(query_token);
    let cookie = request
        .header_all("Cookie")
        .flat_map(parse_cookies)
        .filter(|(n, _)| *n == "_xsrf")
        .last()
        .map(|(_, v)| v.to_owned());
    match (sent, cookie) {
        (Some(s), Some(c)) => match (XsrfToken::decode(&s, now), XsrfToken::decode(&c, now)) {
            (Some(s), Some(c)) => tokens_match(&s, &c),
            _ => false,
        },
        _ => false,
    }
}

/// `POST /upload`: the streamed upload.
struct Upload {
    config: Rc<Config>,
    received: u64,
    parser: Option<MultipartStream>,
}

impl Upload {
    fn new(config: Rc<Config>) -> Upload {
        Upload {
            config,
            received: 0,
            parser: None,
        }
    }
}

/// Each request's handler is a clone of the route's template, made before any body arrives:
/// a fresh one, with nothing received.
impl Clone for Upload {
    fn clone(&self) -> Self {
        Upload::new(self.config.clone())
    }
}

#[derive(Serialize)]
struct FileReport {
    field: String,
    filename: String,
    content_type: String,
    size: u64,
    sha256: String,
    saved_as: String,
}

#[derive(Serialize)]
struct UploadReport {
    files: Vec<FileReport>,
    /// Plain fields, each name with its values.
    fields: serde_json::Map<String, serde_json::Value>,
}

/// A file name safe to use on disk: the last path component, with anything but ASCII
/// letters, digits, `.`, `-` and `_` replaced, no leading dot, at most 100 bytes.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "upload".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[handler(stream_request_body)]
impl Upload {
    fn body_started(&mut self, request: &Request) -> Result<()> {
        if !xsrf_ok(request) {
            return Err(HttpError::new(403).log("upload without a valid XSRF token"));
        }
        if let Some(len) = request.header("Content-Length") {
            let len: u64 = len.trim().parse()?;
            if len > self.config.max_size {
                return Err(HttpError::new(413).log(format!(
                    "upload of {len} bytes refused (limit {})",
                    self.config.max_size
                )));
            }
        }
        let content_type = request.header("Content-Type").unwrap_or("");
        let (kind, _) = parse_header_params(content_type);
        let boundary = multipart_boundary(content_type)
            .filter(|_| kind.eq_ignore_ascii_case("multipart/form-data"))
            .ok_or_else(|| HttpError::new(415).log("not multipart/form-data"))?;
        self.parser = Some(MultipartStream::new(&boundary, self.config.clone()));
        Ok(())
    }

    fn data_received(&mut self, chunk: &[u8]) -> Result<()> {
        self.received += chunk.len() as u64;
        if self.received > self.config.max_size {
            return Err(HttpError::new(413).log("upload over the size limit"));
        }
        match self.parser.as_mut() {
            Some(p) => p.feed(chunk),
            None => Err(HttpError::internal("body without body_started")),
        }
    }

    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let Some(parser) = self.parser.take() else {
            return Err(HttpError::new(400).log("an upload needs a multipart body"));
        };
        if !parser.is_done() {
            return Err(HttpError::new(400).log("multipart body ended early"));
        }
        let mut files = Vec::new();
        for f in parser.files {
            let path = self.config.dir.join(format!(
                "{}-{}",
                self.config.next_id(),
                safe_name(&f.filename)
            ));
            f.temp.keep(&path)?;
            log::info!("saved {} ({} bytes)", path.display(), f.size);
            files.push(FileReport {
                field: f.field,
                filename: f.filename,
                content_type: f.content_type,
                size: f.size,
                sha256: f.sha256,
                saved_as: path.display().to_string(),
            });
        }
        let mut fields = serde_json::Map::new();
        for (name, value) in parser.fields {
            let values = fields.entry(name).or_insert_with(|| serde_json::json!([]));
            if let Some(list) = values.as_array_mut() {
                list.push(value.into());
            }
        }
        cx.write_json(&UploadReport { files, fields })
    }
}

fn main() -> std::io::Result<()> {
    squall::log::enable_pretty_logging(log::LevelFilter::Info);
    let args = common::Args::parse();
    let dir: PathBuf = args
        .get("--dir")
        .unwrap_or_else(|| std::env::temp_dir().join("squall-uploads"));
    std::fs::create_dir_all(&dir)?;
    let max_size: u64 = args.get("--max-size").unwrap_or(64 << 20);
    // Unset: a random secret per start (logged); set but empty: refuses to start.
    let secret = common::cookie_secret("UPLOAD_SECRET");

    let config = Rc::new(Config {
        dir: dir.clone(),
        max_size,
        counter: Cell::new(0),
    });
    let app = Application::with_settings(
        routes![
            (
                r"/",
                FormPage {
                    config: config.clone()
                }
            ),
            (r"/upload", Upload::new(config)),
        ],
        Settings {
            xsrf_cookies: true,
            cookie_secret: Some(secret),
            template_path: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/upload"),
            ),
            ..Settings::default()
        },
    )?;
    // The server-wide limit applies to every request, streamed or not: raise it to the upload
    // limit if that is larger (the upload handler enforces its own).
    let defaults = HttpServerOptions::default();
    let options = HttpServerOptions {
        max_body_size: defaults.max_body_size.max(max_size),
        ..defaults
    };
    let server = app.into_server_with(options);
    log::info!(
        "upload server saving to {} (limit {max_size} bytes)",
        dir.display()
    );
    // Until SIGTERM or SIGINT, then stop accepting, let uploads in flight finish (up to the
    // grace period), exit 0.
    server.run(args.port, &args.address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(body: &[u8], piece: usize) -> (MultipartStream, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("squall-upload-unit-{}-{piece}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Rc::new(Config {
            dir: dir.clone(),
            max_size: u64::MAX,
            counter: Cell::new(0),
        });
        let mut p = MultipartStream::new("b0undary", config);
        for chunk in body.chunks(piece) {
            p.feed(chunk).unwrap();
        }
        (p, dir)
    }

    #[test]
    fn delimiters_split_anywhere() {
        let content = b"x\r\n--b0undaryX\r\n--b0undar\r\n\r\n--b0undary-y\r\nend".to_vec();
        let mut body = b"preamble\r\n--b0undary\r\n\
            Content-Disposition: form-data; name=\"title\"\r\n\r\nHi there\r\n\
            --b0undary  \r\n\
            Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\r\n"
            .to_vec();
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n--b0undary--\r\nepilogue --b0undary\r\n");
        for piece in [1, 2, 3, 5, 7, 11, 13, 64, body.len()] {
            let (p, dir) = parse_in_pieces(&body, piece);
            assert!(p.is_done(), "piece {piece}");
            assert_eq!(p.fields, [("title".to_owned(), "Hi there".to_owned())]);
            assert_eq!(p.files.len(), 1, "piece {piece}");
            let f = &p.files[0];
            assert_eq!((f.field.as_str(), f.filename.as_str()), ("doc", "a.txt"));
            assert_eq!(f.content_type, "text/plain");
            assert_eq!(f.size, content.len() as u64);
            let path = f.temp.path.clone().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), content, "piece {piece}");
            drop(p);
            assert!(!path.exists(), "temporary file not removed");
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name(r"C:\Users\me\photo 1.jpg"), "photo_1.jpg");
        assert_eq!(safe_name(".hidden"), "hidden");
        assert_eq!(safe_name("..."), "upload");
        assert_eq!(safe_name("€uro.txt"), "_uro.txt");
    }
}
