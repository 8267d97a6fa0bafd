//! RFC 6455 §5.2 frame headers over byte buffers: decoding (every length encoding), encoding
//! (always the minimal one) and masking.
//!
//! Pure functions over slices: the connection decodes frames where they lie in the stream's
//! read buffer and unmasks their payload there, in place.

/// Opcode of a continuation frame.
pub(crate) const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub(crate) const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub(crate) const OP_BINARY: u8 = 0x2;
/// Opcode of a Close frame.
pub(crate) const OP_CLOSE: u8 = 0x8;
/// Opcode of a Ping frame.
pub(crate) const OP_PING: u8 = 0x9;
/// Opcode of a Pong frame.
pub(crate) const OP_PONG: u8 = 0xA;

/// Largest frame header: 2 bytes, 8 of extended length, 4 of mask.
pub(crate) const MAX_HEADER: usize = 14;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) rsv1: bool,
    /// RSV2 or RSV3 (no extension Squall knows gives them a meaning).
    pub(crate) rsv23: bool,
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    /// Payload length.
    pub(crate) len: u64,
    /// Bytes of header before the payload.
    pub(crate) size: usize,
}

impl Header {
    /// Whether this is a control frame (Close, Ping, Pong or a reserved control opcode).
    pub(crate) fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Why a header cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// A 64-bit length with its most significant bit set (RFC 6455 §5.2).
    LengthTopBit,
}

/// Decodes the frame header at the start of `buf`: `Ok(None)` if it is not complete yet.
///
/// Every length encoding is accepted as RFC 6455 requires of a receiver, minimal or not; the
/// caller checks the length against its limits before any payload arrives.
#[inline]
pub(crate) fn decode_header(buf: &[u8]) -> Result<Option<Header>, HeaderError> {
    let Some(&[b0, b1]) = buf.first_chunk::<2>() else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    let (len, mut size) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u16::from_be_bytes([b[0], b[1]]) as u64, 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => {
                let n = u64::from_be_bytes(b);
                if n >> 63 != 0 {
                    return Err(HeaderError::LengthTopBit);
                }
                (n, 10)
            }
            None => return Ok(None),
        },
        n => (n as u64, 2),
    };
    let mask = if masked {
        match buf.get(size..size + 4) {
            Some(m) => {
                size += 4;
                Some([m[0], m[1], m[2], m[3]])
            }
            None => return Ok(None),
        }
    } else {
        None
    };
    Ok(Some(Header {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv23: b0 & 0x30 != 0,
        opcode: b0 & 0x0f,
        mask,
        len,
        size,
    }))
}

/// Appends a frame header with the minimal length encoding.
#[inline]
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: u8,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let b0 = (fin as u8) << 7 | (rsv1 as u8) << 6 | (opcode & 0x0f);
    let m = if mask.is_some() { 0x80 } else { 0 };
    let mut head = [0u8; MAX_HEADER];
    head[0] = b0;
    let mut n = if len < 126 {
        head[1] = m | len as u8;
        2
    } else if len <= u16::MAX as usize {
        head[1] = m | 126;
        head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        head[1] = m | 127;
        head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    if let Some(k) = mask {
        head[n..n + 4].copy_from_slice(&k);
        n += 4;
    }
    out.extend_from_slice(&head[..n]);
}

/// XORs `data` with `mask`, as if `data` began `offset` bytes into the payload (so a payload
/// can be unmasked in pieces as it arrives). Masking and unmasking are the same operation.
#[inline]
pub(crate) fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let key32 = u32::from_ne_bytes(key);
    let key64 = (key32 as u64) << 32 | key32 as u64;
    // Eight bytes at a time (the key repeats every four, so every eight too); the compiler
    // turns this loop into vector code.
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_ne_bytes(w) ^ key64;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= mask[(offset + i) % 4];
        }
    }

    #[test]
    fn masking_matches_the_definition_at_every_length_and_offset() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            for offset in 0..8 {
                let orig: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(31)).collect();
                let mut a = orig.clone();
                let mut b = orig.clone();
                apply_mask(&mut a, mask, offset);
                naive_mask(&mut b, mask, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
                apply_mask(&mut a, mask, offset);
                assert_eq!(a, orig);
            }
        }
        // In pieces: unmasking a payload split anywhere equals unmasking it whole.
        let orig: Vec<u8> = (0..100u8).collect();
        let mut whole = orig.clone();
        apply_mask(&mut whole, mask, 0);
        for split in 0..100 {
            let mut parts = orig.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, mask, 0);
            apply_mask(b, mask, split);
            assert_eq!(parts, whole);
        }
    }

    #[test]
    fn every_length_encoding_decodes_and_encoding_is_minimal() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = Vec::new();
                write_header(&mut out, true, false, OP_BINARY, len, mask);
                let expect = match len {
                    0..=125 => 2,
                    126..=65535 => 4,
                    _ => 10,
                } + if mask.is_some() { 4 } else { 0 };
                assert_eq!(out.len(), expect, "len {len}");
                let h = decode_header(&out).unwrap().unwrap();
                assert_eq!(
                    (h.len, h.size, h.mask, h.fin),
                    (len as u64, expect, mask, true)
                );
                // Every proper prefix is incomplete, never an error.
                for cut in 0..out.len() {
                    assert_eq!(decode_header(&out[..cut]), Ok(None));
                }
            }
        }
        // Non-minimal encodings are accepted: 5 in the 16-bit and the 64-bit forms.
        let h = decode_header(&[0x82, 126, 0, 5]).unwrap().unwrap();
        assert_eq!((h.len, h.size), (5, 4));
        let h = decode_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5])
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.size), (5, 10));
        // The top bit of a 64-bit length is refused.
        assert_eq!(
            decode_header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]),
            Err(HeaderError::LengthTopBit)
        );
        let h = decode_header(&[0x7f, 0x80 | 3, 9, 9, 9, 9])
            .unwrap()
            .unwrap();
        assert!(!h.fin && h.rsv1 && h.rsv23 && h.opcode == 0xf && h.is_control());
    }
}
