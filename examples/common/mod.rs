//! Command-line options shared by the example servers: `--port N` (default 8888, Tornado's
//! habit), `--address A` (default 127.0.0.1), `--cert FILE --key FILE` (serve HTTPS with that
//! PEM certificate chain and key), plus example-specific flags.

#![allow(dead_code)]

/// Parsed command-line flags.
pub struct Args {
    pub port: u16,
    pub address: String,
    rest: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()`; exits with a message on a malformed value.
    pub fn parse() -> Args {
        let mut args = Args {
            port: 8888,
            address: "127.0.0.1".to_owned(),
            rest: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (a.clone(), None),
            };
            match flag.as_str() {
                "--port" => {
                    let v = inline.or_else(|| it.next()).unwrap_or_default();
                    args.port = v
                        .parse()
                        .unwrap_or_else(|_| die(&format!("--port: not a port: {v:?}")));
                }
                "--address" => args.address = inline.or_else(|| it.next()).unwrap_or_default(),
                _ => {
                    args.rest.push(flag);
                    if let Some(v) = inline {
                        args.rest.push(v);
                    }
                }
            }
        }
        args
    }

    /// The value after `--name`, parsed.
    pub fn get<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        let i = self.rest.iter().position(|a| a == name)?;
        let v = self.rest.get(i + 1)?;
        Some(
            v.parse()
                .unwrap_or_else(|_| die(&format!("{name}: bad value {v:?}"))),
        )
    }

    /// The TLS settings from `--cert FILE --key FILE` (both, or neither: plain HTTP), with
    /// session resumption unless `--no-resumption` (every handshake a full one); exits with a
    /// message when only one is given or the files are not a usable certificate and key.
    pub fn tls(&self) -> Option<squall::tls::ServerTlsConfig> {
        let cert: Option<String> = self.get("--cert");
        let key: Option<String> = self.get("--key");
        match (cert, key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(
                squall::tls::ServerTlsConfig::builder()
                    .certificate_pem_files(&cert, &key)
                    .and_then(|b| b.session_resumption(!self.flag("--no-resumption")).build())
                    .unwrap_or_else(|e| die(&format!("--cert/--key: {e}"))),
            ),
            _ => die("--cert and --key go together"),
        }
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.rest.iter().any(|a| a == name)
    }
}

/// The cookie secret in environment variable `var` ([`CookieSecrets::from_env`]: unset gives
/// a random secret per start, logged); exits with a message when it is set but empty.
///
/// [`CookieSecrets::from_env`]: squall::web::cookies::CookieSecrets::from_env
pub fn cookie_secret(var: &str) -> squall::web::cookies::CookieSecrets {
    squall::web::cookies::CookieSecrets::from_env(var)
        .unwrap_or_else(|e| die(&format!("refusing to start: {e}")))
}

fn die(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

/// `n` bytes of deterministic text: lorem-ipsum words picked by a fixed linear congruential
/// generator (x = 1664525 x + 1013904223 mod 2^32, word `(x >> 16) % 64`), in lines of about
/// 72 characters. The showcase's `/lorem` and the bench's `/gzip` serve it;
/// `bench/peers/tornado_peer.py` builds the same bytes.
pub fn lorem(n: usize) -> Vec<u8> {
    const WORDS: [&str; 64] = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua",
        "enim",
        "ad",
        "minim",
        "veniam",
        "quis",
        "nostrud",
        "exercitation",
        "ullamco",
        "laboris",
        "nisi",
        "aliquip",
        "ex",
        "ea",
        "commodo",
        "consequat",
        "duis",
        "aute",
        "irure",
        "in",
        "reprehenderit",
        "voluptate",
        "velit",
        "esse",
        "cillum",
        "fugiat",
        "nulla",
        "pariatur",
        "excepteur",
        "sint",
        "occaecat",
        "cupidatat",
        "non",
        "proident",
        "sunt",
        "culpa",
        "qui",
        "officia",
        "deserunt",
        "mollit",
        "anim",
        "id",
        "est",
        "laborum",
        "integer",
        "vitae",
    ];
    let mut out = Vec::with_capacity(n + 16);
    let mut x: u32 = 12345;
    let mut column = 0;
    while out.len() < n {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let word = WORDS[(x >> 16) as usize % WORDS.len()];
        out.extend_from_slice(word.as_bytes());
        column += word.len() + 1;
        if column > 72 {
            out.push(b'\n');
            column = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(n);
    out
}
