//! An incremental decoder for `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1).
//!
//! The decoder is a byte-level state machine: it can be fed any split of the input and keeps
//! no copy of it. Chunk extensions are accepted and ignored; trailer fields are accepted and
//! dropped. Line endings must be CRLF (a bare LF in chunk framing is a known smuggling vector,
//! so it is refused). Errors are HTTP statuses: 400 for bad framing, 413 past the body limit.
//!
//! ### The size line
//!
//! Exactly RFC 9112 §7.1's grammar, nothing after the size that it does not allow (a parser
//! that reads `5 xyz` or `5 5` as 5 frames the body differently from one that refuses it):
//!
//! ```text
//! chunk-size [ chunk-ext ] CRLF
//! chunk-size     = 1*HEXDIG
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-name = token
//! chunk-ext-val  = token / quoted-string
//! ```

/// Longest chunk-size line (size plus extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Past the size: in its extensions, at `at`.
    Ext {
        value: u64,
        at: ExtAt,
    },
    /// Saw CR ending the size line; expecting LF.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data.
    Data(u64),
    /// After chunk data: expecting CR, then LF.
    DataCr,
    DataLf,
    /// After the last chunk: at the start of a trailer line.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// CR seen at the start of a trailer line: LF ends the body.
    EndLf,
    /// CR seen inside a trailer line.
    TrailerLf,
    Done,
}

/// Where a size line's extensions are (the grammar in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtAt {
    /// Whitespace after the size, a name's whitespace, a value's: only `;` (or `=` after a
    /// name) may follow.
    AfterSize,
    AfterName,
    AfterValue,
    /// After `;`: whitespace, then a name.
    Name,
    /// Inside a name (CR may end the line here).
    InName,
    /// After `=`: whitespace, then a token or a quoted string.
    Value,
    /// Inside a token value (CR may end the line here).
    InToken,
    /// Inside a quoted string; `escaped`: just after a backslash.
    Quoted {
        escaped: bool,
    },
    /// Just after a quoted string's closing quote (CR may end the line here).
    Closed,
}

impl ExtAt {
    /// Whether the line may end (CR) here.
    fn may_end(self) -> bool {
        matches!(self, ExtAt::InName | ExtAt::InToken | ExtAt::Closed)
    }
}

/// Decodes a chunked body incrementally.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    line: usize,
    trailer_bytes: usize,
    total: u64,
    max_body: u64,
    max_trailers: usize,
}

impl ChunkedDecoder {
    pub(crate) fn new(max_body: u64, max_trailers: usize) -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line: 0,
            trailer_bytes: 0,
            total: 0,
            max_body,
            max_trailers,
        }
    }

    /// Whether the terminating chunk and trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds `input`; data bytes go to `out`. Returns how many input bytes were used (all of
    /// them unless the body ended within `input`).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), u16>,
    ) -> Result<usize, u16> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Data(left) => {
                    let n = (left as usize).min(input.len() - i);
                    out(&input[i..i + n])?;
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    continue;
                }
                State::Done => return Ok(i),
                _ => {}
            }
            let b = input[i];
            i += 1;
            self.state = match self.state {
                State::Size { value, digits } => {
                    self.line += 1;
                    if self.line > MAX_SIZE_LINE {
                        return Err(400);
                    }
                    match (b as char).to_digit(16) {
                        Some(d) => {
                            if digits >= 16 {
                                return Err(400);
                            }
                            State::Size {
                                value: value << 4 | d as u64,
                                digits: digits + 1,
                            }
                        }
                        None if digits == 0 => return Err(400),
                        None if b == b'\r' => State::SizeLf { value },
                        None => State::Ext {
                            value,
                            at: ext_step(ExtAt::AfterSize, b)?,
                        },
                    }
                }
                State::Ext { value, at } => {
                    self.line += 1;
                    if self.line > MAX_SIZE_LINE {
                        return Err(400);
                    }
                    match b {
                        b'\r' if at.may_end() => State::SizeLf { value },
                        _ => State::Ext {
                            value,
                            at: ext_step(at, b)?,
                        },
                    }
                }
                State::SizeLf { value } => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    self.line = 0;
                    if value == 0 {
                        State::TrailerStart
                    } else {
                        self.total = self.total.checked_add(value).ok_or(413u16)?;
                        if self.total > self.max_body {
                            return Err(413);
                        }
                        State::Data(value)
                    }
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(400);
                    }
                    State::DataLf
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    State::Size {
                        value: 0,
                        digits: 0,
                    }
                }
                State::TrailerStart => {
                    self.count_trailer()?;
                    match b {
                        b'\r' => State::EndLf,
                        b'\n' => return Err(400),
                        _ => State::Trailer,
                    }
                }
                State::Trailer => {
                    self.count_trailer()?;
                    match b {
                        b'\r' => State::TrailerLf,
                        b'\n' | 0 => return Err(400),
                        _ => State::Trailer,
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    State::TrailerStart
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    State::Done
                }
                State::Data(_) | State::Done => unreachable!("handled above"),
            };
            if self.state == State::Done {
                return Ok(i);
            }
        }
        Ok(i)
    }

    fn count_trailer(&mut self) -> Result<(), u16> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailers {
            Err(431)
        } else {
            Ok(())
        }
    }
}

/// The next place in a size line's extensions after byte `b` (CR is the caller's), or 400.
fn ext_step(at: ExtAt, b: u8) -> Result<ExtAt, u16> {
    use super::method::TOKEN;
    use ExtAt::*;
    let ws = b == b' ' || b == b'\t';
    let token = TOKEN[b as usize];
    Ok(match at {
        AfterSize | AfterName | AfterValue | InName | InToken | Closed if b == b';' => Name,
        AfterSize | AfterName | AfterValue | Name | Value if ws => at,
        InName if ws => AfterName,
        InToken | Closed if ws => AfterValue,
        Name | InName if token => InName,
        InName | AfterName if b == b'=' => Value,
        Value if b == b'"' => Quoted { escaped: false },
        Value | InToken if token => InToken,
        // quoted-string (RFC 9110 §5.6.4): qdtext or a quoted-pair, of HTAB, SP, VCHAR and
        // obs-text.
        Quoted { escaped: false } if b == b'"' => Closed,
        Quoted { escaped: false } if b == b'\\' => Quoted { escaped: true },
        Quoted { .. } if ws || (0x21..=0x7E).contains(&b) || b >= 0x80 => Quoted { escaped: false },
        _ => return Err(400),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), u16> {
        let mut d = ChunkedDecoder::new(1 << 20, 1024);
        let mut out = Vec::new();
        let mut used = 0;
        for chunk in input.chunks(piece) {
            let n = d.feed(chunk, &mut |b| {
                out.extend_from_slice(b);
                Ok(())
            })?;
            used += n;
            if d.is_done() {
                return Ok((out, used));
            }
        }
        Err(0)
    }

    #[test]
    fn decodes_any_split() {
        let body = b"4\r\nWiki\r\n5;ext=1;x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let (out, used) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(&body[used..], b"NEXT", "piece {piece}");
        }
    }

    #[test]
    fn rejects_bad_framing() {
        let cases: &[&[u8]] = &[
            b"x\r\n",
            b"\r\n",
            b"4\nWiki\r\n0\r\n\r\n",
            b"4\r\nWikiXX0\r\n\r\n",
            b"11111111111111111\r\n",
            b"4\r\nWiki\r\n0\r\n\n",
            b"-1\r\n",
            b"4;a\nb\r\n",
            // RFC 9112 §7.1: only `1*HEXDIG [ BWS ";" ext ]` (issue #12 item 6).
            b"5 xyz\r\n",
            b"5 5\r\n",
            b"5 \r\n",
            b"5\t\r\n",
            b"5x\r\n",
            b"0x5\r\n",
            b"+5\r\n",
            b" 5\r\n",
            b"5;\r\n",
            b"5; \r\n",
            b"5;a \r\n",
            b"5;a=\r\n",
            b"5;a= \r\n",
            b"5;a=b \r\n",
            b"5;a=b=c\r\n",
            b"5;a=b =c\r\n",
            b"5;a=\"b\r\n",
            b"5;a=\"b\"c\r\n",
            b"5;a=\"\x01\"\r\n",
            b"5;a=\"\\\x01\"\r\n",
            b"5;=b\r\n",
            b"5;a;;b\r\n",
            b"5;a(b\r\n",
            b"5;a=b(\r\n",
            b"5 ;\x01\r\n",
            b"5;a=\x7f\r\n",
        ];
        for c in cases {
            let mut d = ChunkedDecoder::new(1 << 20, 1024);
            let r = d.feed(c, &mut |_| Ok(()));
            assert_eq!(r, Err(400), "{:?}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn accepts_every_extension_form() {
        for line in [
            &b"5;a"[..],
            b"5;a=1",
            b"5 ;a=1",
            b"5\t; a = \"q\" ;b",
            b"5;a=\"\"",
            b"5;a=\"x\\\"y;z\"",
            b"5;a=\"\xc3\xa9\t \"",
            b"5;a=b;c=d ; e",
            b"5 \t ; a\t=\tb",
            b"00005",
        ] {
            let mut body = line.to_vec();
            body.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
            for piece in 1..=body.len() {
                let (out, used) = decode_in_pieces(&body, piece)
                    .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(line)));
                assert_eq!(out, b"hello");
                assert_eq!(used, body.len());
            }
        }
    }

    #[test]
    fn enforces_limits() {
        let mut d = ChunkedDecoder::new(10, 1024);
        assert_eq!(d.feed(b"b\r\n", &mut |_| Ok(())), Err(413));
        let mut d = ChunkedDecoder::new(100, 8);
        assert_eq!(
            d.feed(b"0\r\nX-Long: 123456\r\n\r\n", &mut |_| Ok(())),
            Err(431)
        );
        let mut d = ChunkedDecoder::new(100, 8);
        assert_eq!(d.feed(b"ffffffffffffffff\r\n", &mut |_| Ok(())), Err(413));
    }
}
