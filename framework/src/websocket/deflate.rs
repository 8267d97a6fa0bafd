//! permessage-deflate (RFC 7692): negotiating its four parameters, and compressing and
//! inflating messages with flate2's raw deflate (backend `zlib-rs`, which, unlike the default
//! `miniz_oxide`, takes a window size: `server_max_window_bits` needs one).
//!
//! ### Negotiation (server side)
//!
//! The client's offers are tried in order and the first valid one is accepted. An offer with
//! an unknown parameter, a duplicate, a value on a flag, or a window size outside 8..=15 is
//! declined (RFC 7692 §5.1), and so is `server_max_window_bits=8`: zlib cannot deflate with a
//! 256-byte window (it would use 512 bytes, more than the client allows). The response echoes
//! `server_no_context_takeover`, `server_max_window_bits` and `client_no_context_takeover`
//! when offered, and never names `client_max_window_bits`: the server inflates with the
//! largest window, which reads whatever the client's compressor produced.
//!
//! ### Bounded inflation
//!
//! A message is inflated into a buffer that may not grow past the maximum message size: a
//! small frame cannot become a memory bomb. Inflating stops, and the message is refused, as
//! soon as the output would pass the limit.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The four bytes every compressed message ends with on the wire-less side: an empty stored
/// block that RFC 7692 §7.2.1 removes before sending and the receiver adds back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How a WebSocket handler wants messages compressed (Tornado's `get_compression_options`).
///
/// # Examples
///
/// ```
/// use squall::websocket::CompressionOptions;
/// let fast = CompressionOptions { level: 1, ..CompressionOptions::default() };
/// assert_eq!(CompressionOptions::default().level, 6);
/// assert_eq!(fast.level, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressionOptions {
    /// zlib compression level, 0 (stored) to 9 (smallest); default 6.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (RSV1 clear); default
    /// [`DEFAULT_MIN_LENGTH`] (256 bytes). Compressing a message costs a fixed ~75,000
    /// instructions below 1 KiB (zlib-rs), 50 times the whole echo of an uncompressed 32-byte
    /// message, and saves little on short ones (a 32-byte text shrinks by about 24 bytes with
    /// context takeover, by 4 without). 0 compresses everything (Tornado's behaviour).
    pub min_length: usize,
}

/// The default [`CompressionOptions::min_length`]: from 256 bytes on, a text message with
/// context takeover compresses to about a fifth and saves some 200 bytes, which pays for
/// the fixed cost of compressing it; below, messages go out as they are.
pub const DEFAULT_MIN_LENGTH: usize = 256;

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            level: 6,
            min_length: DEFAULT_MIN_LENGTH,
        }
    }
}

/// The parameters both sides agreed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server its inflater).
    pub(crate) client_no_context_takeover: bool,
    /// The server's window, 9..=15 (15 when not negotiated).
    pub(crate) server_max_window_bits: u8,
    /// The client's window, 8..=15 (15 when not negotiated).
    pub(crate) client_max_window_bits: u8,
}

/// One parameter as sent: its name and optional value (unquoted).
fn parse_param(p: &str) -> Option<(&str, Option<&str>)> {
    let p = p.trim();
    match p.split_once('=') {
        None => Some((p, None)),
        Some((k, v)) => {
            let v = v.trim();
            let v = match v.strip_prefix('"') {
                Some(q) => q.strip_suffix('"')?,
                None => v,
            };
            Some((k.trim(), Some(v)))
        }
    }
}

/// A window size: decimal 8..=15 without leading zeros.
fn window_bits(v: &str) -> Option<u8> {
    if v.is_empty() || v.len() > 2 || v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u8 = v.parse().ok()?;
    (8..=15).contains(&n).then_some(n)
}

/// Reads one offer's parameters (the part after `permessage-deflate;`). `None` if the offer
/// must be declined.
fn parse_offer<'a>(params: impl Iterator<Item = &'a str>) -> Option<Agreed> {
    // zlib cannot deflate with a 256-byte window.
    parse_params(params, true).filter(|a| a.server_max_window_bits >= 9)
}

/// The four RFC 7692 parameters, each at most once. `in_offer`: a client's offer, where
/// `client_max_window_bits` may come without a value (a server's response must give one).
fn parse_params<'a>(params: impl Iterator<Item = &'a str>, in_offer: bool) -> Option<Agreed> {
    let mut a = Agreed {
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        ..Agreed::default()
    };
    let mut seen = [false; 4];
    for p in params {
        let (k, v) = parse_param(p)?;
        let i = match k.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if v.is_none() => {
                a.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" if v.is_none() => {
                a.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                a.server_max_window_bits = window_bits(v?)?;
                2
            }
            "client_max_window_bits" => {
                match v {
                    Some(v) => a.client_max_window_bits = window_bits(v)?,
                    None if in_offer => {}
                    None => return None,
                }
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
    }
    Some(a)
}

/// Picks the first acceptable permessage-deflate offer among the `Sec-WebSocket-Extensions`
/// header values. Returns what was agreed and the response header value.
pub(crate) fn negotiate<'a>(offers: impl Iterator<Item = &'a str>) -> Option<(Agreed, String)> {
    for value in offers {
        for offer in value.split(',') {
            let mut parts = offer.split(';');
            let name = parts.next().unwrap_or("").trim();
            if !name.eq_ignore_ascii_case("permessage-deflate") {
                continue;
            }
            let Some(a) = parse_offer(parts.clone()) else {
                continue;
            };
            // Whether the offer named a server window (then the response must too).
            let named_window = parts.any(|p| {
                parse_param(p)
                    .is_some_and(|(k, _)| k.eq_ignore_ascii_case("server_max_window_bits"))
            });
            let mut response = String::from("permessage-deflate");
            if a.server_no_context_takeover {
                response.push_str("; server_no_context_takeover");
            }
            if a.client_no_context_takeover {
                response.push_str("; client_no_context_takeover");
            }
            if named_window {
                response.push_str(&format!(
                    "; server_max_window_bits={}",
                    a.server_max_window_bits
                ));
            }
            return Some((a, response));
        }
    }
    None
}

/// Parses a server's response to the client's offer (client side). `None` if the response is
/// not one the client's offer allows.
pub(crate) fn parse_response(value: &str) -> Option<Agreed> {
    let mut parts = value.split(';');
    let name = parts.next()?.trim();
    if !name.eq_ignore_ascii_case("permessage-deflate") || value.contains(',') {
        return None;
    }
    parse_params(parts, false)
}

/// The sending side: compresses whole messages.
pub(crate) struct Deflater {
    z: Compress,
    no_context_takeover: bool,
    pub(crate) min_length: usize,
}

impl Deflater {
    /// A compressor with `window_bits` (9..=15) at `level`.
    pub(crate) fn new(
        level: u32,
        window_bits: u8,
        no_context_takeover: bool,
        min_length: usize,
    ) -> Deflater {
        Deflater {
            z: Compress::new_with_window_bits(
                Compression::new(level.min(9)),
                false,
                window_bits.clamp(9, 15),
            ),
            no_context_takeover,
            min_length,
        }
    }

    /// Appends `data` compressed, without the final `00 00 ff ff` (RFC 7692 §7.2.1), to `out`.
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let mut input = data;
        loop {
            out.reserve(input.len() / 2 + 64);
            let before_in = self.z.total_in();
            // Sync flush: the message ends on a byte boundary with an empty stored block.
            let status = self.z.compress_vec(input, out, FlushCompress::Sync);
            let used = (self.z.total_in() - before_in) as usize;
            input = &input[used..];
            match status {
                Ok(_) if input.is_empty() && out.len() < out.capacity() => break,
                Ok(_) => continue,
                // Unreachable with valid parameters; fall back to an empty block.
                Err(_) => {
                    out.truncate(start);
                    out.extend_from_slice(&[0x02, 0x00]);
                    self.z.reset();
                    return;
                }
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.len() == start {
            // Nothing new since the last flush (an empty message: zlib skips a second flush
            // marker). RFC 7692 §7.2.3.6: an empty message is the single byte 0x00, an empty
            // stored block's header that the receiver's added tail completes.
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.z.reset();
        }
    }
}

/// Why a compressed message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates past the maximum message size.
    TooBig,
    /// It is not valid deflate data.
    Invalid,
}

/// The receiving side: inflates messages piece by piece into a bounded buffer.
pub(crate) struct Inflater {
    z: Decompress,
    no_context_takeover: bool,
    /// The stream ended (a final block): the next message starts a fresh one.
    ended: bool,
}

impl Inflater {
    /// An inflater reading any window (it uses the largest; `no_context_takeover` resets it
    /// after every message).
    pub(crate) fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            z: Decompress::new_with_window_bits(false, 15),
            no_context_takeover,
            ended: false,
        }
    }

    /// Inflates a piece of a message onto `out`, which may not grow past `max` bytes.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), InflateError> {
        loop {
            if self.ended && !input.is_empty() {
                // Data after a final block is not deflate data.
                return Err(InflateError::Invalid);
            }
            // One byte past the limit tells "exactly max" from "more".
            let room = max.saturating_sub(out.len()).saturating_add(1);
            let want = (input.len().saturating_mul(4))
                .clamp(256, 64 * 1024)
                .min(room);
            let len = out.len();
            out.resize(len + want, 0);
            let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(input, &mut out[len..], FlushDecompress::None);
            let produced = (self.z.total_out() - before_out) as usize;
            let used = (self.z.total_in() - before_in) as usize;
            out.truncate(len + produced);
            let status = status.map_err(|_| InflateError::Invalid)?;
            input = &input[used..];
            if out.len() > max {
                return Err(InflateError::TooBig);
            }
            match status {
                Status::StreamEnd => self.ended = true,
                // No progress with input left: not deflate data we can read.
                Status::BufError if !input.is_empty() && used == 0 && produced == 0 => {
                    return Err(InflateError::Invalid)
                }
                _ => {}
            }
            // Done when the input is used up and the output did not fill (nothing pending).
            if input.is_empty() && produced < want {
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the removed tail and, without context takeover, resets.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), InflateError> {
        let r = if self.ended {
            Ok(())
        } else {
            self.inflate(&TAIL, out, max)
        };
        if self.no_context_takeover || self.ended || r.is_err() {
            self.z.reset(false);
            self.ended = false;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(s: &str) -> Option<String> {
        negotiate(std::iter::once(s)).map(|(_, r)| r)
    }

    #[test]
    fn negotiation_accepts_valid_offers_and_declines_the_rest() {
        assert_eq!(
            offer("permessage-deflate").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=10").as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=\"12\"; client_max_window_bits=9")
                .as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(offer(bad), None, "{bad}");
        }
        // A later valid offer in the same header, or in another header line, is taken.
        assert_eq!(
            offer("permessage-deflate; foo=1, permessage-deflate; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        let (a, _) =
            negotiate(["foo", "permessage-deflate; server_max_window_bits=9"].into_iter()).unwrap();
        assert_eq!(a.server_max_window_bits, 9);
    }

    #[test]
    fn client_reads_responses() {
        let a = parse_response(
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
        )
        .unwrap();
        assert_eq!(
            (a.server_max_window_bits, a.client_no_context_takeover),
            (10, true)
        );
        assert_eq!(parse_response("permessage-deflate; bogus"), None);
        assert_eq!(
            parse_response("permessage-deflate, permessage-deflate"),
            None
        );
    }

    fn roundtrip(level: u32, bits: u8, sn: bool, messages: &[Vec<u8>]) {
        let mut d = Deflater::new(level, bits, sn, 0);
        let mut i = Inflater::new(sn);
        for m in messages {
            let mut wire = Vec::new();
            d.compress(m, &mut wire);
            assert!(!wire.ends_with(&TAIL));
            let mut out = Vec::new();
            // In pieces of 7 bytes.
            for piece in wire.chunks(7) {
                i.inflate(piece, &mut out, usize::MAX).unwrap();
            }
            i.finish(&mut out, usize::MAX).unwrap();
            assert_eq!(&out, m);
            if sn {
                // Without context takeover every message inflates on its own.
                let mut fresh = Inflater::new(true);
                let mut alone = Vec::new();
                fresh.inflate(&wire, &mut alone, usize::MAX).unwrap();
                fresh.finish(&mut alone, usize::MAX).unwrap();
                assert_eq!(&alone, m);
            }
        }
    }

    #[test]
    fn messages_roundtrip_with_and_without_context_takeover() {
        let text: Vec<u8> = b"Hello, WebSocket! ".repeat(200);
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let msgs = vec![text.clone(), Vec::new(), noise, text, b"x".to_vec()];
        for bits in [9, 12, 15] {
            for sn in [false, true] {
                roundtrip(6, bits, sn, &msgs);
            }
        }
        roundtrip(0, 15, false, &msgs);
        roundtrip(9, 15, true, &msgs);
    }

    #[test]
    fn context_takeover_makes_repeats_smaller() {
        let m = b"the same message, again and again, compresses to a back-reference".to_vec();
        let mut d = Deflater::new(6, 15, false, 0);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        d.compress(&m, &mut a);
        d.compress(&m, &mut b);
        assert!(b.len() < a.len() / 2, "{} vs {}", b.len(), a.len());
    }

    #[test]
    fn inflation_is_bounded() {
        let bomb = vec![0u8; 10 << 20];
        let mut d = Deflater::new(9, 15, false, 0);
        let mut wire = Vec::new();
        d.compress(&bomb, &mut wire);
        assert!(wire.len() < 20_000);
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        let r = i
            .inflate(&wire, &mut out, 1 << 20)
            .and_then(|()| i.finish(&mut out, 1 << 20));
        assert_eq!(r, Err(InflateError::TooBig));
        // (Growth doubles: bounded by twice the limit plus one inflation step.)
        assert!(
            out.capacity() <= 2 * ((1 << 20) + 64 * 1024),
            "{}",
            out.capacity()
        );
        // Exactly the limit is accepted.
        let exact = vec![7u8; 1 << 20];
        let mut wire = Vec::new();
        Deflater::new(6, 15, true, 0).compress(&exact, &mut wire);
        let mut i = Inflater::new(true);
        let mut out = Vec::new();
        i.inflate(&wire, &mut out, 1 << 20).unwrap();
        i.finish(&mut out, 1 << 20).unwrap();
        assert_eq!(out, exact);
        // Garbage is refused.
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        let r = i
            .inflate(&[0xff; 16], &mut out, 1 << 20)
            .and_then(|()| i.finish(&mut out, 1 << 20));
        assert_eq!(r, Err(InflateError::Invalid));
    }
}
