//! The common shape of a header-field block, recognised without httparse.
//!
//! Almost every request's fields are plain `name: value` lines: a token name, a colon,
//! optional whitespace, a value of visible ASCII (with spaces or tabs inside), CRLF, and a
//! blank CRLF line at the end. [`plain_fields`] recognises exactly such blocks, in one pass
//! that records each field's spans as it goes. Anything else — a byte outside those classes
//! (obs-text, control characters, DEL), a bare LF, whitespace before a colon, a line that
//! does not start with a token character, an incomplete block, more than
//! [`MAX_HEADERS`](super::parts::MAX_HEADERS) fields — makes it answer `None`, and httparse
//! parses the block and decides, as it did before this fast path existed.
//!
//! Every block this accepts, httparse accepts too, with the same spans (pinned by the tests,
//! which compare the two on generated blocks and on every one-byte change of them): httparse
//! stays the judge of everything outside the common shape.

use super::method::TOKEN;
use super::parts::{Span, MAX_HEADERS};

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Bit 7 set in each byte of `x` that cannot continue a plain field value: below 0x20 (CR,
/// LF, HTAB, other controls), DEL, or 0x80 and above. Only the lowest flagged byte is exact
/// (a borrow may flag bytes above it), which is all that is used.
#[inline(always)]
fn value_stops(x: u64) -> u64 {
    let below = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    let del = {
        let y = x ^ (ONES * 0x7F);
        y.wrapping_sub(ONES) & !y & HIGHS
    };
    below | del | (x & HIGHS)
}

/// Looks at the next block of value bytes from `i` (16 with SSE2, else 8): how many of them are
/// plain, and whether that is the whole block. `None` when fewer than 8 bytes remain.
#[inline(always)]
fn plain_block(fields: &[u8], i: usize) -> Option<(usize, bool)> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(block) = fields.get(i..i + 16) {
        return Some(
            match sse2::value_stop(block.try_into().expect("16 bytes")) {
                None => (16, true),
                Some(at) => (at as usize, false),
            },
        );
    }
    let mut word = [0; 8];
    word.copy_from_slice(fields.get(i..i + 8)?);
    let stops = value_stops(u64::from_le_bytes(word));
    Some(match stops {
        0 => (8, true),
        _ => ((stops.trailing_zeros() / 8) as usize, false),
    })
}

/// Parses a plain field block at the start of `fields` (which may hold more after it; it
/// starts `offset` bytes into the head), pushing each field's (name, value) spans, relative to
/// the head, onto `out`. Returns the block's length (its final blank line included), or `None`
/// when the block is not plain (see the module docs): `out` is then to be discarded.
pub(crate) fn plain_fields(
    fields: &[u8],
    offset: usize,
    out: &mut Vec<(Span, Span)>,
) -> Option<usize> {
    let span = |a: usize, b: usize| ((offset + a) as u32, (offset + b) as u32);
    let mut i = 0;
    loop {
        // A line: the blank one that ends the block, or `name ":"`.
        match fields.get(i) {
            Some(b'\r') => {
                return (fields.get(i + 1) == Some(&b'\n')).then_some(i + 2);
            }
            Some(&b) if TOKEN[b as usize] => {}
            _ => return None,
        }
        let name0 = i;
        i += 1;
        while TOKEN[*fields.get(i)? as usize] {
            i += 1;
        }
        if fields[i] != b':' {
            return None;
        }
        let name = (name0, i);
        i += 1;
        // Whitespace after the colon is not part of the value.
        while matches!(fields.get(i)?, b' ' | b'\t') {
            i += 1;
        }
        let value0 = i;
        // The value, to its CR: a block at a time, then one byte at a time.
        let cr = loop {
            match plain_block(fields, i) {
                Some((n, true)) => {
                    i += n;
                    continue;
                }
                Some((n, false)) => i += n,
                None => {}
            }
            match *fields.get(i)? {
                b'\r' => break i,
                b'\t' | 0x20..=0x7E => i += 1,
                _ => return None,
            }
        };
        if *fields.get(cr + 1)? != b'\n' {
            return None;
        }
        // Trailing whitespace is not part of the value either (an empty value sits at the CR).
        let mut value1 = cr;
        while value1 > value0 && matches!(fields[value1 - 1], b' ' | b'\t') {
            value1 -= 1;
        }
        // More fields than a request may have: httparse refuses them (431). Checked per
        // field, so the span list (kept by the request pool) never grows past the limit.
        if out.len() == MAX_HEADERS {
            return None;
        }
        out.push((span(name.0, name.1), span(value0, value1)));
        i = cr + 2;
    }
}

/// The value scan sixteen bytes at a time with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use crate::simd::Block;

    /// Offset of the first byte of `block` that cannot continue a plain field value (below
    /// 0x20, DEL, or 0x80 and above), if any.
    #[inline(always)]
    pub(super) fn value_stop(block: &[u8; 16]) -> Option<u32> {
        let mask = Block::load(block).below_or_del(0x20);
        (mask != 0).then(|| mask.trailing_zeros())
    }
}

#[cfg(test)]
mod tests;
