//! The client side of the wire after a response head: its body, decoded by [`BodyDecoder`]
//! as the head framed it ([`BodyFraming`], decided by `response_parse.rs`): Content-Length,
//! chunked (the server's [`ChunkedDecoder`]) or close-delimited, from whatever pieces it
//! arrives in, keeping no copy of it.
//!
//! ### Limits
//!
//! A body past its limit is refused as soon as that is known: at once for a declared
//! Content-Length, when the size line says so for a chunk, and for a close-delimited body
//! after exactly the limit's bytes, however the input was cut (chunked trailers have a limit
//! of their own).

use super::chunked::ChunkedDecoder;

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body: a response to HEAD, a 1xx, 204 or 304, or `Content-Length: 0`.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// Why a response body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Longer than the body limit (or its trailers longer than theirs).
    TooLarge,
    /// Bad chunked framing.
    Bad(&'static str),
    /// The input ended before the body did.
    Truncated {
        /// Body bytes received.
        received: u64,
        /// The declared length, if there was one.
        expected: Option<u64>,
    },
}

#[derive(Debug)]
enum Decoding {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

/// Decodes a response body from whatever pieces it arrives in, keeping no copy of it.
#[derive(Debug)]
pub(crate) struct BodyDecoder {
    decoding: Decoding,
    received: u64,
    expected: Option<u64>,
    max_body: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`, refusing more than `max_body` bytes of it and
    /// more than `max_trailers` bytes of chunked trailers.
    ///
    /// # Errors
    ///
    /// [`BodyError::TooLarge`] at once for a declared length over `max_body`.
    pub(crate) fn new(
        framing: BodyFraming,
        max_body: u64,
        max_trailers: usize,
    ) -> Result<BodyDecoder, BodyError> {
        let (decoding, expected) = match framing {
            BodyFraming::Empty => (Decoding::Done, None),
            BodyFraming::Length(n) if n > max_body => return Err(BodyError::TooLarge),
            BodyFraming::Length(n) => (Decoding::Length(n), Some(n)),
            BodyFraming::Chunked => (
                Decoding::Chunked(ChunkedDecoder::new(max_body, max_trailers)),
                None,
            ),
            BodyFraming::UntilClose => (Decoding::UntilClose, None),
        };
        Ok(BodyDecoder {
            decoding,
            received: 0,
            expected,
            max_body,
        })
    }

    /// Whether the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.decoding, Decoding::Done)
    }

    /// Body bytes decoded so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Decodes from `input`, handing body bytes to `out`; returns how many input bytes were
    /// used (all of them unless the body ended inside `input`).
    ///
    /// # Errors
    ///
    /// Bad chunked framing, or the body over its limit.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<usize, BodyError> {
        let received = &mut self.received;
        match &mut self.decoding {
            Decoding::Done => Ok(0),
            Decoding::Length(left) => {
                let n = (*left).min(input.len() as u64) as usize;
                out(&input[..n]);
                *left -= n as u64;
                *received += n as u64;
                if *left == 0 {
                    self.decoding = Decoding::Done;
                }
                Ok(n)
            }
            Decoding::Chunked(decoder) => {
                let used = decoder
                    .feed(input, &mut |data| {
                        *received += data.len() as u64;
                        out(data);
                        Ok(())
                    })
                    .map_err(|status| match status {
                        413 | 431 => BodyError::TooLarge,
                        _ => BodyError::Bad("bad chunked framing"),
                    })?;
                if decoder.is_done() {
                    self.decoding = Decoding::Done;
                }
                Ok(used)
            }
            Decoding::UntilClose => {
                // The bytes up to the limit, then the error: the same body whatever the
                // pieces (refusing a piece that crosses the limit whole would depend on them).
                let room = self.max_body - *received;
                let n = (input.len() as u64).min(room) as usize;
                out(&input[..n]);
                *received += n as u64;
                if n < input.len() {
                    return Err(BodyError::TooLarge);
                }
                Ok(n)
            }
        }
    }

    /// The input ended cleanly (the server closed): completes a close-delimited body.
    ///
    /// # Errors
    ///
    /// [`BodyError::Truncated`] for any other body not yet complete.
    pub(crate) fn end_of_input(&mut self) -> Result<(), BodyError> {
        match self.decoding {
            Decoding::Done => Ok(()),
            Decoding::UntilClose => {
                self.decoding = Decoding::Done;
                Ok(())
            }
            Decoding::Length(_) | Decoding::Chunked(_) => Err(BodyError::Truncated {
                received: self.received,
                expected: self.expected,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(framing: BodyFraming, input: &[u8], piece: usize) -> Result<Vec<u8>, BodyError> {
        let mut d = BodyDecoder::new(framing, 100, 100)?;
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            let used = d.feed(chunk, &mut |b| out.extend_from_slice(b))?;
            if d.is_done() {
                assert!(used <= chunk.len());
                return Ok(out);
            }
            assert_eq!(used, chunk.len());
        }
        d.end_of_input()?;
        Ok(out)
    }

    #[test]
    fn decodes_bodies_in_any_pieces() {
        for piece in 1..12 {
            assert_eq!(
                decode(BodyFraming::Length(5), b"helloEXTRA", piece).unwrap(),
                b"hello"
            );
            assert_eq!(
                decode(
                    BodyFraming::Chunked,
                    b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\nX",
                    piece
                )
                .unwrap(),
                b"hello"
            );
            assert_eq!(
                decode(BodyFraming::UntilClose, b"hello", piece).unwrap(),
                b"hello"
            );
        }
    }

    #[test]
    fn truncated_and_oversized_bodies_are_errors() {
        assert_eq!(
            decode(BodyFraming::Length(10), b"hello", 3),
            Err(BodyError::Truncated {
                received: 5,
                expected: Some(10)
            })
        );
        assert!(matches!(
            decode(BodyFraming::Chunked, b"5\r\nhello\r\n", 4),
            Err(BodyError::Truncated { received: 5, .. })
        ));
        assert_eq!(
            BodyDecoder::new(BodyFraming::Length(101), 100, 100).err(),
            Some(BodyError::TooLarge)
        );
        assert_eq!(
            decode(BodyFraming::UntilClose, &[b'x'; 101], 7),
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            decode(BodyFraming::Chunked, b"65\r\n", 7),
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            decode(BodyFraming::Chunked, b"z\r\n", 7),
            Err(BodyError::Bad("bad chunked framing"))
        );
    }
}
