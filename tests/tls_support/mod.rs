//! Shared by the `tls_*` tests (included with `mod tls_support;`, as it needs the rcgen
//! dev-dependency): certificates made in the test with rcgen, server options serving them, and
//! real TLS clients: [`Bridge`] (Python's ssl, i.e. OpenSSL, relaying a plain socket to TLS, so
//! tests speak exact HTTP bytes) and [`curl`].
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::Value;
use squall::http1::HttpServerOptions;
use squall::testing::{WireClient, READ_TIMEOUT};
use squall::tls::{ClientTlsConfig, ServerTlsConfig};
use squall_tests::options;

/// Test certificates on disk (PEM), made once per test binary.
pub struct Pki {
    /// The test CA: every test client trusts it.
    pub ca: PathBuf,
    /// `localhost` and `127.0.0.1`, issued by the CA (chain: leaf then CA).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// `a.test` and `*.b.test`, issued by the CA.
    pub a_cert: PathBuf,
    /// Its key.
    pub a_key: PathBuf,
    /// `localhost` and `127.0.0.1` again, but issued by a CA nobody trusts.
    pub rogue_cert: PathBuf,
    /// Its key.
    pub rogue_key: PathBuf,
}

/// The binary's certificates (generated on first use into a fresh temporary directory).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("squall-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write pem");
            p
        };
        let (ca_pem, ca) = make_ca("Squall Test CA");
        let (rogue_ca_pem, rogue_ca) = make_ca("Rogue CA");
        let leaf = |names: &[&str], issuer: &CertifiedIssuer<'static, KeyPair>, ca_pem: &str| {
            let key = KeyPair::generate().expect("key");
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let mut params = CertificateParams::new(names.clone()).expect("params");
            params
                .distinguished_name
                .push(DnType::CommonName, names[0].clone());
            let cert = params.signed_by(&key, issuer).expect("sign");
            (format!("{}{}", cert.pem(), ca_pem), key.serialize_pem())
        };
        let (c, k) = leaf(&["localhost", "127.0.0.1"], &ca, &ca_pem);
        let (a, ak) = leaf(&["a.test", "*.b.test"], &ca, &ca_pem);
        let (r, rk) = leaf(&["localhost", "127.0.0.1"], &rogue_ca, &rogue_ca_pem);
        Pki {
            ca: write("ca.pem", &ca_pem),
            cert: write("cert.pem", &c),
            key: write("key.pem", &k),
            a_cert: write("a.pem", &a),
            a_key: write("a.key", &ak),
            rogue_cert: write("rogue.pem", &r),
            rogue_key: write("rogue.key", &rk),
        }
    })
}

fn make_ca(name: &str) -> (String, CertifiedIssuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
    (ca.pem(), ca)
}

/// The `localhost` certificate alone.
pub fn server_tls() -> ServerTlsConfig {
    let p = pki();
    ServerTlsConfig::from_pem_files(&p.cert, &p.key).expect("server config")
}

/// `localhost` (the default) and `a.test`/`*.b.test`, chosen by SNI.
pub fn server_tls_sni() -> ServerTlsConfig {
    let p = pki();
    ServerTlsConfig::builder()
        .certificate_pem_files(&p.cert, &p.key)
        .and_then(|b| b.certificate_pem_files(&p.a_cert, &p.a_key))
        .and_then(|b| b.build())
        .expect("server config")
}

/// A client configuration trusting the test CA and nothing else (not Mozilla's roots): what
/// Squall's own clients (`HttpClient`, `websocket_connect`) take to reach the test servers.
pub fn client_tls() -> ClientTlsConfig {
    ClientTlsConfig::builder()
        .add_root_pem_file(&pki().ca)
        .map(|b| b.without_webpki_roots())
        .and_then(|b| b.build())
        .expect("client config")
}

/// The tests' [`options`] serving HTTPS with `tls`.
pub fn tls_options(tls: ServerTlsConfig) -> HttpServerOptions {
    HttpServerOptions {
        tls: Some(tls),
        ..options()
    }
}

/// `squall_tests::echo_expected` for a request that came over TLS.
pub fn echo_expected_https(
    method: &str,
    uri: &str,
    body: &[u8],
    connection: Option<&str>,
) -> String {
    squall_tests::echo_expected(method, uri, "1.1", body, connection).replacen(
        "X-Protocol: http\r\n",
        "X-Protocol: https\r\n",
        1,
    )
}

/// Python's ssl relaying plain connections to a TLS server (see `tests/tls_bridge.py`).
pub struct Bridge {
    child: Child,
    addr: SocketAddr,
    events: Receiver<Value>,
}

impl Bridge {
    /// A bridge to `server` that trusts the test CA and verifies the name `127.0.0.1`, with
    /// the extra `tls_bridge.py` arguments `args` (`--sni NAME`, `--alpn LIST`, `--eof notify`,
    /// `--tls 1.2`...).
    pub fn start(server: SocketAddr, args: &[&str]) -> Bridge {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tls_bridge.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--connect")
            .arg(server.to_string())
            .arg("--ca")
            .arg(&pki().ca)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the TLS tests (apt-get install python3)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = port_tx.send(first);
            }
            for line in lines.map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("bridge event is JSON");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let first = port_rx
            .recv_timeout(READ_TIMEOUT)
            .expect("tls_bridge.py did not start");
        let port: u16 = first
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("tls_bridge.py said {first:?}"));
        Bridge {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            events: rx,
        }
    }

    /// Where the bridge listens for plain connections.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A plain client whose connection the bridge carries over TLS.
    pub fn connect(&self) -> WireClient {
        WireClient::connect(self.addr)
    }

    /// The next event (bounded wait).
    pub fn event(&self) -> Value {
        self.events
            .recv_timeout(READ_TIMEOUT)
            .expect("no event from tls_bridge.py")
    }

    /// The next handshake outcome: the event of a connection that has `version` or `error`.
    pub fn handshake(&self) -> Value {
        loop {
            let e = self.event();
            if e.get("version").is_some() || e.get("error").is_some() {
                return e;
            }
        }
    }

    /// The next `closed` event: how the server ended a connection.
    pub fn closed(&self) -> String {
        loop {
            let e = self.event();
            if let Some(c) = e.get("closed") {
                return c.as_str().unwrap_or_default().to_owned();
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl (trusting the test CA) with `args`; returns its exit status and stdout.
pub fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30", "--cacert"])
        .arg(&pki().ca)
        .args(args)
        .output()
        .expect("curl is needed for the TLS tests (apt-get install curl)");
    (out.status.code().unwrap_or(-1), out.stdout)
}
