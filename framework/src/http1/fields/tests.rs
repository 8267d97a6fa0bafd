//! `plain_fields` against httparse: whatever the fast path accepts, httparse accepts with the
//! same spans and length; what it declines is left to httparse.

use super::*;

/// httparse's reading of a field block: its length and the (name, value) spans.
fn reference(fields: &[u8]) -> Option<(usize, Vec<(Span, Span)>)> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(fields, &mut slots) {
        Ok(httparse::Status::Complete((n, hs))) => {
            let base = fields.as_ptr() as usize;
            let span = |s: &[u8]| {
                let a = (s.as_ptr() as usize - base) as u32;
                (a, a + s.len() as u32)
            };
            Some((
                n,
                hs.iter()
                    .map(|h| (span(h.name.as_bytes()), span(h.value)))
                    .collect(),
            ))
        }
        _ => None,
    }
}

fn plain(fields: &[u8]) -> Option<(usize, Vec<(Span, Span)>)> {
    let mut out = Vec::new();
    plain_fields(fields, 0, &mut out).map(|n| (n, out))
}

/// The fast path's answer, checked against httparse's when it has one.
fn check(fields: &[u8]) -> Option<(usize, Vec<(Span, Span)>)> {
    let got = plain(fields);
    if let Some(got) = &got {
        assert_eq!(
            Some(got),
            reference(fields).as_ref(),
            "plain_fields and httparse disagree on {:?}",
            String::from_utf8_lossy(fields)
        );
    }
    got
}

#[test]
fn plain_blocks_are_read_with_httparse_spans() {
    for block in [
        &b"\r\n"[..],
        b"Host: a\r\n\r\n",
        b"Host: 127.0.0.1:8080\r\n\r\n",
        b"Host:a\r\n\r\n",
        b"Host: \t a b\t \r\n\r\n",
        b"X-Empty:\r\n\r\n",
        b"X-Empty:   \r\n\r\n",
        b"A: 1\r\nBb: 22\r\nCcc: 333 333\r\n\r\n",
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n\r\n",
        b"Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nCookie: a=b; c=d\r\n\r\n",
        b"!#$%&'*+-.^_`|~09azAZ: ~\r\n\r\n",
        b"Host: a\r\n\r\nGET / HTTP/1.1\r\n",
    ] {
        assert!(check(block).is_some(), "{:?}", String::from_utf8_lossy(block));
    }
    let (n, spans) = plain(b"Host: a \r\nX:\r\n\r\nrest").unwrap();
    assert_eq!(n, 16);
    assert_eq!(spans, vec![((0, 4), (6, 7)), ((10, 11), (12, 12))]);
    let mut out = Vec::new();
    assert_eq!(plain_fields(b"Host: a\r\n\r\n", 100, &mut out), Some(11));
    assert_eq!(out, vec![((100, 104), (106, 107))]);
}

#[test]
fn unusual_blocks_are_left_to_httparse() {
    for block in [
        &b""[..],
        b"Host: a\r\n",               // incomplete
        b"Host: a\r\n\r",             // incomplete
        b"Host: a",                   // incomplete
        b"Host",                      // incomplete
        b"Host: a\n\n",               // bare LF
        b"Host: a\r\n\n",             // bare LF ends the block
        b"Host : a\r\n\r\n",          // space before the colon (httparse: 400)
        b" Host: a\r\n\r\n",          // leading space
        b"Host: a\r\n b\r\n\r\n",     // obs-fold (httparse: 400)
        b"Host: caf\xc3\xa9\r\n\r\n", // obs-text in a value (httparse accepts it)
        b"Host: a\x7fb\r\n\r\n",      // DEL
        b"Host: a\x00b\r\n\r\n",      // NUL
        b"Host: a\rb\r\n\r\n",        // CR inside a value
        b"H\xc3\xa9: a\r\n\r\n",      // non-token name
        b":a\r\n\r\n",                // empty name
        b"Host: a\r\nX\r\n\r\n",      // no colon
    ] {
        assert_eq!(check(block), None, "{:?}", String::from_utf8_lossy(block));
    }
    // More fields than a request may have: httparse's TooManyHeaders decides (431).
    let mut many = Vec::new();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(check(&many), None);
    many.drain(..b"X-0: 0\r\n".len());
    assert_eq!(check(&many).map(|(_, s)| s.len()), Some(MAX_HEADERS));
}

/// Small deterministic generator (no dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn generated_block(rng: &mut Rng) -> Vec<u8> {
    let names: &[&[u8]] = &[
        b"Host",
        b"Content-Length",
        b"x",
        b"X-A*b",
        b"Accept-Encoding",
    ];
    let gaps: &[&[u8]] = &[b"", b" ", b"\t", b"  \t"];
    let values: &[&[u8]] = &[
        b"",
        b"a",
        b"127.0.0.1:8080",
        b"gzip, deflate",
        b"a b\tc",
        b"0123456789abcdefghijklmnopqrstuvwxyz",
        b"~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
    ];
    let mut block = Vec::new();
    for _ in 0..rng.next() % 6 {
        block.extend_from_slice(rng.pick(names));
        block.push(b':');
        block.extend_from_slice(rng.pick(gaps));
        block.extend_from_slice(rng.pick(values));
        block.extend_from_slice(rng.pick(gaps));
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b"\r\n");
    block
}

#[test]
fn generated_blocks_and_their_one_byte_changes_agree_with_httparse() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let specials = [
        0u8, b'\t', b'\n', b'\r', b' ', b':', b'a', 0x7f, 0x80, 0xc3, 0xff, b'"', b'*',
    ];
    let mut accepted = 0;
    for _ in 0..300 {
        let block = generated_block(&mut rng);
        assert!(
            check(&block).is_some(),
            "{:?}",
            String::from_utf8_lossy(&block)
        );
        accepted += 1;
        // Every prefix: never accepted unless it is a whole block the same way.
        for end in 0..block.len() {
            check(&block[..end]);
        }
        // Every one-byte replacement and insertion.
        for pos in 0..block.len() {
            for &b in &specials {
                let mut changed = block.clone();
                changed[pos] = b;
                if check(&changed).is_some() {
                    accepted += 1;
                }
                let mut inserted = block.clone();
                inserted.insert(pos, b);
                if check(&inserted).is_some() {
                    accepted += 1;
                }
            }
        }
    }
    // The comparison had material: many changed blocks are still plain.
    assert!(accepted > 10_000, "{accepted}");
}

#[test]
fn value_stops_flags_the_first_special_byte_exactly() {
    for pos in 0..8 {
        // Every byte that stops a plain value: controls (HTAB included), DEL, 0x80 and up.
        for b in (0u8..=255).filter(|b| !(0x20..0x7f).contains(b)) {
            let mut word = [b'a'; 8];
            word[pos] = b;
            let stops = value_stops(u64::from_le_bytes(word));
            assert_eq!(
                (stops.trailing_zeros() / 8) as usize,
                pos,
                "byte {b:#x} at {pos}"
            );
        }
        let plain = [b'~'; 8];
        assert_eq!(value_stops(u64::from_le_bytes(plain)), 0);
    }
    for b in 0x20u8..0x7f {
        assert_eq!(value_stops(u64::from_le_bytes([b; 8])), 0, "{b:#x}");
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[test]
fn sse2_value_stop_flags_the_first_special_byte() {
    for pos in 0..16 {
        for b in 0u8..=255 {
            let mut block = [b'a'; 16];
            block[pos] = b;
            let expected = (!(0x20..0x7f).contains(&b)).then_some(pos as u32);
            assert_eq!(super::sse2::value_stop(&block), expected, "{b:#x} at {pos}");
            // A later special byte does not hide an earlier one.
            block[15] = b'\r';
            if pos < 15 && expected.is_some() {
                assert_eq!(super::sse2::value_stop(&block), expected);
            }
        }
    }
}
