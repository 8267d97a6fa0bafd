//! The opening handshake's checks and keys (RFC 6455 §4), over header values: pure, so the
//! server, the client and the tests share them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 §1.3 appends to the key.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
///
/// # Examples
///
/// ```
/// // RFC 6455 §1.3's example.
/// assert_eq!(
///     squall::websocket::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID);
    STANDARD.encode(h.finalize())
}

/// Whether `key` is base64 of exactly 16 bytes (RFC 6455 §4.2.1 item 5).
pub(crate) fn valid_key(key: &str) -> bool {
    let key = key.trim();
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|k| k.len() == 16)
}

/// A fresh random key for a client handshake.
pub(crate) fn new_key() -> String {
    let mut k = [0u8; 16];
    if getrandom::getrandom(&mut k).is_err() {
        // The key is a nonce against confused intermediaries, not a secret; a failing OS
        // source still leaves the time to vary it.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        k.copy_from_slice(&t.to_le_bytes());
    }
    STANDARD.encode(k)
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
pub(crate) fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Why a handshake request is refused, as the HTTP status to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400 with this reason for the log.
    BadRequest(&'static str),
    /// 426 with `Sec-WebSocket-Version: 13`.
    UpgradeRequired,
}

/// The header values the checks read (every value of each name, in order).
pub(crate) struct HandshakeRequest<'a> {
    pub(crate) upgrade: Vec<&'a str>,
    pub(crate) connection: Vec<&'a str>,
    pub(crate) key: Vec<&'a str>,
    pub(crate) version: Vec<&'a str>,
}

/// Checks a request's WebSocket headers; returns its key when the handshake may go on.
pub(crate) fn check_request<'a>(r: &HandshakeRequest<'a>) -> Result<&'a str, Refusal> {
    if !r.upgrade.iter().any(|v| has_token(v, "websocket")) {
        return Err(Refusal::BadRequest("Upgrade must name websocket"));
    }
    if !r.connection.iter().any(|v| has_token(v, "upgrade")) {
        return Err(Refusal::BadRequest("Connection must include upgrade"));
    }
    if r.version.len() != 1 || r.version[0].trim() != "13" {
        return Err(Refusal::UpgradeRequired);
    }
    match r.key.as_slice() {
        [key] if valid_key(key) => Ok(key.trim()),
        [] => Err(Refusal::BadRequest("missing Sec-WebSocket-Key")),
        [_] => Err(Refusal::BadRequest(
            "Sec-WebSocket-Key is not base64 of 16 bytes",
        )),
        _ => Err(Refusal::BadRequest("duplicate Sec-WebSocket-Key")),
    }
}

/// Tornado's default `check_origin`: the origin's `host[:port]` must equal the `Host` header
/// (case-insensitively). `null` and anything without a scheme count as another origin.
pub(crate) fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some((_, rest)) = origin.trim().split_once("://") else {
        return false;
    };
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some(host) = host else { return false };
    !netloc.is_empty() && netloc.eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(key: &[&'a str], version: &[&'a str]) -> HandshakeRequest<'a> {
        HandshakeRequest {
            upgrade: vec!["WebSocket"],
            connection: vec!["keep-alive, Upgrade"],
            key: key.to_vec(),
            version: version.to_vec(),
        }
    }

    #[test]
    fn keys_and_accept() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ")); // unpadded
        assert!(!valid_key("dGhlIHNhbXBsZSBub25jZXg=")); // 17 bytes
        assert!(!valid_key("AAAAAAAAAAAAAAAAAAAA")); // 15 bytes
        assert!(!valid_key("dGhlIHNhbXBsZSBub25j*Q=="));
        assert!(valid_key(&new_key()));
        assert_ne!(new_key(), new_key());
    }

    #[test]
    fn request_checks() {
        let k = "dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(check_request(&req(&[k], &["13"])), Ok(k));
        assert_eq!(
            check_request(&req(&[], &["13"])),
            Err(Refusal::BadRequest("missing Sec-WebSocket-Key"))
        );
        assert!(matches!(
            check_request(&req(&[k, k], &["13"])),
            Err(Refusal::BadRequest(_))
        ));
        assert!(matches!(
            check_request(&req(&["abc"], &["13"])),
            Err(Refusal::BadRequest(_))
        ));
        assert_eq!(
            check_request(&req(&[k], &["8"])),
            Err(Refusal::UpgradeRequired)
        );
        assert_eq!(
            check_request(&req(&[k], &[])),
            Err(Refusal::UpgradeRequired)
        );
        let mut r = req(&[k], &["13"]);
        r.upgrade = vec!["h2c"];
        assert!(matches!(check_request(&r), Err(Refusal::BadRequest(_))));
        let mut r = req(&[k], &["13"]);
        r.connection = vec!["keep-alive"];
        assert!(matches!(check_request(&r), Err(Refusal::BadRequest(_))));
    }

    #[test]
    fn origin_rule() {
        assert!(same_origin("http://127.0.0.1:8888", Some("127.0.0.1:8888")));
        assert!(same_origin("https://Example.COM", Some("example.com")));
        assert!(!same_origin("http://evil.example", Some("127.0.0.1:8888")));
        assert!(!same_origin(
            "http://127.0.0.1:9999",
            Some("127.0.0.1:8888")
        ));
        assert!(!same_origin("null", Some("127.0.0.1:8888")));
        assert!(!same_origin("http://127.0.0.1:8888", None));
    }
}
