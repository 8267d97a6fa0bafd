//! Issue #12 item 5, one answer for one input: a request head gets the same answer whether it
//! arrives in one read or split at any point (it was 400 whole but 431 split for a bad request
//! line followed by more than `max_header_size` bytes).

use std::time::Duration;

use squall::testing::TestServer;
use squall_tests::{echo, options};

/// Sends `bytes` in two writes split at `cut` (a pause between, so that the server reads the
/// first part alone), and returns the status of the one response, checking the server then
/// closes the connection.
fn answer_split_at(server: &TestServer, bytes: &[u8], cut: usize) -> u16 {
    let mut c = server.connect();
    c.send(&bytes[..cut]);
    if cut < bytes.len() {
        std::thread::sleep(Duration::from_millis(30));
        // The server may have answered and be dropping input (lingering), or be gone.
        let _ = c.try_send(&bytes[cut..]);
    }
    let r = c.read_response();
    assert_eq!(r.header("Connection"), Some("close"), "{r:?}");
    c.assert_closed();
    r.status
}

/// The same answer `want` at every split point in `cuts`, and whole.
fn one_answer(server: &TestServer, bytes: &[u8], cuts: &[usize], want: u16) {
    assert_eq!(answer_split_at(server, bytes, bytes.len()), want, "whole");
    for &cut in cuts {
        let cut = cut.min(bytes.len() - 1);
        assert_eq!(answer_split_at(server, bytes, cut), want, "split at {cut}");
    }
    server.assert_serves();
}

/// `prefix`, 70,000 `a`, then the blank line: a head past the default 64 KiB limit.
fn with_long_tail(prefix: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend(std::iter::repeat_n(b'a', 70_000));
    v.extend_from_slice(b"\r\n\r\n");
    v
}

const CUTS: &[usize] = &[
    1, 10, 15, 16, 17, 18, 40, 1000, 65_000, 65_536, 65_600, 70_010,
];

#[test]
fn a_bad_request_line_is_400_however_the_head_is_split() {
    let server = TestServer::start_with(|| echo, options());
    // The input: the request line is broken at byte 16, long before the size limit.
    one_answer(&server, &with_long_tail(b"GET / HTTP/1.1\rX"), CUTS, 400);
    // A method over 64 bytes, in a head that also goes past the limit.
    let method = format!("{} / HTTP/1.1\r\nHost: h\r\nX: ", "M".repeat(70));
    one_answer(&server, &with_long_tail(method.as_bytes()), CUTS, 400);
}

#[test]
fn a_head_past_the_limit_is_431_whatever_its_fields_hold() {
    let server = TestServer::start_with(|| echo, options());
    // A NUL in a field value: bad, but the head never ends within 64 KiB, and that shows
    // first (the fields are judged once the head is complete).
    one_answer(
        &server,
        &with_long_tail(b"GET / HTTP/1.1\r\nHost: h\r\nX: \x00"),
        CUTS,
        431,
    );
}

#[test]
fn a_valid_head_split_anywhere_is_served() {
    let server = TestServer::start_with(|| echo, options());
    let head = b"GET /split HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nConnection: close\r\n\r\n";
    for cut in 1..head.len() {
        let mut c = server.connect();
        c.send(&head[..cut]);
        std::thread::sleep(Duration::from_millis(2));
        c.send(&head[cut..]);
        let r = c.read_response();
        assert_eq!(r.status, 200, "split at {cut}: {r:?}");
        assert_eq!(r.header("X-Uri"), Some("/split"));
        c.assert_closed();
    }
}

/// A small deterministic generator (xorshift64*), so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Inputs, or tokens: byte strings.
type Strings = Vec<Vec<u8>>;

/// The fuzz targets' seeds (heads, chunked bodies) and dictionary (`framework/fuzz`).
fn corpus() -> (Strings, Strings, Strings) {
    let fuzz = squall_tests::workspace_root().join("framework/fuzz");
    let files = |dir: &str| -> Vec<Vec<u8>> {
        let mut v: Vec<_> = std::fs::read_dir(fuzz.join(dir))
            .expect("seeds")
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        v.sort();
        v
    };
    let dict = std::fs::read_to_string(fuzz.join("http.dict")).expect("http.dict");
    let tokens = dict
        .lines()
        .filter_map(|l| l.strip_prefix('"')?.strip_suffix('"'))
        .map(|t| {
            // The dictionary's `\xNN` escapes.
            let mut out = Vec::new();
            let b = t.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        })
        .collect();
    (files("seeds/request_head"), files("seeds/chunked"), tokens)
}

/// One of libFuzzer's kinds of mutation, at random.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, tokens: &[Vec<u8>]) {
    let at = rng.below(data.len() + 1);
    match rng.below(7) {
        0 => {
            let t = &tokens[rng.below(tokens.len())];
            data.splice(at..at, t.iter().copied());
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            const BYTES: &[u8] = b"\r\n :;\t\x00aZ0\x7f\xff/[]%@";
            data[i] = BYTES[rng.below(BYTES.len())];
        }
        2 if !data.is_empty() => {
            let end = (at + rng.below(16)).min(data.len());
            data.drain(at.min(end)..end);
        }
        3 if !data.is_empty() => {
            let from = rng.below(data.len());
            let end = (from + rng.below(32)).min(data.len());
            let piece = data[from..end].to_vec();
            data.splice(at..at, piece);
        }
        4 => {
            // A long run: past the small limits the fuzz entry points also use.
            let b = b"a \r\n:M"[rng.below(6)];
            let n = [100, 300, 1100][rng.below(3)];
            data.splice(at..at, std::iter::repeat_n(b, n));
        }
        5 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = rng.next() as u8;
        }
        _ => data.insert(at, rng.next() as u8),
    }
}

/// The fuzz targets' checks (`squall::http1::__fuzz`: the head parser and the chunked decoder,
/// whole and fed in pieces, must give one answer) on mutated seeds cut at random points, for a
/// bounded number of inputs; `SQUALL_FUZZ_SECS=N` runs it for N seconds instead (the stable
/// stand-in for `cargo fuzz`, see framework/fuzz/README.md). Deterministic for a given seed
/// (`SQUALL_FUZZ_SEED`).
#[test]
fn fuzz_entry_points_hold_on_random_inputs_and_splits() {
    let (heads, bodies, tokens) = corpus();
    let seed = std::env::var("SQUALL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    let budget = std::env::var("SQUALL_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    let t0 = std::time::Instant::now();
    let mut rng = Rng(seed | 1);
    let mut runs = 0u64;
    loop {
        match budget {
            Some(b) if t0.elapsed() >= b => break,
            None if runs >= 3000 => break,
            _ => {}
        }
        let head = runs.is_multiple_of(2);
        let pool = if head { &heads } else { &bodies };
        let mut data = pool[rng.below(pool.len())].clone();
        for _ in 0..1 + rng.below(6) {
            mutate(&mut rng, &mut data, &tokens);
        }
        let mut cuts = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let most = if rng.below(4) == 0 { 2 } else { 64 };
            at += 1 + rng.below(most);
            cuts.push(at);
        }
        let r = std::panic::catch_unwind(|| {
            if head {
                squall::http1::__fuzz::scan_head_split(&data, &cuts);
                squall::http1::__fuzz::scan_head(&data);
            } else {
                squall::http1::__fuzz::chunked(&data);
            }
        });
        if r.is_err() {
            panic!(
                "input {runs} (seed {seed:#x}) broke an invariant: {:?} cut at {cuts:?}",
                String::from_utf8_lossy(&data)
            );
        }
        runs += 1;
    }
    eprintln!("{runs} inputs in {:?}", t0.elapsed());
}
