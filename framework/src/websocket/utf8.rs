//! Incremental UTF-8 validation: a text message checked piece by piece as its fragments (or
//! its inflated output) arrive, with a sequence allowed to span two pieces.
//!
//! Built on `std::str::from_utf8`, whose error says whether the input is invalid
//! (`error_len` is `Some`) or only ends in the middle of a sequence (`None`): then up to three
//! bytes are kept and completed by the next piece. An invalid sequence is reported in the
//! piece where it becomes certain, not at the end of the message (RFC 6455 §8.1 "fail fast").

/// The state between pieces: the bytes of an unfinished sequence.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Utf8Validator {
    tail: [u8; 4],
    tail_len: u8,
}

/// Length of the sequence a lead byte starts (0 for a byte that cannot start one).
fn sequence_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// Checks the next piece. Returns `false` as soon as the text cannot be valid UTF-8.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> bool {
        if self.tail_len > 0 {
            let have = self.tail_len as usize;
            let want = sequence_len(self.tail[0]);
            let take = (want - have).min(data.len());
            self.tail[have..have + take].copy_from_slice(&data[..take]);
            let now = have + take;
            match std::str::from_utf8(&self.tail[..now]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_some() => return false,
                Err(_) => {
                    // Still unfinished (the piece was shorter than the sequence).
                    self.tail_len = now as u8;
                    return true;
                }
            }
            self.tail_len = 0;
            data = &data[take..];
        }
        match std::str::from_utf8(data) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                let rest = &data[e.valid_up_to()..];
                self.tail[..rest.len()].copy_from_slice(rest);
                self.tail_len = rest.len() as u8;
                true
            }
        }
    }

    /// Whether the text ended on a sequence boundary (call after the last piece).
    pub(crate) fn finish(&self) -> bool {
        self.tail_len == 0
    }

    /// Forgets everything (a new message).
    pub(crate) fn reset(&mut self) {
        self.tail_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_split(bytes: &[u8]) -> bool {
        let whole = std::str::from_utf8(bytes).is_ok();
        // Every split into two and into single bytes agrees with the whole check.
        for cut in 0..=bytes.len() {
            let mut v = Utf8Validator::default();
            let ok = v.feed(&bytes[..cut]) && v.feed(&bytes[cut..]) && v.finish();
            assert_eq!(ok, whole, "{bytes:x?} cut at {cut}");
        }
        let mut v = Utf8Validator::default();
        let ok = bytes.iter().all(|b| v.feed(std::slice::from_ref(b))) && v.finish();
        assert_eq!(ok, whole, "{bytes:x?} byte by byte");
        whole
    }

    #[test]
    fn agrees_with_std_on_every_split() {
        let valid: [&[u8]; 6] = [
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "\u{10ffff}\u{800}\u{7ff}\u{ffff}".as_bytes(),
            "a€b𝄞c".as_bytes(),
            &[0xf4, 0x8f, 0xbf, 0xbf],
        ];
        for v in valid {
            assert!(check_split(v));
        }
        let invalid: [&[u8]; 10] = [
            &[0xc0, 0x80],             // overlong NUL
            &[0xe0, 0x80, 0xaf],       // overlong
            &[0xed, 0xa0, 0x80],       // surrogate U+D800
            &[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
            &[0xfe],
            &[0xff],
            &[b'a', 0xe2, 0x82],       // truncated at the end
            &[0xce, 0xba, 0xe1],       // truncated
            &[0x80],                   // lone continuation
            &[0xf0, 0x9d, 0x84, b'a'], // interrupted
        ];
        for v in invalid {
            assert!(!check_split(v));
        }
    }

    #[test]
    fn fails_fast_inside_a_piece() {
        let mut v = Utf8Validator::default();
        assert!(v.feed(&[0xce, 0xba]));
        assert!(
            !v.feed(&[0xed, 0xa0]),
            "a surrogate prefix is invalid at once"
        );
        let mut v = Utf8Validator::default();
        assert!(v.feed(&[b'x', 0xf4]));
        assert!(
            !v.feed(&[0x90]),
            "above U+10FFFF is certain after two bytes"
        );
    }

    #[test]
    fn exhaustive_over_short_sequences() {
        // Every 1-3 byte string over the interesting bytes, split everywhere.
        let bytes = [
            0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5,
            0xff,
        ];
        for &a in &bytes {
            check_split(&[a]);
            for &b in &bytes {
                check_split(&[a, b]);
                for &c in &bytes {
                    check_split(&[a, b, c]);
                }
            }
        }
    }
}
