//! The receiving state machine (RFC 6455 §5, §7 and RFC 7692 §6): pure code over byte
//! slices, shared by the server and the client, with the [`Role`] that tells them apart. The
//! sending side, the message encoder, is `writer.rs`.
//!
//! [`Reader::step`] takes the unread input (the stream's read buffer, lent mutably), decodes
//! at most one frame's worth and says how many bytes it consumed and what happened. It checks
//! every rule of the frame layer before the payload is looked at: reserved bits and opcodes,
//! masking by role, control-frame rules, fragmentation order, and the message size limit,
//! which is enforced from the declared length, so a frame that announces too much is refused
//! before its payload arrives.
//!
//! ### Where payloads go
//!
//! A whole unfragmented, uncompressed message that is in the input is unmasked in place and
//! handed out as a slice of the input: no copy and no allocation. Anything else (fragments,
//! compressed messages, frames too large to wait for whole) is unmasked in place and appended
//! (or inflated) into the reader's message buffer, taken from the loop's buffer pool for the
//! message and given back after it. Frames up to [`INPLACE_MAX`] bytes are waited for whole;
//! larger ones are consumed piece by piece as they arrive, so the read buffer never needs to
//! hold more than that.

use super::deflate::{InflateError, Inflater};
use super::frame::{
    apply_mask, decode_header, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use super::utf8::Utf8Validator;
use crate::ioloop::IOLoop;

/// Frames up to this size (header included) are decoded only once whole in the input.
pub(crate) const INPLACE_MAX: usize = 64 * 1024;

/// Which end of the connection this is: it decides which way frames must be masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Frames from the peer must be masked; ours are not.
    Server,
    /// Frames from the peer must not be masked; ours are.
    Client,
}

/// What a step found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// A complete text message (valid UTF-8).
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A Ping and its payload.
    Ping(&'a [u8]),
    /// A Pong and its payload.
    Pong(&'a [u8]),
    /// A Close: its code (none for an empty payload) and reason.
    Close(Option<u16>, &'a str),
}

/// The outcome of [`Reader::step`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// `n` bytes of input were consumed; an event happened or not.
    Progress(usize, Option<Event<'a>>),
    /// Nothing can be done before more input arrives.
    NeedMore,
    /// The peer broke the protocol: fail the connection with this close code.
    Fail(u16, &'static str),
}

/// Whether a code may appear in a Close frame (RFC 6455 §7.4, IANA registry).
pub(crate) fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A message being assembled.
#[derive(Clone, Copy, Debug)]
struct Message {
    text: bool,
    compressed: bool,
    /// Payload bytes received so far (compressed, for a compressed message).
    wire_len: usize,
}

/// A frame whose payload is arriving piece by piece.
#[derive(Clone, Copy, Debug)]
struct Streaming {
    fin: bool,
    remaining: u64,
    mask: Option<[u8; 4]>,
    offset: usize,
}

/// The receiving side of one connection.
pub(crate) struct Reader {
    role: Role,
    max_message: usize,
    inflater: Option<Inflater>,
    message: Option<Message>,
    frame: Option<Streaming>,
    buf: Vec<u8>,
    utf8: Utf8Validator,
    /// Bytes of `buf` (inflated text) already run through `utf8`.
    validated: usize,
    pool: Option<IOLoop>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("role", &self.role)
            .field("max_message", &self.max_message)
            .field("message", &self.message)
            .finish()
    }
}

impl Reader {
    /// A reader for `role`, refusing messages over `max_message` bytes; `inflater` when
    /// permessage-deflate was agreed; `pool` lends the message buffers.
    pub(crate) fn new(
        role: Role,
        max_message: usize,
        inflater: Option<Inflater>,
        pool: Option<IOLoop>,
    ) -> Reader {
        Reader {
            role,
            max_message,
            inflater,
            message: None,
            frame: None,
            buf: Vec::new(),
            utf8: Utf8Validator::default(),
            validated: 0,
            pool,
        }
    }

    /// Gives the message buffer back to the pool between messages (an idle connection then
    /// holds none).
    pub(crate) fn release(&mut self) {
        if self.message.is_none() && self.buf.capacity() > 0 {
            let buf = std::mem::take(&mut self.buf);
            if let Some(p) = &self.pool {
                p.give_buffer(buf);
            }
        }
    }

    /// Decodes from the start of `input`. See the module docs.
    pub(crate) fn step<'a>(&'a mut self, input: &'a mut [u8]) -> Step<'a> {
        if let Some(f) = self.frame {
            return self.stream_payload(f, input);
        }
        let h = match decode_header(input) {
            Ok(Some(h)) => h,
            Ok(None) => return Step::NeedMore,
            Err(_) => return Step::Fail(1002, "64-bit length with the top bit set"),
        };
        if h.rsv23 {
            return Step::Fail(1002, "reserved bit set");
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Step::Fail(1002, "unmasked client frame"),
            (Role::Client, true) => return Step::Fail(1002, "masked server frame"),
            _ => {}
        }
        if h.is_control() {
            if !matches!(h.opcode, OP_CLOSE | OP_PING | OP_PONG) {
                return Step::Fail(1002, "reserved opcode");
            }
            if h.rsv1 {
                return Step::Fail(1002, "RSV1 on a control frame");
            }
            if !h.fin {
                return Step::Fail(1002, "fragmented control frame");
            }
            if h.len > 125 {
                return Step::Fail(1002, "control frame over 125 bytes");
            }
            let total = h.size + h.len as usize;
            if input.len() < total {
                return Step::NeedMore;
            }
            let payload = &mut input[h.size..total];
            if let Some(m) = h.mask {
                apply_mask(payload, m, 0);
            }
            let payload: &'a [u8] = payload;
            let event = match h.opcode {
                OP_PING => Event::Ping(payload),
                OP_PONG => Event::Pong(payload),
                _ => match close_payload(payload) {
                    Ok((code, reason)) => Event::Close(code, reason),
                    Err((code, why)) => return Step::Fail(code, why),
                },
            };
            return Step::Progress(total, Some(event));
        }
        let compressed = match (h.opcode, self.message) {
            (OP_CONTINUATION, None) => {
                return Step::Fail(1002, "continuation with no message open")
            }
            (OP_CONTINUATION, Some(_)) if h.rsv1 => {
                return Step::Fail(1002, "RSV1 on a continuation frame")
            }
            (OP_CONTINUATION, Some(m)) => m.compressed,
            (OP_TEXT | OP_BINARY, Some(_)) => {
                return Step::Fail(1002, "new message inside a fragmented one")
            }
            (OP_TEXT | OP_BINARY, None) if h.rsv1 && self.inflater.is_none() => {
                return Step::Fail(1002, "RSV1 without permessage-deflate")
            }
            (OP_TEXT | OP_BINARY, None) => h.rsv1,
            _ => return Step::Fail(1002, "reserved opcode"),
        };
        // The size limit, from the declared length: before any payload arrives.
        let so_far = self.message.map_or(0, |m| m.wire_len) as u64;
        let limit = if compressed {
            // Deflate may expand incompressible data a little; the inflated size is what
            // counts, and it is checked as the message inflates.
            self.max_message
                .saturating_add(self.max_message / 64 + 1024)
        } else {
            self.max_message
        } as u64;
        if so_far.saturating_add(h.len) > limit {
            return Step::Fail(1009, "message too big");
        }
        // (Within the limit, which fits in memory: the length fits a usize.)
        let len = h.len as usize;
        let total = h.size.saturating_add(len);
        if input.len() < total && total <= INPLACE_MAX {
            // Small enough to wait for whole.
            return Step::NeedMore;
        }
        if h.opcode != OP_CONTINUATION {
            self.open_message(h.opcode == OP_TEXT, compressed);
        }
        if let Some(m) = &mut self.message {
            m.wire_len += len;
        }
        if input.len() >= total {
            // The whole frame is here.
            let payload = &mut input[h.size..total];
            if let Some(m) = h.mask {
                apply_mask(payload, m, 0);
            }
            if h.fin && h.opcode != OP_CONTINUATION && !compressed {
                // A whole message, uncompressed: handed out where it lies.
                let text = h.opcode == OP_TEXT;
                self.message = None;
                let payload: &'a [u8] = payload;
                if !text {
                    return Step::Progress(total, Some(Event::Binary(payload)));
                }
                return match std::str::from_utf8(payload) {
                    Ok(s) => Step::Progress(total, Some(Event::Text(s))),
                    Err(_) => Step::Fail(1007, "invalid UTF-8 in a text message"),
                };
            }
            if let Err(fail) = self.payload(payload) {
                return fail;
            }
            return if h.fin {
                self.complete(total)
            } else {
                Step::Progress(total, None)
            };
        }
        // A large frame: take its payload piece by piece.
        self.frame = Some(Streaming {
            fin: h.fin,
            remaining: h.len,
            mask: h.mask,
            offset: 0,
        });
        Step::Progress(h.size, None)
    }

    fn open_message(&mut self, text: bool, compressed: bool) {
        self.message = Some(Message {
            text,
            compressed,
            wire_len: 0,
        });
        self.utf8.reset();
        self.validated = 0;
        self.buf.clear();
    }

    /// A piece of a large frame's payload.
    fn stream_payload<'a>(&'a mut self, mut f: Streaming, input: &'a mut [u8]) -> Step<'a> {
        if input.is_empty() && f.remaining > 0 {
            return Step::NeedMore;
        }
        let n = (f.remaining.min(input.len() as u64)) as usize;
        let chunk = &mut input[..n];
        if let Some(m) = f.mask {
            apply_mask(chunk, m, f.offset);
        }
        f.remaining -= n as u64;
        f.offset += n;
        if let Err(fail) = self.payload(chunk) {
            return fail;
        }
        if f.remaining > 0 {
            self.frame = Some(f);
            return Step::Progress(n, None);
        }
        self.frame = None;
        if f.fin {
            self.complete(n)
        } else {
            Step::Progress(n, None)
        }
    }

    /// Appends (or inflates) an unmasked piece of the open message.
    fn payload(&mut self, data: &[u8]) -> Result<(), Step<'static>> {
        let Some(m) = self.message else {
            return Ok(());
        };
        if self.buf.capacity() == 0 {
            if let Some(p) = &self.pool {
                self.buf = p.take_buffer(data.len().min(INPLACE_MAX));
            }
        }
        if m.compressed {
            let Some(inf) = self.inflater.as_mut() else {
                return Err(Step::Fail(1002, "RSV1 without permessage-deflate"));
            };
            inf.inflate(data, &mut self.buf, self.max_message)
                .map_err(inflate_failure)?;
            if m.text {
                if !self.utf8.feed(&self.buf[self.validated..]) {
                    return Err(Step::Fail(1007, "invalid UTF-8 in a text message"));
                }
                self.validated = self.buf.len();
            }
        } else {
            if m.text && !self.utf8.feed(data) {
                return Err(Step::Fail(1007, "invalid UTF-8 in a text message"));
            }
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// The last frame of the open message arrived.
    fn complete(&mut self, consumed: usize) -> Step<'_> {
        let Some(m) = self.message.take() else {
            return Step::Progress(consumed, None);
        };
        if m.compressed {
            if let Some(inf) = self.inflater.as_mut() {
                if let Err(e) = inf.finish(&mut self.buf, self.max_message) {
                    return inflate_failure(e);
                }
            }
            if m.text && !self.utf8.feed(&self.buf[self.validated..]) {
                return Step::Fail(1007, "invalid UTF-8 in a text message");
            }
        }
        if !m.text {
            return Step::Progress(consumed, Some(Event::Binary(&self.buf)));
        }
        if !self.utf8.finish() {
            return Step::Fail(1007, "invalid UTF-8 in a text message");
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Step::Progress(consumed, Some(Event::Text(s))),
            Err(_) => Step::Fail(1007, "invalid UTF-8 in a text message"),
        }
    }
}

fn inflate_failure(e: InflateError) -> Step<'static> {
    match e {
        InflateError::TooBig => Step::Fail(1009, "message too big"),
        InflateError::Invalid => Step::Fail(1007, "compressed message does not inflate"),
    }
}

/// Reads a Close payload: `(code, reason)`, or the failure it calls for.
fn close_payload(p: &[u8]) -> Result<(Option<u16>, &str), (u16, &'static str)> {
    match p {
        [] => Ok((None, "")),
        [_] => Err((1002, "Close payload of 1 byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !valid_close_code(code) {
                return Err((1002, "invalid close code"));
            }
            match std::str::from_utf8(reason) {
                Ok(r) => Ok((Some(code), r)),
                Err(_) => Err((1007, "Close reason is not UTF-8")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::deflate::Deflater;
    use crate::websocket::frame::write_header;

    /// A masked client frame.
    fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        write_header(&mut out, fin, rsv1, opcode, payload.len(), Some(mask));
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], mask, 0);
        out
    }

    /// Everything a server reader makes of `input`, as owned events; stops at a failure.
    fn run(reader: &mut Reader, input: &[u8]) -> (Vec<String>, Option<u16>) {
        let mut buf = input.to_vec();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            match reader.step(&mut buf[pos..]) {
                Step::Progress(n, ev) => {
                    if let Some(ev) = ev {
                        out.push(format!("{ev:?}"));
                    }
                    pos += n;
                }
                Step::NeedMore => return (out, None),
                Step::Fail(code, _) => return (out, Some(code)),
            }
        }
    }

    fn server(max: usize) -> Reader {
        Reader::new(Role::Server, max, None, None)
    }

    #[test]
    fn whole_messages_fragments_and_interleaved_control() {
        let mut input = frame(true, false, OP_TEXT, b"hello");
        input.extend(frame(false, false, OP_BINARY, b"ab"));
        input.extend(frame(true, false, OP_PING, b"p"));
        input.extend(frame(false, false, OP_CONTINUATION, b"cd"));
        input.extend(frame(true, false, OP_PONG, b""));
        input.extend(frame(true, false, OP_CONTINUATION, b"ef"));
        input.extend(frame(
            true,
            false,
            OP_CLOSE,
            &[0x03, 0xe8, b'b', b'y', b'e'],
        ));
        let (events, fail) = run(&mut server(1 << 20), &input);
        assert_eq!(fail, None);
        assert_eq!(
            events,
            [
                "Text(\"hello\")",
                "Ping([112])",
                "Pong([])",
                "Binary([97, 98, 99, 100, 101, 102])",
                "Close(Some(1000), \"bye\")"
            ]
        );
        // Fed one byte more at a time, the same events come out.
        let mut r = server(1 << 20);
        let mut buf = input.clone();
        let mut pos = 0;
        let mut seen = Vec::new();
        for end in 0..=buf.len() {
            loop {
                match r.step(&mut buf[pos..end]) {
                    Step::Progress(n, ev) => {
                        if let Some(ev) = ev {
                            seen.push(format!("{ev:?}"));
                        }
                        pos += n;
                    }
                    Step::NeedMore => break,
                    Step::Fail(c, w) => panic!("{c} {w}"),
                }
            }
        }
        assert_eq!(seen, events);
    }

    #[test]
    fn protocol_errors_fail_with_the_right_code() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (vec![0x81, 0x00], 1002),                 // unmasked
            (frame(true, false, 3, b""), 1002),       // reserved opcode
            (frame(true, false, 0xb, b""), 1002),     // reserved control opcode
            (frame(true, true, OP_TEXT, b"x"), 1002), // RSV1 without deflate
            (
                {
                    let mut f = frame(true, false, OP_TEXT, b"x");
                    f[0] |= 0x20;
                    f
                },
                1002,
            ), // RSV2
            (frame(false, false, OP_PING, b""), 1002), // fragmented control
            (frame(true, false, OP_PING, &[0; 126]), 1002), // control too long
            (frame(true, false, OP_CONTINUATION, b"x"), 1002), // nothing to continue
            (
                [
                    frame(false, false, OP_TEXT, b"a"),
                    frame(true, false, OP_TEXT, b"b"),
                ]
                .concat(),
                1002,
            ),
            (frame(true, false, OP_CLOSE, &[3]), 1002), // 1-byte close
            (frame(true, false, OP_CLOSE, &[0x03, 0xed]), 1002), // 1005
            (frame(true, false, OP_CLOSE, &[0x03, 0xe8, 0xff]), 1007),
            (
                frame(true, false, OP_TEXT, &[0xce, 0xba, 0xed, 0xa0, 0x80]),
                1007,
            ),
            (
                [
                    frame(false, false, OP_TEXT, &[0xce]),
                    frame(true, false, OP_CONTINUATION, &[0x41]),
                ]
                .concat(),
                1007,
            ),
            (frame(true, false, OP_BINARY, &[0; 101]), 1009),
            (
                vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
                1002,
            ),
        ];
        for (input, code) in cases {
            let (_, fail) = run(&mut server(100), &input);
            assert_eq!(fail, Some(code), "{input:x?}");
        }
        // Too big is known from the header alone: no payload needed.
        let mut r = server(100);
        let mut head = vec![0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4];
        assert_eq!(r.step(&mut head), Step::Fail(1009, "message too big"));
        // Exactly the limit passes, also across fragments.
        let input = [
            frame(false, false, OP_BINARY, &[1; 60]),
            frame(true, false, OP_CONTINUATION, &[2; 40]),
        ]
        .concat();
        let (ev, fail) = run(&mut server(100), &input);
        assert_eq!((ev.len(), fail), (1, None));
        let input = [
            frame(false, false, OP_BINARY, &[1; 60]),
            frame(true, false, OP_CONTINUATION, &[2; 41]),
        ]
        .concat();
        assert_eq!(run(&mut server(100), &input).1, Some(1009));
    }

    #[test]
    fn close_codes() {
        for code in 0..=6000u16 {
            let ok = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(valid_close_code(code), ok, "{code}");
        }
    }

    #[test]
    fn large_frames_stream_and_compressed_messages_inflate() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let input = frame(true, false, OP_BINARY, &big);
        let mut r = server(1 << 20);
        let mut buf = input.clone();
        let mut pos = 0;
        let mut got = None;
        // In 10,000-byte reads: the frame is taken piece by piece.
        let total = buf.len();
        for end in (10_000..).step_by(10_000).map(|e: usize| e.min(total)) {
            while let Step::Progress(n, ev) = r.step(&mut buf[pos..end]) {
                pos += n;
                if let Some(Event::Binary(b)) = ev {
                    got = Some(b.to_vec());
                }
            }
            if end == total {
                break;
            }
        }
        assert_eq!(got.as_deref(), Some(&big[..]));

        // Compressed, fragmented, with a ping in between.
        let text = "compress me, compress me, compress me: κόσμε ".repeat(50);
        let mut d = Deflater::new(6, 15, false, 0);
        let mut wire = Vec::new();
        d.compress(text.as_bytes(), &mut wire);
        let (a, b) = wire.split_at(wire.len() / 2);
        let input = [
            frame(false, true, OP_TEXT, a),
            frame(true, false, OP_PING, b"x"),
            frame(true, false, OP_CONTINUATION, b),
            frame(true, false, OP_BINARY, b"plain"),
        ]
        .concat();
        let mut r = Reader::new(Role::Server, 1 << 20, Some(Inflater::new(false)), None);
        let (events, fail) = run(&mut r, &input);
        assert_eq!(fail, None);
        assert_eq!(events.len(), 3);
        assert_eq!(events[1], format!("Text({text:?})"));
        // Inflating past the limit is 1009.
        let mut r = Reader::new(Role::Server, 1000, Some(Inflater::new(false)), None);
        assert_eq!(
            run(&mut r, &frame(true, true, OP_BINARY, &wire)).1,
            Some(1009)
        );
        // Garbage is 1007.
        let mut r = Reader::new(Role::Server, 1000, Some(Inflater::new(false)), None);
        assert_eq!(
            run(&mut r, &frame(true, true, OP_BINARY, &[0xff; 20])).1,
            Some(1007)
        );
    }
}
