//! Entry points for the fuzz targets in `framework/fuzz` (and the bounded randomized test
//! below, which runs them on stable in `cargo test`).
//!
//! **Not part of the API.** Hidden from the docs, exempt from semver.
//!
//! Each function checks more than "no panic": the frame reader must give the same events and
//! the same failure however the input is split (the connection sees reads fall anywhere), no
//! event may break a limit, and deflate must round-trip and stay bounded on any input.

use super::deflate::{Deflater, Inflater};
use super::protocol::{Event, Reader, Role, Step};

/// What a reader made of an input: the events (owned) and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<String>,
    end: Option<u16>,
}

fn describe(ev: &Event<'_>, max: usize) -> String {
    match ev {
        Event::Text(t) => {
            assert!(t.len() <= max, "text message over the limit");
            format!("T{t:?}")
        }
        Event::Binary(b) => {
            assert!(b.len() <= max, "binary message over the limit");
            format!("B{b:?}")
        }
        Event::Ping(p) => {
            assert!(p.len() <= 125);
            format!("I{p:?}")
        }
        Event::Pong(p) => {
            assert!(p.len() <= 125);
            format!("O{p:?}")
        }
        Event::Close(code, reason) => {
            if let Some(c) = code {
                assert!(super::protocol::valid_close_code(*c));
            }
            format!("C{code:?}{reason:?}")
        }
    }
}

/// Runs a reader over `input` delivered in pieces ending at `cuts` (then the rest).
fn run(input: &[u8], cuts: &[usize], role: Role, max: usize, deflate: bool) -> Outcome {
    let mut reader = Reader::new(role, max, deflate.then(|| Inflater::new(false)), None);
    let mut buf = input.to_vec();
    let mut pos = 0;
    let mut events = Vec::new();
    let total = buf.len();
    let ends = cuts
        .iter()
        .map(|&c| c.min(total))
        .chain(std::iter::once(total));
    let mut end_at = 0;
    for end in ends {
        end_at = end_at.max(end);
        loop {
            match reader.step(&mut buf[pos..end_at]) {
                Step::Progress(n, ev) => {
                    assert!(pos + n <= end_at, "consumed past the input");
                    assert!(n > 0 || ev.is_some(), "a step made no progress");
                    if let Some(ev) = ev {
                        let closed = matches!(ev, Event::Close(..));
                        events.push(describe(&ev, max));
                        if closed {
                            return Outcome {
                                events,
                                end: Some(0),
                            };
                        }
                    }
                    pos += n;
                }
                Step::NeedMore => break,
                Step::Fail(code, _) => {
                    assert!(matches!(code, 1002 | 1007 | 1009), "failure code {code}");
                    return Outcome {
                        events,
                        end: Some(code),
                    };
                }
            }
        }
    }
    Outcome { events, end: None }
}

/// Frames: arbitrary bytes to a server reader (and a client reader), whole and split at the
/// positions the first bytes pick; with and without permessage-deflate, under a small limit.
pub fn frames(data: &[u8]) {
    let (cut_bytes, input) = data.split_at(data.len().min(4));
    let mut cuts: Vec<usize> = cut_bytes.iter().map(|&b| b as usize * 3).collect();
    cuts.sort_unstable();
    for role in [Role::Server, Role::Client] {
        for deflate in [false, true] {
            for max in [200, 70_000] {
                let whole = run(input, &[], role, max, deflate);
                let split = run(input, &cuts, role, max, deflate);
                assert_eq!(whole, split, "splitting changed the outcome");
                let bytewise: Vec<usize> = (0..input.len().min(300)).collect();
                let bytes = run(input, &bytewise, role, max, deflate);
                assert_eq!(whole, bytes, "byte-by-byte input changed the outcome");
            }
        }
    }
}

/// Deflate: arbitrary bytes inflated under a bound (never past it), and compressed then
/// inflated back (equal), with every window size and both context modes.
pub fn deflate(data: &[u8]) {
    const MAX: usize = 64 * 1024;
    let mut inf = Inflater::new(false);
    let mut out = Vec::new();
    let r = inf
        .inflate(data, &mut out, MAX)
        .and_then(|()| inf.finish(&mut out, MAX));
    assert!(out.len() <= MAX + 1, "inflated past the bound");
    if r.is_ok() {
        assert!(out.len() <= MAX);
    }
    let bits = 9 + data.first().map_or(0, |b| b % 7);
    let no_context = data.get(1).is_some_and(|b| b & 1 == 1);
    let mut d = Deflater::new(6, bits, no_context, 0);
    let mut i = Inflater::new(no_context);
    for piece in data.chunks(data.len() / 3 + 1) {
        let mut wire = Vec::new();
        d.compress(piece, &mut wire);
        let mut back = Vec::new();
        i.inflate(&wire, &mut back, usize::MAX)
            .and_then(|()| i.finish(&mut back, usize::MAX))
            .expect("our own output inflates");
        assert_eq!(back, piece, "deflate round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// A plausible frame, often valid, sometimes slightly wrong.
    fn frame(rng: &mut Rng, out: &mut Vec<u8>) {
        let opcode = [0u8, 1, 2, 8, 9, 10, 3, 11][rng.below(8) as usize];
        let fin = rng.below(4) != 0;
        let rsv = if rng.below(8) == 0 {
            (rng.below(8) as u8) << 4
        } else {
            0
        };
        let len = match rng.below(10) {
            0..=5 => rng.below(20) as usize,
            6..=7 => 120 + rng.below(20) as usize,
            8 => 60_000 + rng.below(20_000) as usize,
            _ => rng.below(300) as usize,
        };
        out.push((fin as u8) << 7 | rsv | opcode);
        let masked = rng.below(16) != 0;
        let m = if masked { 0x80 } else { 0 };
        if len < 126 && rng.below(8) != 0 {
            out.push(m | len as u8);
        } else if len < 65536 && rng.below(4) != 0 {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = (rng.next() as u32).to_be_bytes();
        if masked {
            out.extend_from_slice(&key);
        }
        let start = out.len();
        let text = "aé€😀".as_bytes();
        for i in 0..len {
            out.push(match opcode {
                1 | 0 if rng.below(200) != 0 => text[i % text.len()],
                8 if i < 2 => [0x03, 0xe8][i],
                _ => rng.next() as u8,
            });
        }
        if masked {
            for (i, b) in out[start..].iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
    }

    #[test]
    fn randomized_frames_and_deflate_bounded() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let mut input: Vec<u8> = (0..4).map(|_| rng.next() as u8).collect();
            for _ in 0..1 + rng.below(6) {
                frame(&mut rng, &mut input);
            }
            // Sometimes a flipped byte or a cut.
            if rng.below(3) == 0 && input.len() > 4 {
                let i = 4 + rng.below(input.len() as u64 - 4) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            if rng.below(4) == 0 {
                input.truncate(rng.below(input.len() as u64 + 1) as usize);
            }
            frames(&input);
        }
        for _ in 0..200 {
            let len = rng.below(3000) as usize;
            let data: Vec<u8> = (0..len)
                .map(|i| {
                    if rng.below(3) == 0 {
                        rng.next() as u8
                    } else {
                        (i % 7) as u8
                    }
                })
                .collect();
            deflate(&data);
        }
    }
}
