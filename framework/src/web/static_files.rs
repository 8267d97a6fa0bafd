//! [`StaticFileHandler`]: files from a folder, with validators, conditional requests, byte
//! ranges and a bounded memory footprint; and [`Context::static_url`], Tornado's versioned
//! URLs for cache busting.
//!
//! The guarantees (containment in the root, validators, conditional requests, ranges,
//! streaming, content types, versioned URLs) are documented on [`StaticFileHandler`], the
//! public face of this module (reached as `squall::web::StaticFileHandler`).

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::compression::{self, ContentCoding};
use super::context::names_current_version;
use super::context::Context;
use super::error::{HttpError, Result};
use super::etag::{if_match, if_none_match, EntityTag};
use super::static_fs::{
    canonical_inside, canonical_root, is_hidden, open_regular, relative_path, FileStamp, CHUNK,
};
use super::static_version::IMMUTABLE;
use crate::handler;
use crate::http1::Method;

/// Serves the files under a folder (Tornado's `StaticFileHandler`), for a route with one group:
/// the path below the folder.
///
/// It guarantees no file outside the root, a strong ETag and `Last-Modified`, 304s, single
/// byte ranges, and bodies streamed from disk in pieces (the sections below say how).
/// [`Settings::static_path`](super::Settings::static_path) adds one for you under
/// `/static/`; add others to the routing table.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use squall::prelude::*;
/// use squall::web::StaticFileHandler;
///
/// let app = Application::new(routes![
///     (r"/static/(.*)", StaticFileHandler::new("static")),
///     (
///         r"/docs/(.*)",
///         StaticFileHandler::new("site/docs")
///             .default_filename(Some("index.html"))
///             .cache_max_age(Duration::from_secs(3600)),
///     ),
/// ]);
/// app.listen(8888).unwrap();
/// IOLoop::current().start();
/// ```
///
///  ### Staying inside the root
///
///  The route's group arrives percent-decoded (`%2e%2e%2f` is `../` by then). The handler
///  refuses, with 403 and before touching the filesystem, any path holding a NUL byte, an
///  absolute path, and any `..` component, even one that would stay inside the root (Tornado
///  resolves those; there is no legitimate use and refusing is simpler to reason about). Empty
///  and `.` components are dropped. A component that starts with a dot (`.git`, `.env`,
///  `.htpasswd`) is 404 unless [`serve_dotfiles(true)`](StaticFileHandler::serve_dotfiles)
///  was asked for: such files are kept beside published ones by accident far more often than
///  published (a `.well-known` folder is the usual exception: opt in, or give it a handler of
///  its own rooted at that folder). The root and the target are then canonicalized and the
///  target must lie under the canonical root, so a symbolic link is followed only if it
///  resolves inside the root (403 otherwise). Only regular files are served: directories are
///  403 unless a default file is configured, and FIFOs or devices are 403 (checked on the
///  opened file, which is opened non-blocking so that a FIFO swapped in cannot stall the loop).
///  The threat model is the URL: a local user who can rewrite the folder while it is being
///  served can race any check of this kind.
///
///  ### Validators
///
///  The ETag is strong and built from the opened file's metadata: `"size-mtime-inode"`, each in
///  hex, the modification time in nanoseconds. A content hash would be a better validator but
///  costs reading the whole file on every request, even one answered 304, and the file can be
///  large; the metadata triple changes whenever the file is rewritten or replaced (nginx and
///  Apache make the same choice). Its blind spot is a same-size rewrite within one tick of the
///  filesystem's timestamp clock. `Last-Modified` is the modification time, clamped to the
///  present (RFC 9110 §8.8.2.1).
///
///  ### Conditional requests
///
///  Evaluated in the order of RFC 9110 §13.2.2: `If-Match` (strong comparison; fails with 412),
///  else `If-Unmodified-Since` (412); then `If-None-Match` (weak comparison, lists and `*`; a
///  match is 304), else `If-Modified-Since` (304 when the file is not newer, to the second).
///  Dates that do not parse are ignored. A 304 carries the validators and `Cache-Control`, no
///  body and no `Content-Type`.
///
///  ### Ranges
///
///  One byte range per request (RFC 9110 §14): `bytes=a-b`, `bytes=a-` and `bytes=-n` give 206
///  with `Content-Range`, a range starting past the end gives 416 with `Content-Range: bytes
///  */size`. Several ranges, another unit and malformed values are ignored and the whole file
///  is sent with 200, which the RFC allows; so is any range on an empty file. `If-Range`
///  applies the range only when it names the current ETag (strong comparison) or exactly the
///  `Last-Modified` date of a file modified at least a second ago; otherwise the whole file is
///  sent. Ranges apply to GET only; HEAD answers as the whole file would (RFC 9110 §14.2).
///
///  ### Streaming
///
///  The body is read from the file in 64 KiB pieces, each written and then waited for with
///  [`Context::flush_and_wait`] before the next is read, under a `Content-Length` declared with
///  [`Context::set_content_length`]: one piece is in memory at a time, whatever the file's
///  size. The reads are plain blocking reads on the loop's thread, as Tornado does them: a
///  64 KiB read of a local file is short next to the wait for the socket.
///
///  ### Content types
///
///  The type is `mime_guess`'s first guess from the extension (`application/octet-stream`
///  without one). `text/*` types get `; charset=UTF-8`, as Go's file server does and Tornado
///  does not: UTF-8 is the web's encoding, and a `text/plain` file has no other way to say so,
///  so browsers would otherwise decode it with a locale-dependent legacy charset. The cost: a
///  legacy-encoded HTML file's `<meta charset>` is overridden by the header.
///
///  ### Versioned URLs
///
///  [`Context::static_url`] appends `?v=` and the first 12 hex digits of the MD5 of the file's
///  content (48 bits: Tornado 2's 5 digits leave a one-in-a-million chance that a changed file
///  keeps its URL). A hash is computed once per version of a file and cached in the application, keyed by
///  the canonical path and stored with the file's size, mtime and inode: a lookup checks those
///  with one `stat`, so a changed file gets a new URL without a restart (Tornado's cache, outside
///  debug mode, keeps the first hash forever).
///
///  ### Caching a versioned request
///
///  A request whose `v` equals the current hash is answered with
///  `Cache-Control: public, max-age=31536000, immutable`: one year, the customary ceiling (the
///  longest `Expires` RFC 2616 allowed; Tornado says ten years), and `immutable` (RFC 8246) so
///  browsers do not even revalidate while it lasts. Tornado grants its long cache to any `v`;
///  here a `v` that does not match gets the handler's ordinary caching, since that URL does not
///  name the content being served. The handler hashes a file it has no hash for once, on the
///  executor (one job for the whole file, not one per piece), so that a URL rendered by another
///  process of a `fork_processes` server, or before a restart, still earns the long cache.
#[derive(Clone, Debug)]
pub struct StaticFileHandler {
    // Shared by the per-request clones: cloning a handler is one reference count.
    config: Rc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    root: PathBuf,
    default_filename: Option<String>,
    cache_control: Option<Cow<'static, str>>,
    serve_dotfiles: bool,
}

impl StaticFileHandler {
    /// Serves the files under `root`. A relative `root` is resolved against the process's
    /// working directory on each request, and the folder need not exist yet: it is
    /// canonicalized per request, so a root that is a symbolic link (`current -> release-42`)
    /// can be switched while the server runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::StaticFileHandler;
    ///
    /// let h = StaticFileHandler::new("static");
    /// assert_eq!(h.root(), std::path::Path::new("static"));
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> StaticFileHandler {
        StaticFileHandler {
            config: Rc::new(Config {
                root: root.into(),
                default_filename: None,
                cache_control: None,
                serve_dotfiles: false,
            }),
        }
    }

    /// The file served for a directory (`Some("index.html")`); `None`, the default, answers
    /// 403 for directories. A directory requested without its trailing slash is redirected
    /// (301) to the URL with it, so that relative links in the page resolve, as Tornado does.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::StaticFileHandler;
    ///
    /// let h = StaticFileHandler::new("site").default_filename(Some("index.html"));
    /// ```
    pub fn default_filename(mut self, name: Option<&str>) -> StaticFileHandler {
        Rc::make_mut(&mut self.config).default_filename = name.map(str::to_owned);
        self
    }

    /// Sends `Cache-Control: max-age=<seconds>` with every file (none by default, as in
    /// Tornado). A request for a versioned URL whose `v` matches gets the longer
    /// `public, max-age=31536000, immutable` instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use squall::web::StaticFileHandler;
    ///
    /// let h = StaticFileHandler::new("static").cache_max_age(Duration::from_secs(600));
    /// ```
    pub fn cache_max_age(self, age: Duration) -> StaticFileHandler {
        self.with_cache_control(format!("max-age={}", age.as_secs()))
    }

    /// Sends this `Cache-Control` value with every file (`"no-cache"`, `"public, max-age=60"`,
    /// ...), except versioned URLs whose `v` matches.
    ///
    /// # Panics
    ///
    /// If `value` holds a control character (CR, LF, NUL, ...): a programming error, caught
    /// when the routing table is built rather than on each request.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::StaticFileHandler;
    ///
    /// let h = StaticFileHandler::new("static").with_cache_control("no-cache");
    /// ```
    pub fn with_cache_control(mut self, value: impl Into<Cow<'static, str>>) -> StaticFileHandler {
        let value = value.into();
        if let Err(e) = crate::httputil::validate_header_value(&value) {
            panic!("squall: invalid Cache-Control value {value:?}: {e}");
        }
        Rc::make_mut(&mut self.config).cache_control = Some(value);
        self
    }

    /// Whether paths with a component that starts with a dot (`.env`, `.git/config`,
    /// `.well-known/...`) are served; by default they are 404, as if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::StaticFileHandler;
    ///
    /// let h = StaticFileHandler::new("public").serve_dotfiles(true);
    /// ```
    pub fn serve_dotfiles(mut self, serve: bool) -> StaticFileHandler {
        Rc::make_mut(&mut self.config).serve_dotfiles = serve;
        self
    }

    /// The folder served, as given.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::StaticFileHandler;
    ///
    /// assert_eq!(StaticFileHandler::new("/srv/www").root().to_str(), Some("/srv/www"));
    /// ```
    pub fn root(&self) -> &Path {
        &self.config.root
    }
}

#[handler]
impl StaticFileHandler {
    async fn get(&mut self, cx: &mut Context, path: String) -> Result<()> {
        self.serve(cx, &path).await
    }

    async fn head(&mut self, cx: &mut Context, path: String) -> Result<()> {
        self.serve(cx, &path).await
    }
}

impl StaticFileHandler {
    async fn serve(&self, cx: &mut Context, path: &str) -> Result<()> {
        let rel = relative_path(path)
            .map_err(|why| HttpError::new(403).log(format!("static path {path:?}: {why}")))?;
        if !self.config.serve_dotfiles && is_hidden(&rel) {
            return Err(HttpError::new(404).log(format!(
                "static path {path:?} names a dotfile (StaticFileHandler::serve_dotfiles)"
            )));
        }
        let root = canonical_root(&self.config.root)?;
        let mut target = canonical_inside(&root, &root.join(&rel))?;
        let is_dir = std::fs::metadata(&target)
            .map_err(|e| {
                HttpError::new(404)
                    .log(target.display().to_string())
                    .with_source(e)
            })?
            .is_dir();
        if is_dir {
            let Some(index) = &self.config.default_filename else {
                return Err(HttpError::new(403).log(format!("{} is a directory", target.display())));
            };
            if !cx.path().ends_with('/') {
                return redirect_to_directory(cx);
            }
            target = canonical_inside(&root, &target.join(index))?;
        } else if path.ends_with('/') {
            return Err(HttpError::new(404).log(format!("{} is not a directory", target.display())));
        }
        let (file, meta) = open_regular(&target)?;
        let now = SystemTime::now();
        let versioned =
            names_current_version(cx, &target, &file, FileInfo::of(&meta, now).stamp).await;
        let cache_control = if versioned {
            Some(Cow::Borrowed(IMMUTABLE))
        } else {
            self.config.cache_control.clone()
        };

        let mime = content_type(&target);
        let (file, file_info, etag) = match representation(cx, &root, &target, &mime, file, &meta)?
        {
            Representation::Identity(file) => {
                let info = FileInfo::of(&meta, now);
                let etag = info.etag();
                (file, info, etag)
            }
            Representation::Precompressed(file, gz_meta) => {
                let info = FileInfo::of(&gz_meta, now);
                let etag = info.etag();
                (file, info, etag)
            }
            Representation::OnTheFly(file, coding) => {
                let info = FileInfo::of(&meta, now);
                let etag = info.etag();
                let coded = compression::coded_etag(&etag, coding).unwrap_or(etag);
                (file, info, coded)
            }
        };
        cx.set_header("Etag", etag.clone())?;
        cx.set_header(
            "Last-Modified",
            httpdate::fmt_http_date(file_info.last_modified),
        )?;
        if let Some(cc) = cache_control {
            cx.set_header("Cache-Control", cc)?;
        }
        match preconditions(cx, &etag, &file_info) {
            Precondition::Proceed => {}
            Precondition::Failed => return Err(HttpError::new(412)),
            Precondition::NotModified => {
                cx.set_status(304);
                cx.clear_header("Content-Type");
                return Ok(());
            }
        }

        let size = file_info.stamp.size;
        cx.set_header("Content-Type", mime)?;
        cx.set_header("Accept-Ranges", "bytes")?;
        let range = if cx.method() == Method::Get && range_applies(cx, &etag, &file_info) {
            cx.header("Range")
                .map_or(ByteRange::Whole, |h| parse_range(h, size))
        } else {
            ByteRange::Whole
        };
        let (start, len) = match range {
            ByteRange::Whole => (0, size),
            ByteRange::Part { first, last } => {
                cx.set_status(206);
                cx.set_header("Content-Range", format!("bytes {first}-{last}/{size}"))?;
                (first, last - first + 1)
            }
            ByteRange::Unsatisfiable => {
                cx.set_status(416);
                cx.set_header("Content-Range", format!("bytes */{size}"))?;
                cx.clear_header("Content-Type");
                cx.set_content_length(0)?;
                return Ok(());
            }
        };
        cx.set_content_length(len)?;
        if cx.method() == Method::Head {
            return Ok(());
        }
        stream_file(cx, file, &target, start, len).await
    }
}

/// Sends `len` bytes of `file` from `start`, a piece at a time, waiting for the socket between
/// pieces; the last piece is left for `finish`. A file that shrinks meanwhile fails the
/// response (the connection is closed: the declared length cannot be honoured).
async fn stream_file(
    cx: &mut Context,
    mut file: File,
    target: &Path,
    start: u64,
    len: u64,
) -> Result<()> {
    let fail =
        |e: io::Error| HttpError::internal(format!("reading {}", target.display())).with_source(e);
    if start > 0 {
        file.seek(SeekFrom::Start(start)).map_err(fail)?;
    }
    let mut remaining = len;
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        // Read straight into the response buffer (pooled by the application): one copy less,
        // and no buffer of our own per request.
        let body = cx.body_mut();
        body.clear();
        body.resize(n, 0);
        file.read_exact(body).map_err(fail)?;
        remaining -= n as u64;
        if remaining > 0 {
            cx.flush_and_wait().await?;
        }
    }
    Ok(())
}

/// Which representation of a file a request gets when `compress_response` is on.
enum Representation {
    /// The file as it is.
    Identity(File),
    /// Its precompressed `.gz` sibling (opened, with its metadata), sent with
    /// `Content-Encoding: gzip`.
    Precompressed(File, Metadata),
    /// The file, compressed as it is sent.
    OnTheFly(File, ContentCoding),
}

/// Chooses the representation of `file` (at `target`, of type `mime`) for this request, and
/// tells the context: with `compress_response` on, a file with a fresh `.gz` sibling is sent
/// as that sibling to a client accepting gzip (nginx's `gzip_static`); otherwise a
/// compressible file of at least `min_length` bytes is compressed as it is sent, except for
/// a Range request, which gets the identity bytes it asks about. Either case adds
/// `Vary: Accept-Encoding`, whatever this client accepts.
fn representation(
    cx: &mut Context,
    root: &Path,
    target: &Path,
    mime: &str,
    file: File,
    meta: &Metadata,
) -> Result<Representation> {
    let settings = cx.settings();
    if !settings.compress_response {
        return Ok(Representation::Identity(file));
    }
    let min = settings.compression.min_length as u64;
    // The handler decides for its own responses; the context only applies the decision.
    cx.set_compression_enabled(false);
    let sibling = gz_sibling(root, target, meta);
    let eligible = compression::compressible_type(mime) && meta.len() >= min;
    if sibling.is_none() && !eligible {
        return Ok(Representation::Identity(file));
    }
    cx.vary_on_accept_encoding();
    let accept = || cx.request().header_all("Accept-Encoding");
    if let Some((gz, gz_meta)) = sibling.filter(|_| compression::accepts_gzip(accept())) {
        cx.set_header("Content-Encoding", "gzip")?;
        return Ok(Representation::Precompressed(gz, gz_meta));
    }
    let ranged = cx.method() == Method::Get && cx.header("Range").is_some();
    match compression::negotiate(accept()) {
        Some(coding) if eligible && !ranged && cx.compress_with(coding) => {
            Ok(Representation::OnTheFly(file, coding))
        }
        _ => Ok(Representation::Identity(file)),
    }
}

/// `target.gz`, opened, if it is a regular file inside `root` at least as new as `target`
/// (an older one is stale: the original changed since it was compressed).
fn gz_sibling(root: &Path, target: &Path, meta: &Metadata) -> Option<(File, Metadata)> {
    let mut name = target.as_os_str().to_owned();
    name.push(".gz");
    let path = canonical_inside(root, Path::new(&name)).ok()?;
    let (file, gz_meta) = open_regular(&path).ok()?;
    let fresh = gz_meta.modified().ok()? >= meta.modified().ok()?;
    fresh.then_some((file, gz_meta))
}

/// Redirects `/dir` to `/dir/` (301), keeping the query.
fn redirect_to_directory(cx: &mut Context) -> Result<()> {
    // The request path starts with one `/` followed by the route's prefix; refuse anything
    // that a browser would read as another host.
    if cx.path().starts_with("//") || cx.path().contains('\\') {
        return Err(
            HttpError::new(404).log("refusing a redirect a browser could read as another host")
        );
    }
    let mut url = format!("{}/", cx.path());
    if !cx.query_string().is_empty() {
        url.push('?');
        url.push_str(cx.query_string());
    }
    cx.redirect_permanent(&url)
}

/// The validators of an opened file.
#[derive(Clone, Copy, Debug)]
struct FileInfo {
    stamp: FileStamp,
    /// The modification time, clamped to `now`.
    last_modified: SystemTime,
    /// Whether `last_modified` is at least a second before `now` (a strong validator).
    settled: bool,
}

impl FileInfo {
    fn of(meta: &Metadata, now: SystemTime) -> FileInfo {
        let stamp = FileStamp::of(meta);
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        FileInfo {
            stamp,
            last_modified: mtime.min(now),
            settled: mtime + Duration::from_secs(1) <= now,
        }
    }

    /// `"size-mtime_ns-inode"`, in hex.
    fn etag(&self) -> String {
        let s = &self.stamp;
        // A modification time before 1970 wraps to a large number: still one per instant.
        format!("\"{:x}-{:x}-{:x}\"", s.size, s.mtime_ns as u128, s.ino)
    }

    /// `Last-Modified` in whole seconds since the epoch (HTTP dates have no finer grain).
    fn last_modified_secs(&self) -> u64 {
        unix_secs(self.last_modified)
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The outcome of a request's preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// RFC 9110 §13.2.2, steps 1 to 4, for a GET or HEAD.
fn preconditions(cx: &Context, etag: &str, file: &FileInfo) -> Precondition {
    let request = cx.request();
    let lm = file.last_modified_secs();
    let mut if_match_lines = request.header_all("If-Match").peekable();
    if if_match_lines.peek().is_some() {
        if !if_match_lines.any(|h| if_match(h, etag)) {
            return Precondition::Failed;
        }
    } else if let Some(since) = request.header("If-Unmodified-Since").and_then(http_date) {
        if lm > since {
            return Precondition::Failed;
        }
    }
    let mut inm_lines = request.header_all("If-None-Match").peekable();
    if inm_lines.peek().is_some() {
        if inm_lines.any(|h| if_none_match(h, etag)) {
            return Precondition::NotModified;
        }
    } else if let Some(since) = request.header("If-Modified-Since").and_then(http_date) {
        if lm <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// An HTTP date in seconds since the epoch; `None` if it does not parse.
fn http_date(s: &str) -> Option<u64> {
    httpdate::parse_http_date(s.trim()).ok().map(unix_secs)
}

/// Whether a `Range` may be honoured: there is no `If-Range`, or it names the current
/// representation (RFC 9110 §13.1.5).
fn range_applies(cx: &Context, etag: &str, file: &FileInfo) -> bool {
    let Some(validator) = cx.header("If-Range") else {
        return true;
    };
    let validator = validator.trim();
    if validator.starts_with('"') || validator.starts_with("W/") {
        match (EntityTag::parse(validator), EntityTag::parse(etag)) {
            (Some(theirs), Some(ours)) => theirs.strong_eq(&ours),
            _ => false,
        }
    } else {
        file.settled && http_date(validator) == Some(file.last_modified_secs())
    }
}

/// A `Range` header, read against a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteRange {
    /// No usable range: send the whole file (200).
    Whole,
    /// Bytes `first..=last`, both inside the file (206).
    Part { first: u64, last: u64 },
    /// A well-formed range entirely past the end (416).
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14.1.2). Only a single byte range is honoured; several
/// ranges, another unit, malformed values and any range of an empty file give `Whole`.
fn parse_range(header: &str, size: u64) -> ByteRange {
    let header = header.trim_matches([' ', '\t']);
    let Some((unit, set)) = header.split_once('=') else {
        return ByteRange::Whole;
    };
    if !unit.eq_ignore_ascii_case("bytes") || size == 0 {
        return ByteRange::Whole;
    }
    // A list; empty elements are allowed (RFC 9110 §5.6.1).
    let mut specs = set
        .split(',')
        .map(|s| s.trim_matches([' ', '\t']))
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return ByteRange::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Whole;
    };
    match (digits(first), digits(last)) {
        // `-n`: the last n bytes (all of them if the file is shorter).
        (None, Some(n)) if first.is_empty() => {
            if n == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    first: size.saturating_sub(n),
                    last: size - 1,
                }
            }
        }
        // `a-`: from a to the end.
        (Some(a), None) if last.is_empty() => {
            if a >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    first: a,
                    last: size - 1,
                }
            }
        }
        (Some(a), Some(b)) if a <= b => {
            if a >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    first: a,
                    last: b.min(size - 1),
                }
            }
        }
        _ => ByteRange::Whole,
    }
}

/// A non-empty run of ASCII digits as a number, saturating at `u64::MAX` (a position past any
/// file is still a valid position); `None` for anything else.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// The `Content-Type` for a file, from its extension.
fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    if mime.starts_with("text/") {
        format!("{mime}; charset=UTF-8")
    } else {
        mime.to_owned()
    }
}

#[cfg(test)]
mod tests;
