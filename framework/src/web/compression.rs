//! Response compression (Tornado's `compress_response`): gzip or deflate, chosen per request
//! from `Accept-Encoding`, applied by [`Context`](super::Context) as the response leaves.
//!
//! This module owns the rules (which responses, which coding, which validators) and the
//! compressors; `context.rs` calls it when [`Settings::compress_response`] is on, and
//! `static_files.rs` when it serves a file (on the fly, or a precompressed `.gz` sibling).
//!
//! ### Which responses
//!
//! A response is *eligible* when its status can carry a body and is not a partial one (not
//! 1xx, 204, 206 or 304, no `Content-Range`), it has no `Content-Encoding` yet, its
//! `Content-Type` is compressible (`text/*`, JSON, JavaScript, XML, SVG: see
//! [`compressible_type`]; a response without one gets the default `text/html`), and its body
//! is at least [`CompressionOptions::min_length`] bytes, or is streamed (flushed before it is
//! complete, so its length is unknown). Every eligible response gets `Vary: Accept-Encoding`
//! (merged into a `Vary` the handler set, never repeated), compressed or not, since its
//! representation depends on that field; an ineligible one is left exactly as it was. A HEAD
//! request gets the headers its GET would (`Content-Encoding`, `Vary`, the coded ETag) but no
//! body is compressed for it and its `Content-Length` is left out (RFC 9110 §9.3.2 allows
//! that for a value only known by generating the content).
//!
//! ### Negotiation (RFC 9110 §12.5.3)
//!
//! `Accept-Encoding` is read as a list of codings with optional `q` weights (`q=0` refuses).
//! `gzip` (or its alias `x-gzip`) and `deflate` take their own weight, or that of `*` when not
//! named; the heaviest one above zero wins, gzip on a tie. Identity is kept when the client
//! names it with a weight above the winner's (`gzip;q=0.5, identity`). A request without the
//! field, with an empty one, or refusing both codings gets identity: a server may always send
//! an unencoded response, and does so rather than answer 406. A coding named twice takes its
//! lower weight (a refusal anywhere is honoured); malformed elements are skipped. One linear
//! pass, no allocation.
//!
//! `deflate` is the zlib format (RFC 9110 §8.4.1.2), as browsers expect.
//!
//! ### Validators (RFC 9110 §8.8.3)
//!
//! An ETag names one representation, so a compressed one gets its own: the identity tag with
//! `-gzip` or `-deflate` appended inside the quotes (`"abc"` becomes `"abc-gzip"`, keeping
//! `W/`). `If-None-Match` is evaluated against the tag of the representation being chosen, so
//! a client holding either tag gets its 304, and a 304 carries `Vary` and the coded tag.
//! [`Context::check_preconditions`](super::Context::check_preconditions) accepts the coded
//! tags too, since they name the same resource state for `If-Match`.
//!
//! ### Streaming
//!
//! A flushed response is compressed as it goes: each flush compresses what was written since
//! the last one and ends with a sync flush, so the client can decode everything it has
//! received at once; `finish` ends the stream. A declared length
//! ([`Context::set_content_length`](super::Context::set_content_length)) then counts
//! uncompressed bytes and the response is chunked instead (close-delimited on HTTP/1.0).
//!
//! ### Memory and cost
//!
//! A compressor (zlib-rs through flate2) holds about 380 KB of state. Complete bodies are
//! compressed in one call with a compressor taken from a small per-application pool, so a
//! loop needs one however many requests it serves. A streamed response holds its compressor
//! until it finishes; at most [`CompressionOptions::max_streams`] do at once per application
//! (per loop), and a streamed response beyond that is sent uncompressed (still with `Vary`),
//! so a client holding many streams open cannot make the server's memory grow with them.
//! Compressed output is written to the connection as it is produced: nothing is buffered
//! beyond the body the handler wrote. Deflate costs time linear in the input at any level.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use flate2::{Compress, Compression, FlushCompress, Status};

use super::etag::EntityTag;
use crate::httputil::HeaderMap;

/// How responses are compressed when
/// [`Settings::compress_response`](super::Settings::compress_response) is on.
///
/// # Examples
///
/// ```
/// use squall::web::{CompressionOptions, Settings};
///
/// let settings = Settings {
///     compress_response: true,
///     compression: CompressionOptions { level: 6, ..CompressionOptions::default() },
///     ..Settings::default()
/// };
/// assert_eq!(settings.compression.min_length, 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionOptions {
    /// The deflate level, 1 (fastest) to 9 (smallest); 0 stores without compressing. The
    /// default, 2, was chosen by measurement with the zlib-rs backend: on prose (Squall's
    /// README) and JSON its output is about 5% larger than level 6's (Tornado's and zlib's
    /// default: 45.6% vs 43.9% of the input, 15.4% vs 14.6%) for a third to a half of the CPU
    /// time; on very repetitive text the gap grows (27% vs 23%) and so does level 6's cost
    /// (13 times level 2's). Level 1 is faster still but much weaker (59% on the README).
    pub level: u32,
    /// Complete bodies shorter than this are sent as they are (default 1024 bytes, Tornado's
    /// `MIN_LENGTH`): below it the headers and the coding's framing eat most of the saving.
    pub min_length: usize,
    /// How many streamed (flushed) responses may be compressed at once per application
    /// (default 32, about 12 MB of compressor state); streamed responses beyond it are sent
    /// uncompressed. Complete bodies are not counted: they are compressed in one call.
    pub max_streams: usize,
}

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            level: 2,
            min_length: 1024,
            max_streams: 32,
        }
    }
}

/// A content coding Squall can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentCoding {
    /// gzip (RFC 1952).
    Gzip,
    /// deflate in the zlib format (RFC 1950).
    Deflate,
}

impl ContentCoding {
    /// The coding's name, as `Content-Encoding` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
        }
    }

    /// The `Content-Encoding` header line.
    pub(crate) fn header_line(self) -> &'static [u8] {
        match self {
            ContentCoding::Gzip => b"Content-Encoding: gzip\r\n",
            ContentCoding::Deflate => b"Content-Encoding: deflate\r\n",
        }
    }

    /// What a compressed representation's ETag gets appended inside its quotes.
    fn etag_suffix(self) -> &'static str {
        match self {
            ContentCoding::Gzip => "-gzip",
            ContentCoding::Deflate => "-deflate",
        }
    }
}

/// The `Vary` header line an eligible response gets when the handler set no `Vary`.
pub(crate) const VARY_LINE: &[u8] = b"Vary: Accept-Encoding\r\n";

/// What a coding was given in `Accept-Encoding`: its weight in thousandths, if named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Weights {
    gzip: Option<u16>,
    deflate: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
}

impl Weights {
    /// Reads every `Accept-Encoding` field line of a request.
    fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Weights {
        let mut w = Weights::default();
        for line in lines {
            for element in line.split(',') {
                let mut parts = element.split(';');
                let coding = parts.next().unwrap_or_default().trim_matches([' ', '\t']);
                if coding.is_empty() {
                    continue;
                }
                let mut q = Some(1000);
                for param in parts {
                    let Some((name, value)) = param.split_once('=') else {
                        continue;
                    };
                    if name.trim_matches([' ', '\t']).eq_ignore_ascii_case("q") {
                        q = qvalue(value.trim_matches([' ', '\t']));
                    }
                }
                // A malformed weight makes the whole element unreadable: skip it.
                let Some(q) = q else { continue };
                let slot = if coding.eq_ignore_ascii_case("gzip")
                    || coding.eq_ignore_ascii_case("x-gzip")
                {
                    &mut w.gzip
                } else if coding.eq_ignore_ascii_case("deflate") {
                    &mut w.deflate
                } else if coding.eq_ignore_ascii_case("identity") {
                    &mut w.identity
                } else if coding == "*" {
                    &mut w.star
                } else {
                    continue;
                };
                *slot = Some(slot.map_or(q, |old| old.min(q)));
            }
        }
        w
    }

    /// The coding to send, or `None` for identity.
    fn choose(&self) -> Option<ContentCoding> {
        let gzip = self.gzip.or(self.star).unwrap_or(0);
        let deflate = self.deflate.or(self.star).unwrap_or(0);
        let (coding, q) = if gzip >= deflate {
            (ContentCoding::Gzip, gzip)
        } else {
            (ContentCoding::Deflate, deflate)
        };
        if q == 0 || self.identity.is_some_and(|i| i > q) {
            return None;
        }
        Some(coding)
    }
}

/// A `qvalue` (RFC 9110 §12.4.2) in thousandths: `0`, `0.5`, `1.000`...; `None` if malformed.
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The coding a request's `Accept-Encoding` lines ask for (see the module docs), or `None`
/// for identity.
pub(crate) fn negotiate<'a>(lines: impl Iterator<Item = &'a str>) -> Option<ContentCoding> {
    Weights::parse(lines).choose()
}

/// Whether a request's `Accept-Encoding` lines accept gzip at all (a weight above zero): what
/// a precompressed `.gz` file needs.
pub(crate) fn accepts_gzip<'a>(lines: impl Iterator<Item = &'a str>) -> bool {
    let w = Weights::parse(lines);
    w.gzip.or(w.star).is_some_and(|q| q > 0)
}

/// Whether a `Content-Type` is worth compressing: `text/*`, JSON, JavaScript, XML and SVG
/// (any `+json` or `+xml` type included). Parameters and case are ignored.
pub(crate) fn compressible_type(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches([' ', '\t']);
    let Some((top, sub)) = mime.split_once('/') else {
        return false;
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let ends = |s: &str, suffix: &str| {
        s.len() >= suffix.len()
            && s.get(s.len() - suffix.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
    };
    if is(top, "text") {
        return true;
    }
    if ends(sub, "+json") || ends(sub, "+xml") {
        return true;
    }
    is(top, "application")
        && ["json", "javascript", "x-javascript", "ecmascript", "xml"]
            .iter()
            .any(|t| is(sub, t))
}

/// The ETag of a compressed representation: `tag` with the coding's suffix inside its quotes,
/// `W/` kept. `None` when `tag` is not a well-formed entity-tag.
pub(crate) fn coded_etag(tag: &str, coding: ContentCoding) -> Option<String> {
    let parsed = EntityTag::parse(tag.trim_matches([' ', '\t']))?;
    let weak = if parsed.is_weak() { "W/" } else { "" };
    Some(format!(
        "{weak}\"{}{}\"",
        parsed.opaque(),
        coding.etag_suffix()
    ))
}

/// `tag` and the tags of its compressed representations: what names the current state of a
/// resource in `If-Match`.
pub(crate) fn coded_etags(tag: &str) -> [Option<String>; 2] {
    [
        coded_etag(tag, ContentCoding::Gzip),
        coded_etag(tag, ContentCoding::Deflate),
    ]
}

/// Makes the response's `Vary` name `Accept-Encoding`. Returns `true` when the response has
/// no `Vary` (the caller adds [`VARY_LINE`], which costs no allocation); otherwise merges
/// `Accept-Encoding` into the handler's value, unless it already names it or is `*`.
pub(crate) fn merge_vary(headers: &mut HeaderMap) -> bool {
    let mut any = false;
    let mut named = false;
    for value in headers.get_all("Vary") {
        any = true;
        named |= value.split(',').any(|t| {
            let t = t.trim_matches([' ', '\t']);
            t == "*" || t.eq_ignore_ascii_case("accept-encoding")
        });
    }
    if !any {
        return true;
    }
    if !named {
        let mut merged = headers
            .get_all("Vary")
            .map(|v| v.trim_matches([' ', '\t']))
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        if !merged.is_empty() {
            merged.push_str(", ");
        }
        merged.push_str("Accept-Encoding");
        headers.insert("Vary", merged);
    }
    false
}

/// Why a compressor failed (flate2 reports misuse of a stream, which Squall never does; the
/// response is abandoned if it happens).
#[derive(Debug)]
pub(crate) struct CompressFailed(String);

impl fmt::Display for CompressFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "compression failed: {}", self.0)
    }
}

/// A compressor for one coding and level, with the buffer its output goes to.
pub(crate) struct Encoder {
    coding: ContentCoding,
    level: u32,
    z: Compress,
    out: Vec<u8>,
    /// Uncompressed bytes taken since the stream started.
    taken: u64,
}

/// Output buffers above this are not kept when an encoder goes back to the pool.
const KEEP_OUT: usize = 256 * 1024;

impl Encoder {
    fn new(coding: ContentCoding, level: u32) -> Encoder {
        let l = Compression::new(level);
        let z = match coding {
            ContentCoding::Gzip => Compress::new_gzip(l, 15),
            ContentCoding::Deflate => Compress::new(l, true),
        };
        Encoder {
            coding,
            level,
            z,
            out: Vec::new(),
            taken: 0,
        }
    }

    /// Exchanges the output of the last [`compress`](Encoder::compress) with `buf`: the
    /// caller gets the output, the encoder keeps `buf`'s allocation for its next output.
    pub(crate) fn swap_output(&mut self, buf: &mut Vec<u8>) {
        std::mem::swap(&mut self.out, buf);
    }

    /// Uncompressed bytes taken since the stream started.
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// Compresses `input`; with `last` the stream ends (gzip trailer included), otherwise a
    /// sync flush makes everything so far decodable. Returns the output, which stays valid
    /// until the next call.
    pub(crate) fn compress(&mut self, input: &[u8], last: bool) -> Result<&[u8], CompressFailed> {
        self.out.clear();
        self.taken += input.len() as u64;
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let mut pos = 0;
        loop {
            // Deflate rarely expands: room for a third of the input (at least 4 KiB) is most
            // often enough in one call; otherwise the loop grows the buffer and goes on.
            let spare = self.out.capacity() - self.out.len();
            let want = ((input.len() - pos) / 3).max(4096);
            if spare < want {
                self.out.reserve(want);
            }
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .compress_vec(&input[pos..], &mut self.out, flush)
                .map_err(|e| CompressFailed(e.to_string()))?;
            pos += (self.z.total_in() - in_before) as usize;
            if status == Status::StreamEnd {
                return Ok(&self.out);
            }
            let room_left = self.out.len() < self.out.capacity();
            // A sync flush is complete when everything was taken and its output fitted with
            // room to spare; with none, more output may be pending: call again.
            if !last && pos == input.len() && room_left {
                return Ok(&self.out);
            }
            let progressed = self.z.total_in() != in_before || self.z.total_out() != out_before;
            if !progressed && room_left {
                return Err(CompressFailed("the compressor made no progress".into()));
            }
        }
    }
}

/// The compressors of one application: idle ones ready for reuse, and the count of streamed
/// responses holding one.
#[derive(Default)]
pub(crate) struct EncoderPool {
    // Boxed on purpose: an encoder moves between the pool and a response's lease (held in
    // the `Context`) as one pointer.
    #[allow(clippy::vec_box)]
    idle: RefCell<Vec<Box<Encoder>>>,
    streams: Cell<usize>,
}

/// Idle compressors kept per application (about 380 KB each).
const IDLE_MAX: usize = 4;

impl EncoderPool {
    /// A compressor for `coding` at `level`, fresh or reset, held by the returned lease until
    /// it drops. A streamed response's lease counts against `max_streams`: `None` when that
    /// many are out.
    pub(crate) fn lease(
        self: &Rc<Self>,
        coding: ContentCoding,
        options: &CompressionOptions,
        stream: bool,
    ) -> Option<Lease> {
        if stream {
            if self.streams.get() >= options.max_streams {
                return None;
            }
            self.streams.set(self.streams.get() + 1);
        }
        let level = options.level.min(9);
        let reused = {
            let mut idle = self.idle.borrow_mut();
            idle.iter()
                .position(|e| e.coding == coding && e.level == level)
                .map(|i| idle.swap_remove(i))
        };
        let encoder = match reused {
            Some(mut e) => {
                e.z.reset();
                e.taken = 0;
                e
            }
            None => Box::new(Encoder::new(coding, level)),
        };
        Some(Lease {
            encoder: Some(encoder),
            pool: self.clone(),
            stream,
        })
    }

    /// Streamed responses holding a compressor now.
    #[cfg(test)]
    pub(crate) fn streams(&self) -> usize {
        self.streams.get()
    }
}

/// A compressor lent to one response; it goes back to the pool when the lease drops, however
/// the response ends (finished, failed, or dropped with its task).
pub(crate) struct Lease {
    encoder: Option<Box<Encoder>>,
    pool: Rc<EncoderPool>,
    stream: bool,
}

impl Lease {
    /// The compressor.
    pub(crate) fn encoder(&mut self) -> Option<&mut Encoder> {
        self.encoder.as_deref_mut()
    }

    /// The coding it produces.
    pub(crate) fn coding(&self) -> Option<ContentCoding> {
        self.encoder.as_ref().map(|e| e.coding)
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("coding", &self.coding())
            .field("stream", &self.stream)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.stream {
            self.pool
                .streams
                .set(self.pool.streams.get().saturating_sub(1));
        }
        let Some(mut encoder) = self.encoder.take() else {
            return;
        };
        let mut idle = self.pool.idle.borrow_mut();
        if idle.len() < IDLE_MAX {
            if encoder.out.capacity() > KEEP_OUT {
                encoder.out = Vec::new();
            }
            encoder.out.clear();
            idle.push(encoder);
        }
    }
}

#[cfg(test)]
mod tests;
