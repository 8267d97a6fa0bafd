//! The grammar of a `Host` field value and of an absolute-form target's authority (RFC 9112
//! §3.2: a server answers 400 to a request whose Host is not one): `uri-host [ ":" port ]`
//! of RFC 3986 §3.2.2-3.2.3, where
//!
//! ```text
//! uri-host    = IP-literal / IPv4address / reg-name
//! IP-literal  = "[" ( IPv6address / IPvFuture ) "]"
//! IPvFuture   = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
//! reg-name    = *( unreserved / pct-encoded / sub-delims )
//! port        = *DIGIT
//! ```
//!
//! Every IPv4 address is also a reg-name (digits and dots), so a host is either a bracketed
//! IP-literal or reg-name characters. An empty host or port is what the grammar allows (a
//! client sends an empty Host when the target has no authority).
//!
//! ### Cost
//!
//! Every request carries a Host, so its common shape (up to 16 letters, digits, `-` and `.`,
//! then optionally one `:` and digits) is accepted by one SSE2 block test on x86-64; anything
//! else (longer names, other characters, IP-literals, refusals) is judged by the full
//! grammar, out of line.

/// Whether the value at `buf[v0..v1]` is a valid Host (see the module docs). `buf` may go on
/// past the value (the bytes after it let the common case load one whole block).
#[inline(always)]
pub(crate) fn valid_host(buf: &[u8], v0: usize, v1: usize) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if v1 - v0 <= 16 {
        if let Some(block) = buf.get(v0..v0 + 16) {
            return sse2::valid_host(block.try_into().expect("16 bytes"), v1 - v0);
        }
    }
    valid_authority(&buf[v0..v1])
}

/// Whether `value` is `uri-host [ ":" port ]` (the module docs' grammar).
#[cold]
#[inline(never)]
pub(crate) fn valid_authority(value: &[u8]) -> bool {
    let port = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        if !ip_literal(&value[1..close]) {
            return false;
        }
        &value[close + 1..]
    } else {
        let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        if !reg_name(&value[..end]) {
            return false;
        }
        &value[end..]
    };
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// `unreserved` (RFC 3986 §2.3).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `sub-delims` (RFC 3986 §2.2).
fn sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `*( unreserved / pct-encoded / sub-delims )`.
fn reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        if b == b'%' {
            match name.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if unreserved(b) || sub_delim(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The inside of an IP-literal's brackets: an IPv6 address or an `IPvFuture`.
fn ip_literal(inside: &[u8]) -> bool {
    if let Some(rest) = inside.strip_prefix(b"v").or(inside.strip_prefix(b"V")) {
        let dot = rest.iter().position(|&b| b == b'.').unwrap_or(rest.len());
        let (version, tail) = rest.split_at(dot);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && tail.len() > 1
            && tail[1..]
                .iter()
                .all(|&b| unreserved(b) || sub_delim(b) || b == b':');
    }
    std::str::from_utf8(inside).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

/// The common Host shape sixteen bytes at a time with SSE2, and the last valid Host.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::cell::Cell;

    use crate::simd::Block;

    thread_local! {
        /// The last Host found valid on this thread (a loop's thread): the block it was read
        /// from and its length. The next request on a connection, and most requests on the
        /// next one, carry the same Host: it then costs one block comparison.
        static LAST_VALID: Cell<([u8; 16], usize)> = const { Cell::new(([0; 16], usize::MAX)) };
    }

    /// Whether the first `n` (at most 16) bytes of `block` are a valid Host.
    #[inline(always)]
    pub(super) fn valid_host(block: &[u8; 16], n: usize) -> bool {
        let b = Block::load(block);
        let (last, len) = LAST_VALID.with(Cell::get);
        // The first `n` bytes equal (the bits past them set whatever they hold).
        if len == n && (b.eq_block(&last) | (u32::MAX << n)) == u32::MAX {
            return true;
        }
        let valid = common_host(b, n) || super::valid_authority(&block[..n]);
        if valid {
            LAST_VALID.with(|c| c.set((*block, n)));
        }
        valid
    }

    /// Whether the first `n` bytes of `b` are letters, digits, `-` and `.`, then optionally
    /// one `:` and digits only. `false` says nothing: the full grammar judges.
    #[inline(always)]
    fn common_host(b: Block, n: usize) -> bool {
        let (name, digits, colons) = b.host_classes();
        let len = !(u32::MAX << n);
        let colons = colons & len;
        if colons == 0 {
            return name & len == len;
        }
        // One colon; the bytes after it are digits.
        let after = len & !((colons << 1) - 1);
        colons & (colons - 1) == 0 && (name | colons) & len == len && digits & after == after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[&str] = &[
        "",
        "example.com",
        "EXAMPLE.com:8080",
        "127.0.0.1",
        "127.0.0.1:8080",
        "h:",
        ":80",
        "a_b~c.d-e",
        "%41b.example",
        "xn--bcher-kva.example",
        "!$&'()*+,;=",
        "[::1]",
        "[::1]:80",
        "[2001:db8::7]:443",
        "[::ffff:192.0.2.1]",
        "[v1.x:y]",
        "[V1F.a:b:c]:1",
        "a-very-long-host-name-past-sixteen-bytes.example:65535",
        "999.1.1.1",
        "localhost:123456789",
    ];

    const INVALID: &[&str] = &[
        "exa mple.com",
        "a/b",
        "[::1",
        "::1",
        "host:port",
        "h:80:81",
        "h:8o",
        "h: 80",
        "a@b",
        "a?b",
        "a#b",
        "a\\b",
        "a\tb",
        "a\"b",
        "a<b>",
        "a[b]",
        "%4",
        "%zz",
        "a%4g",
        "[::1]x",
        "[::1]:x",
        "[::1]]",
        "[zz]",
        "[]",
        "[1.2.3.4]",
        "[v.x]",
        "[v1.]",
        "[vg.x]",
        "[v1.x/y]",
        "h\u{e9}.example",
        "a{b}",
        "a|b",
        "a^b",
        "a`b",
    ];

    /// `host` through [`valid_host`], with `tail` after it in the buffer.
    fn check(host: &str, tail: &[u8]) -> bool {
        let mut buf = host.as_bytes().to_vec();
        buf.extend_from_slice(tail);
        valid_host(&buf, 0, host.len())
    }

    #[test]
    fn the_grammar_with_and_without_the_block_test() {
        for tail in [&b""[..], b"\r\n", b"\r\nX-Other: 1234567890\r\n\r\n"] {
            for h in VALID {
                assert!(check(h, tail), "{h:?} refused");
                assert!(valid_authority(h.as_bytes()), "{h:?} refused");
            }
            for h in INVALID {
                assert!(!check(h, tail), "{h:?} accepted");
                assert!(!valid_authority(h.as_bytes()), "{h:?} accepted");
            }
        }
    }

    /// The block test accepts nothing the full grammar refuses, on every one-byte change of
    /// common hosts at every length up to a block.
    #[test]
    fn the_block_test_never_accepts_what_the_grammar_refuses() {
        for base in [
            "a",
            "127.0.0.1:8080",
            "abcdefghijklmnop",
            "h:1",
            "localhost:80",
        ] {
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut v = base.as_bytes().to_vec();
                    v[at] = b;
                    let mut buf = v.clone();
                    buf.extend_from_slice(b"\r\n\r\n0123456789abcdef");
                    assert_eq!(
                        valid_host(&buf, 0, v.len()),
                        valid_authority(&v),
                        "{:?}",
                        String::from_utf8_lossy(&v)
                    );
                }
            }
        }
    }
}
