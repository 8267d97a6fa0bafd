//! The sending side of the protocol: [`Writer`] encodes whole messages (compressed with
//! permessage-deflate when it was agreed and the message is long enough) and control frames,
//! each as one frame appended to an output buffer (the stream's write buffer), masked when
//! this end is the client. Pure code over byte slices, as the reader (`protocol.rs`) is.

use super::deflate::Deflater;
use super::frame::{apply_mask, write_header, OP_BINARY, OP_CLOSE, OP_TEXT};
use super::protocol::{Role, INPLACE_MAX};

/// Encodes outgoing frames: whole messages (compressed when agreed and worth it) and control
/// frames, masked when this is the client.
pub(crate) struct Writer {
    pub(crate) deflater: Option<Deflater>,
    /// Compressed output before framing (kept between messages only while compressing).
    scratch: Vec<u8>,
    /// Masking keys for a client (xorshift, seeded from the OS).
    rng: Option<u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("compressing", &self.deflater.is_some())
            .field("masking", &self.rng.is_some())
            .finish()
    }
}

impl Writer {
    /// A writer for `role`, compressing with `deflater` when given.
    pub(crate) fn new(role: Role, deflater: Option<Deflater>) -> Writer {
        let rng = (role == Role::Client).then(|| {
            let mut seed = [0u8; 8];
            let _ = getrandom::getrandom(&mut seed);
            u64::from_ne_bytes(seed) | 1
        });
        Writer {
            deflater,
            scratch: Vec::new(),
            rng,
        }
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        let x = self.rng.as_mut()?;
        // xorshift64*: masks only need to be unpredictable to scripts in a browser, which
        // this client is not; the seed is from the OS.
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        Some(((v >> 32) as u32).to_ne_bytes())
    }

    /// Appends one message as a single frame.
    pub(crate) fn message(&mut self, out: &mut Vec<u8>, binary: bool, payload: &[u8]) {
        let opcode = if binary { OP_BINARY } else { OP_TEXT };
        let mask = self.next_mask();
        match self.deflater.as_mut() {
            Some(d) if payload.len() >= d.min_length => {
                self.scratch.clear();
                d.compress(payload, &mut self.scratch);
                write_header(out, true, true, opcode, self.scratch.len(), mask);
                let start = out.len();
                out.extend_from_slice(&self.scratch);
                if let Some(m) = mask {
                    apply_mask(&mut out[start..], m, 0);
                }
                if self.scratch.capacity() > INPLACE_MAX {
                    self.scratch = Vec::new();
                }
            }
            _ => {
                write_header(out, true, false, opcode, payload.len(), mask);
                let start = out.len();
                out.extend_from_slice(payload);
                if let Some(m) = mask {
                    apply_mask(&mut out[start..], m, 0);
                }
            }
        }
    }

    /// Appends a control frame (the payload is cut to 125 bytes).
    pub(crate) fn control(&mut self, out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
        let payload = &payload[..payload.len().min(125)];
        let mask = self.next_mask();
        write_header(out, true, false, opcode, payload.len(), mask);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(m) = mask {
            apply_mask(&mut out[start..], m, 0);
        }
    }

    /// Appends a Close frame: empty without a code, else the code and the reason (cut to
    /// fit 125 bytes on a character boundary).
    pub(crate) fn close(&mut self, out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
        let mut p = [0u8; 125];
        let n = match code {
            None => 0,
            Some(c) => {
                p[..2].copy_from_slice(&c.to_be_bytes());
                let mut r = reason.len().min(123);
                while !reason.is_char_boundary(r) {
                    r -= 1;
                }
                p[2..2 + r].copy_from_slice(&reason.as_bytes()[..r]);
                2 + r
            }
        };
        self.control(out, OP_CLOSE, &p[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::protocol::{Event, Reader, Step};

    #[test]
    fn writer_frames_are_minimal_and_unmasked_for_a_server() {
        let mut w = Writer::new(Role::Server, None);
        let mut out = Vec::new();
        w.message(&mut out, false, b"hi");
        assert_eq!(out, [0x81, 2, b'h', b'i']);
        out.clear();
        w.close(&mut out, Some(1000), &"é".repeat(100));
        assert_eq!(out.len(), 2 + 2 + 122, "reason cut on a character boundary");
        out.clear();
        w.close(&mut out, None, "");
        assert_eq!(out, [0x88, 0]);
        // A client's frames are masked, and a server's reader reads them back.
        let mut c = Writer::new(Role::Client, None);
        let mut out = Vec::new();
        c.message(&mut out, true, b"data");
        assert_eq!(out[1] & 0x80, 0x80);
        let mut reader = Reader::new(Role::Server, 100, None, None);
        let n = out.len();
        assert_eq!(
            reader.step(&mut out),
            Step::Progress(n, Some(Event::Binary(b"data")))
        );
    }
}
