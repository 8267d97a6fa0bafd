//! 16-byte block tests with SSE2 (part of every x86-64 CPU, so compiled in without run-time
//! detection): the request parser's scans (`http1`) and the header policy's checks
//! (`httputil::header_policy`). Other targets use the callers' word scans.
//!
//! SAFETY (every `unsafe` block): the intrinsics' only requirement is SSE2, which the `cfg`
//! on this module's declaration guarantees; the one memory load is unaligned and reads exactly
//! the 16 bytes of the block it is given; the rest computes on registers.

use std::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
    _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    _mm_sub_epi8,
};

/// A block of 16 bytes, loaded once for the masks below.
#[derive(Clone, Copy)]
pub(crate) struct Block(__m128i);

impl Block {
    #[inline(always)]
    pub(crate) fn load(block: &[u8; 16]) -> Block {
        // SAFETY: SSE2 is enabled (this module's `cfg`), and the unaligned load reads exactly
        // the 16 bytes of `block`, a live `&[u8; 16]`.
        Block(unsafe { _mm_loadu_si128(block.as_ptr() as *const __m128i) })
    }

    /// `s` as one block of its first and last eight bytes (overlapping when shorter than 16:
    /// for tests of whether some byte is flagged), if it is 8 to 16 bytes long.
    #[inline(always)]
    pub(crate) fn load_short(s: &[u8]) -> Option<Block> {
        let n = s.len();
        if !(8..=16).contains(&n) {
            return None;
        }
        let word = |c: &[u8]| i64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        // SAFETY: SSE2 is enabled (this module's `cfg`); the intrinsic builds a register from
        // two integers and reads no memory.
        Some(Block(unsafe {
            _mm_set_epi64x(word(&s[n - 8..]), word(&s[..8]))
        }))
    }

    /// Bit `i` set when byte `i` is below `limit`, comparing unsigned (0x80 and above are not
    /// below).
    #[inline(always)]
    pub(crate) fn below_unsigned(self, limit: u8) -> u32 {
        // SAFETY: SSE2 is enabled (this module's `cfg`); these intrinsics compute on registers
        // only and read no memory.
        unsafe {
            // Bytes at or above the limit are those the max leaves unchanged.
            let at_least = _mm_cmpeq_epi8(_mm_max_epu8(self.0, _mm_set1_epi8(limit as i8)), self.0);
            !(_mm_movemask_epi8(at_least) as u32) & 0xffff
        }
    }

    /// Bit `i` set when byte `i` is below `limit` (at most 0x7F), DEL, or 0x80 and above: a
    /// signed compare makes the high bytes negative, so they count as "below" too.
    #[inline(always)]
    pub(crate) fn below_or_del(self, limit: u8) -> u32 {
        // SAFETY: SSE2 is enabled (this module's `cfg`); these intrinsics compute on registers
        // only and read no memory.
        unsafe {
            let low = _mm_cmplt_epi8(self.0, _mm_set1_epi8(limit as i8));
            let del = _mm_cmpeq_epi8(self.0, _mm_set1_epi8(0x7f));
            _mm_movemask_epi8(_mm_or_si128(low, del)) as u32
        }
    }

    /// Masks of the bytes that are letters, digits, `-` or `.` (a host name's common bytes),
    /// of the digits and of the colons (for the `Host` check).
    #[inline(always)]
    pub(crate) fn host_classes(self) -> (u32, u32, u32) {
        // SAFETY: SSE2 is enabled (this module's `cfg`); these intrinsics compute on registers
        // only and read no memory.
        unsafe {
            // `lo..=hi` (both below 0x7F) by signed compares: bytes of 0x80 and above are
            // negative, so in no range.
            let range = |x: __m128i, lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
                )
            };
            let digits = range(self.0, b'0', b'9');
            // Setting bit 5 maps exactly `A..=Z` and `a..=z` into `a..=z`.
            let letters = range(_mm_or_si128(self.0, _mm_set1_epi8(0x20)), b'a', b'z');
            let name = _mm_or_si128(_mm_or_si128(digits, letters), range(self.0, b'-', b'.'));
            (
                _mm_movemask_epi8(name) as u32,
                _mm_movemask_epi8(digits) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(b':' as i8))) as u32,
            )
        }
    }

    /// Bit `i` set when byte `i` equals byte `i` of `other`.
    #[inline(always)]
    pub(crate) fn eq_block(self, other: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is enabled (this module's `cfg`); the unaligned load reads exactly the
        // 16 bytes of `other`, a live `&[u8; 16]`; the rest computes on registers.
        unsafe {
            let o = _mm_loadu_si128(other.as_ptr() as *const __m128i);
            _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, o)) as u32
        }
    }

    /// Bit `i` set when byte `i` is `b`.
    #[inline(always)]
    pub(crate) fn eq(self, b: u8) -> u32 {
        // SAFETY: SSE2 is enabled (this module's `cfg`); these intrinsics compute on registers
        // only and read no memory.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(b as i8))) as u32 }
    }

    /// Bit `i` set when byte `i` is not an RFC 9110 `tchar` (ASCII letters, digits and
    /// ``!#$%&'*+-.^_`|~``): a control, space, DEL, a byte from 0x80, or one of the separators
    /// `"(),/:;<=>?@[\]{}`.
    #[inline(always)]
    pub(crate) fn non_tchar(self) -> u32 {
        let x = self.0;
        // SAFETY: SSE2 is enabled (this module's `cfg`); these intrinsics compute on registers
        // only and read no memory.
        unsafe {
            let byte = |b: u8| _mm_set1_epi8(b as i8);
            let eq = |b: u8| _mm_cmpeq_epi8(x, byte(b));
            // lo..=hi, unsigned: x - lo (wrapping) is at most hi - lo.
            let range = |lo: u8, hi: u8| {
                let d = _mm_sub_epi8(x, byte(lo));
                _mm_cmpeq_epi8(_mm_min_epu8(d, byte(hi - lo)), d)
            };
            // Signed, 0x80 and above are negative: below 0x21 takes them with the controls.
            let mut bad = _mm_or_si128(_mm_cmplt_epi8(x, byte(0x21)), eq(0x7f));
            bad = _mm_or_si128(bad, _mm_or_si128(eq(b'"'), range(b'(', b')')));
            bad = _mm_or_si128(bad, _mm_or_si128(eq(b','), eq(b'/')));
            bad = _mm_or_si128(bad, _mm_or_si128(range(b':', b'@'), range(b'[', b']')));
            bad = _mm_or_si128(bad, _mm_or_si128(eq(b'{'), eq(b'}')));
            _mm_movemask_epi8(bad) as u32
        }
    }
}
