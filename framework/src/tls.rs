//! TLS settings (feature `tls`): [`ServerTlsConfig`] for an HTTPS server (Tornado's
//! `ssl_options`) and [`ClientTlsConfig`] for the HTTP client's `https` (Tornado's `ca_certs`),
//! on [rustls](https://docs.rs/rustls) with its `ring` crypto provider.
//!
//! This module only builds configurations; the TLS sessions themselves run inside
//! [`IOStream`](crate::iostream::IOStream), under its read and write buffers (see
//! [`IOStream::start_tls_server`](crate::iostream::IOStream::start_tls_server)), so
//! HTTP/1.1 and everything above it run unchanged over TLS.
//!
//! ### What a server configuration holds
//!
//! - One or more certificate chains with their private keys, read from PEM files. The first is
//!   the default; with several, each handshake gets the first whose certificate is valid for
//!   the name the client asked for (SNI), wildcards included, else the default.
//! - TLS 1.3 and TLS 1.2 (rustls's safe cipher suites only), ALPN `http/1.1`: a client that
//!   offers ALPN without `http/1.1` (only `h2`, say) is refused with the
//!   `no_application_protocol` alert (RFC 7301 §3.2).
//! - No client certificates; session resumption through rustls's in-memory cache (256
//!   sessions; TLS 1.3 clients get two single-use tickets naming them), unless
//!   [`session_resumption(false)`](ServerTlsConfigBuilder::session_resumption) turns it off.
//!
//! [`ServerTlsConfig::from_rustls`] takes any `rustls::ServerConfig` instead (client
//! certificates, other protocols); the rustls crate is re-exported as [`rustls`] so that
//! its version always matches.
//!
//! ### What a client configuration verifies
//!
//! Server certificates are verified by default, against Mozilla's root certificates as
//! shipped by the `webpki-roots` crate: the same roots on every machine, nothing read from
//! disk, and a minimal container without a `ca-certificates` package still verifies. A
//! private CA is added with [`ClientTlsConfigBuilder::add_root_pem_file`]; the operating
//! system's bundle can be loaded the same way (`/etc/ssl/certs/ca-certificates.crt` on
//! Debian), with [`without_webpki_roots`](ClientTlsConfigBuilder::without_webpki_roots) to
//! trust only it.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

pub use rustls;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol Squall speaks.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider every configuration here uses: rustls's `ring` (pure Rust and
/// assembly; builds with a C compiler, no cmake).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Why a TLS configuration could not be built: a PEM file missing or malformed, a key that
/// does not match its certificate, no certificate at all.
#[derive(Debug)]
pub struct TlsError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TlsError {
    fn new(message: impl Into<String>) -> TlsError {
        TlsError {
            message: message.into(),
            source: None,
        }
    }

    fn with(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TlsError {
        TlsError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{}: {s}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl From<TlsError> for std::io::Error {
    fn from(e: TlsError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

// ----- server ------------------------------------------------------------------------------

/// An HTTPS server's TLS settings, for
/// [`HttpServerOptions::tls`](crate::http1::HttpServerOptions::tls). Cheap to clone (shared).
///
/// # Examples
///
/// ```no_run
/// use squall::http1::HttpServerOptions;
/// use squall::tls::ServerTlsConfig;
///
/// let tls = ServerTlsConfig::builder()
///     .certificate_pem_files("example.com.crt", "example.com.key")?
///     .certificate_pem_files("example.org.crt", "example.org.key")? // chosen by SNI
///     .build()?;
/// let options = HttpServerOptions { tls: Some(tls), ..HttpServerOptions::default() };
/// # Ok::<(), squall::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct ServerTlsConfig {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for ServerTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTlsConfig")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl ServerTlsConfig {
    /// One certificate chain (`cert`: the server's certificate first, then intermediates) and
    /// its private key (`key`: PKCS#8, PKCS#1 or SEC1), both PEM files: Tornado's
    /// `ssl_options={"certfile": cert, "keyfile": key}`.
    ///
    /// # Errors
    ///
    /// A file cannot be read, holds no certificate or key, or the key does not match.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTlsConfig, TlsError> {
        ServerTlsConfig::builder()
            .certificate_pem_files(cert, key)?
            .build()
    }

    /// A builder, to serve several certificates chosen by SNI.
    pub fn builder() -> ServerTlsConfigBuilder {
        ServerTlsConfigBuilder {
            certs: Vec::new(),
            resumption: true,
        }
    }

    /// Any rustls server configuration, used as it is (its ALPN list included: keep
    /// `http/1.1` in it, or none).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> ServerTlsConfig {
        ServerTlsConfig { config }
    }

    /// The rustls configuration behind this one.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }
}

/// Builds a [`ServerTlsConfig`] from one or more certificates.
#[derive(Debug)]
pub struct ServerTlsConfigBuilder {
    certs: Vec<Arc<CertifiedKey>>,
    resumption: bool,
}

impl ServerTlsConfigBuilder {
    /// Adds a certificate chain and its key from PEM files. The first one added is the default;
    /// later ones are chosen for clients whose SNI name they are valid for.
    ///
    /// # Errors
    ///
    /// As [`ServerTlsConfig::from_pem_files`].
    pub fn certificate_pem_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTlsConfigBuilder, TlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let cert_pem = std::fs::read(cert)
            .map_err(|e| TlsError::with(format!("reading {}", cert.display()), e))?;
        let key_pem = std::fs::read(key)
            .map_err(|e| TlsError::with(format!("reading {}", key.display()), e))?;
        self.add(&cert_pem, &key_pem, &cert.display().to_string())
    }

    /// Adds a certificate chain and its key given as PEM text (see
    /// [`certificate_pem_files`](ServerTlsConfigBuilder::certificate_pem_files)).
    ///
    /// # Errors
    ///
    /// No certificate or key in the text, or the key does not match the certificate.
    pub fn certificate_pem(
        self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<ServerTlsConfigBuilder, TlsError> {
        self.add(cert_pem, key_pem, "the certificate")
    }

    fn add(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
        what: &str,
    ) -> Result<ServerTlsConfigBuilder, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::with(format!("{what}: bad PEM"), e))?;
        if chain.is_empty() {
            return Err(TlsError::new(format!("{what}: no CERTIFICATE in the PEM")));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::with(format!("{what}: no usable private key"), e))?;
        let certified = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| TlsError::with(format!("{what}: key and certificate"), e))?;
        self.certs.push(Arc::new(certified));
        Ok(self)
    }

    /// Whether returning clients may resume their session (an abbreviated handshake, no
    /// certificate sent or signed): on by default. Off (Python's `ssl.OP_NO_TICKET` with no
    /// session cache), every connection makes a full handshake: more CPU per connection, and
    /// no session state kept on the server.
    pub fn session_resumption(mut self, on: bool) -> ServerTlsConfigBuilder {
        self.resumption = on;
        self
    }

    /// The configuration: TLS 1.3 and 1.2, ALPN `http/1.1`, the certificates by SNI.
    ///
    /// # Errors
    ///
    /// No certificate was added.
    pub fn build(self) -> Result<ServerTlsConfig, TlsError> {
        if self.certs.is_empty() {
            return Err(TlsError::new("a TLS server needs at least one certificate"));
        }
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::with("TLS versions", e))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SniResolver { certs: self.certs }));
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        if !self.resumption {
            // No session IDs kept (TLS 1.2) nor TLS 1.3 tickets issued; the ticketer was
            // never on (rustls's default).
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        Ok(ServerTlsConfig {
            config: Arc::new(config),
        })
    }
}

/// Picks the certificate for a client's SNI name: the first valid for it, else the first.
#[derive(Debug)]
struct SniResolver {
    certs: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let default = self.certs.first();
        if self.certs.len() == 1 {
            return default.cloned();
        }
        let name = hello
            .server_name()
            .and_then(|n| ServerName::try_from(n).ok());
        let Some(name) = name else {
            return default.cloned();
        };
        self.certs
            .iter()
            .find(|ck| {
                ck.end_entity_cert().is_ok_and(|der| {
                    webpki::EndEntityCert::try_from(der)
                        .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
                })
            })
            .or(default)
            .cloned()
    }
}

// ----- client ------------------------------------------------------------------------------

/// The HTTP client's TLS settings: which certificate authorities it trusts (see the
/// [module docs](self)). The default trusts Mozilla's roots (`webpki-roots`). Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use squall::tls::ClientTlsConfig;
///
/// // Also trust a private CA (Tornado's `ca_certs`).
/// let tls = ClientTlsConfig::builder().add_root_pem_file("internal-ca.pem")?.build()?;
/// # Ok::<(), squall::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct ClientTlsConfig {
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl Default for ClientTlsConfig {
    /// Mozilla's roots, built once per process and shared.
    fn default() -> ClientTlsConfig {
        static DEFAULT: OnceLock<ClientTlsConfig> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                ClientTlsConfig::builder()
                    .build()
                    .expect("the webpki roots make a valid configuration")
            })
            .clone()
    }
}

impl ClientTlsConfig {
    /// A builder: Mozilla's roots, plus any added.
    pub fn builder() -> ClientTlsConfigBuilder {
        ClientTlsConfigBuilder {
            roots: rustls::RootCertStore::empty(),
            webpki_roots: true,
        }
    }

    /// Any rustls client configuration, used as it is.
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> ClientTlsConfig {
        ClientTlsConfig { config }
    }

    /// The rustls configuration behind this one.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

/// Builds a [`ClientTlsConfig`].
pub struct ClientTlsConfigBuilder {
    roots: rustls::RootCertStore,
    webpki_roots: bool,
}

impl fmt::Debug for ClientTlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfigBuilder")
            .field("added_roots", &self.roots.len())
            .field("webpki_roots", &self.webpki_roots)
            .finish()
    }
}

impl ClientTlsConfigBuilder {
    /// Also trusts every certificate in a PEM file (a private CA, a test certificate, or the
    /// system's bundle).
    ///
    /// # Errors
    ///
    /// The file cannot be read or holds no usable certificate.
    pub fn add_root_pem_file(
        self,
        path: impl AsRef<Path>,
    ) -> Result<ClientTlsConfigBuilder, TlsError> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| TlsError::with(format!("reading {}", path.display()), e))?;
        self.add_root_pem(&pem)
    }

    /// Also trusts every certificate in PEM text.
    ///
    /// # Errors
    ///
    /// The text holds no usable certificate.
    pub fn add_root_pem(mut self, pem: &[u8]) -> Result<ClientTlsConfigBuilder, TlsError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::with("root certificates: bad PEM", e))?;
        if certs.is_empty() {
            return Err(TlsError::new(
                "root certificates: no CERTIFICATE in the PEM",
            ));
        }
        let (added, _ignored) = self.roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsError::new("root certificates: none could be parsed"));
        }
        Ok(self)
    }

    /// Trusts only the roots added here, not Mozilla's.
    pub fn without_webpki_roots(mut self) -> ClientTlsConfigBuilder {
        self.webpki_roots = false;
        self
    }

    /// The configuration: TLS 1.3 and 1.2, ALPN `http/1.1`, certificates verified.
    ///
    /// # Errors
    ///
    /// No root certificate to trust at all.
    pub fn build(mut self) -> Result<ClientTlsConfig, TlsError> {
        if self.webpki_roots {
            self.roots
                .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if self.roots.is_empty() {
            return Err(TlsError::new(
                "a TLS client needs at least one root certificate",
            ));
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::with("TLS versions", e))?
            .with_root_certificates(self.roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(ClientTlsConfig {
            config: Arc::new(config),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_pem_is_an_error_not_a_panic() {
        let e = ServerTlsConfig::builder()
            .certificate_pem(b"not pem", b"not pem")
            .unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        let e = ServerTlsConfig::builder().build().unwrap_err();
        assert!(e.to_string().contains("at least one certificate"), "{e}");
        let e = ServerTlsConfig::from_pem_files("/nonexistent/c.pem", "/nonexistent/k.pem")
            .unwrap_err();
        assert!(e.to_string().contains("reading /nonexistent/c.pem"), "{e}");
        let e = ClientTlsConfig::builder().add_root_pem(b"").unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        let e = ClientTlsConfig::builder()
            .without_webpki_roots()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("at least one root"), "{e}");
    }

    #[test]
    fn default_client_config_offers_http11() {
        let c = ClientTlsConfig::default();
        assert_eq!(c.rustls_config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
