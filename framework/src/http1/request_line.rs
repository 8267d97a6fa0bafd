//! The request line (RFC 9112 §3): `method SP request-target SP HTTP-version CRLF`.
//!
//! httparse parsed it before; it is parsed here so that recognising the method, finding the
//! `?` of the target and checking the target's bytes take one pass, and so that the UTF-8
//! check of the target runs only when a byte ≥ 0x80 is present. The header fields are parsed
//! by httparse (or by `fields.rs` when they have the plain shape httparse accepts unchanged).
//!
//! ### Acceptance
//!
//! Exactly what httparse (1.10, default configuration) accepts, and the same answer for every
//! prefix (need more bytes, or refused), so a head's fate does not depend on how reads fall:
//! - method: one or more token characters (RFC 9110 §5.6.2), then one SP;
//! - request-target: one or more bytes in `0x21..=0x7E` or `0x80..=0xFF`, valid UTF-8 as a
//!   whole, then one SP;
//! - version: `HTTP/1.1` or `HTTP/1.0` (any other is refused, as soon as a byte differs);
//! - end of line: CRLF, or a bare LF if the caller allows it (`allow_bare_lf`).

use super::method::{ExtensionMethod, MethodKind, Version, TOKEN};

/// A complete, valid request line, as offsets into the buffer it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLine {
    pub(crate) method: MethodKind,
    /// The method is `buf[..method_end]`.
    pub(crate) method_end: usize,
    /// The target is `buf[target.0..target.1]`.
    pub(crate) target: (usize, usize),
    /// Length of the path: the target up to its first `?`.
    pub(crate) path_len: usize,
    pub(crate) version: Version,
    /// Bytes the line used, its line ending included (where the header fields start).
    pub(crate) len: usize,
}

/// The request line is malformed: no more bytes can make it valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadLine;

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Bit 7 set in each zero byte of `x`. Only the lowest flagged byte is sure to be zero (a
/// borrow out of it may flag bytes above), which is all the callers use.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Eight target bytes at once (`x` loaded little-endian, so lower bits are earlier bytes):
/// bit 7 set in each byte that cannot be in a target (below 0x21, or DEL), and in each `?`.
/// Only the lowest flagged byte of each mask is exact, which is all that is used.
#[inline(always)]
fn target_block(x: u64) -> (u64, u64) {
    // A byte below 0x21 borrows into its own top bit, unless it has that bit already (then it
    // is obs-text, allowed).
    let below = x.wrapping_sub(u64::from_le_bytes([0x21; 8])) & !x & HIGHS;
    let stops = below | zero_bytes(x ^ u64::from_le_bytes([0x7F; 8]));
    (stops, zero_bytes(x ^ u64::from_le_bytes([b'?'; 8])))
}

/// Parses the request line at the start of `buf` (which may hold more after it).
///
/// `Ok(None)`: the bytes so far are a valid beginning; more are needed. `Err(BadLine)`: they
/// are not, whatever follows. Leading blank lines must have been skipped by the caller.
/// `allow_bare_lf`: a LF without its CR may end the line (else it is refused).
pub(crate) fn parse_request_line(
    buf: &[u8],
    allow_bare_lf: bool,
) -> Result<Option<RequestLine>, BadLine> {
    // Method. Most requests are GETs: one comparison settles those.
    let (method, method_end) = if buf.starts_with(b"GET ") {
        (MethodKind::Get, 3)
    } else {
        let mut i = 0;
        loop {
            let Some(&b) = buf.get(i) else {
                return Ok(None);
            };
            if b == b' ' {
                break;
            }
            if !TOKEN[b as usize] {
                return Err(BadLine);
            }
            i += 1;
        }
        if i == 0 || i > ExtensionMethod::MAX_LEN {
            return Err(BadLine);
        }
        (MethodKind::from_bytes(&buf[..i]), i)
    };

    // Target: eight bytes at a time to the first byte that cannot be in it, noting the first
    // `?` and whether any byte is >= 0x80 (only then is UTF-8 checked); the last few bytes of
    // the buffer one at a time.
    let t0 = method_end + 1;
    let mut i = t0;
    let mut path_end = usize::MAX;
    let mut high = 0u64;
    let t1 = 'target: loop {
        // Sixteen bytes at a time with SSE2: bytes of 0x80 and above stop the block scan too
        // (they are allowed, but only the byte step below records them for the UTF-8 check).
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        while let Some(block) = buf.get(i..i + 16) {
            let (stops, queries) = sse2::target_block(block.try_into().expect("16 bytes"));
            if path_end == usize::MAX && queries.trailing_zeros() < stops.trailing_zeros() {
                path_end = i + queries.trailing_zeros() as usize;
            }
            if stops != 0 {
                i += stops.trailing_zeros() as usize;
                if buf[i] < 0x80 {
                    break 'target i;
                }
                break;
            }
            i += 16;
        }
        while let Some(block) = buf.get(i..i + 8) {
            let mut word = [0; 8];
            word.copy_from_slice(block);
            let x = u64::from_le_bytes(word);
            // (Bytes >= 0x80 after the stop may set `high` too: that only costs a check.)
            high |= x;
            let (stops, queries) = target_block(x);
            if stops | queries == 0 {
                i += 8;
                continue;
            }
            // A `?` counts only before the stop (bytes after it are not the target's).
            if path_end == usize::MAX && queries.trailing_zeros() < stops.trailing_zeros() {
                path_end = i + (queries.trailing_zeros() / 8) as usize;
            }
            if stops != 0 {
                break 'target i + (stops.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        // One byte, then blocks again.
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        if b.wrapping_sub(0x21) >= 0x7F - 0x21 && b < 0x80 {
            break 'target i;
        }
        if b == b'?' && path_end == usize::MAX {
            path_end = i;
        }
        high |= b as u64;
        i += 1;
    };
    if t1 == t0 || buf.get(t1) != Some(&b' ') {
        return Err(BadLine);
    }
    if high & HIGHS != 0 && std::str::from_utf8(&buf[t0..t1]).is_err() {
        return Err(BadLine);
    }

    // Version: refused as soon as a byte differs from what a valid one would have.
    let v0 = t1 + 1;
    let version = match buf.get(v0..v0 + 8) {
        Some(v) => {
            let mut word = [0; 8];
            word.copy_from_slice(v);
            match u64::from_le_bytes(word) {
                HTTP_11 => Version::Http11,
                HTTP_10 => Version::Http10,
                _ => return Err(BadLine),
            }
        }
        None => {
            // Fewer than 8 bytes: a prefix of "HTTP/1." may still become a valid version.
            return if b"HTTP/1.".starts_with(&buf[v0..]) {
                Ok(None)
            } else {
                Err(BadLine)
            };
        }
    };

    let e = v0 + 8;
    let len = match buf.get(e) {
        None => return Ok(None),
        Some(b'\n') if allow_bare_lf => e + 1,
        Some(b'\r') => match buf.get(e + 1) {
            None => return Ok(None),
            Some(b'\n') => e + 2,
            Some(_) => return Err(BadLine),
        },
        Some(_) => return Err(BadLine),
    };
    Ok(Some(RequestLine {
        method,
        method_end,
        target: (t0, t1),
        path_len: path_end.min(t1) - t0,
        version,
        len,
    }))
}

/// An `http` or `https` request-target in absolute-form (RFC 9112 §3.2.2), as offsets into the
/// target: `scheme "://" authority [path-abempty] ["?" query]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbsoluteForm {
    /// The authority (`host[:port]`) is `target[authority.0..authority.1]`.
    pub(crate) authority: (usize, usize),
    /// Where the path starts: the origin-form part (path and query) is `target[rest..]`. When
    /// the path is empty (`http://h` or `http://h?q`) that part lacks its `/`.
    pub(crate) rest: usize,
}

impl AbsoluteForm {
    /// Whether the path is empty, so that the origin-form target is `/` + `target[rest..]`.
    pub(crate) fn empty_path(&self, target: &[u8]) -> bool {
        target.get(self.rest) != Some(&b'/')
    }
}

/// Recognises an absolute-form target with the `http` or `https` scheme (case-insensitive).
/// `Ok(None)` for any other target (origin-form starts with `/`; `*` and other schemes are left
/// to routing). `Err` for an `http(s)` URI an origin server must refuse: an empty host (RFC
/// 9110 §4.2.1), userinfo (§4.2.4: "treat its presence as an error"), or an authority that is
/// not `uri-host [":" port]` (as for a Host field, RFC 9112 §3.2).
pub(crate) fn absolute_form(target: &[u8]) -> Result<Option<AbsoluteForm>, BadLine> {
    let scheme = if target.len() >= 7 && target[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else if target.len() >= 8 && target[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else {
        return Ok(None);
    };
    let end = target[scheme..]
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .map_or(target.len(), |n| scheme + n);
    let authority = &target[scheme..end];
    if authority.is_empty() || authority.contains(&b'@') || !super::host::valid_authority(authority)
    {
        return Err(BadLine);
    }
    Ok(Some(AbsoluteForm {
        authority: (scheme, end),
        rest: end,
    }))
}

/// The target scan sixteen bytes at a time with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use crate::simd::Block;

    /// Bit masks (bit n for byte n) of the bytes of `block` that stop the block scan — below
    /// 0x21, DEL, or 0x80 and above (the last are allowed; the caller looks at them one by
    /// one) — and of its `?` bytes.
    #[inline(always)]
    pub(super) fn target_block(block: &[u8; 16]) -> (u32, u32) {
        let v = Block::load(block);
        (v.below_or_del(0x21), v.eq(b'?'))
    }
}

#[cfg(test)]
mod tests;
