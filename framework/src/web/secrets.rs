//! The cookie secrets ([`CookieSecrets`], Tornado's `cookie_secret`): the keys signed values
//! and XSRF tokens are made with, where they come from and whether they are strong enough
//! to sign with.
//!
//! ### Invariants
//!
//! - An [`Application`](super::Application) never signs with an empty key:
//!   [`check_cookie_secret`] refuses it at start-up, and [`CookieSecrets::versioned`] refuses
//!   an empty key of any version. A key shorter than [`RECOMMENDED_SECRET_LEN`] bytes is
//!   accepted with a warning in the log (HMAC-SHA256 is only as strong as its key).
//! - [`CookieSecrets::from_env`] never falls back to a public value: an unset variable gives a
//!   random secret (logged, since signed cookies and XSRF tokens then die with the process),
//!   a set but empty one is an error.

use std::collections::BTreeMap;
use std::fmt;

use super::crypto::{hmac_key, HmacSha256};
use super::error::{SetupError, SetupErrorKind};

/// The secret(s) signed values are keyed with: Tornado's `cookie_secret`, either one string or
/// a map of key versions for rotation.
///
/// Signing uses the current key and writes its version into the value; verification uses the
/// key of the version the value names. To rotate, add a new version, make it current, and keep
/// the old one until every value signed with it has expired.
///
/// `Debug` lists the key versions, never the keys.
///
/// # Examples
///
/// ```
/// use squall::web::cookies::{create_signed_value, decode_signed_value, CookieSecrets};
///
/// let old = CookieSecrets::versioned([(0, "first secret")], 0).unwrap();
/// let signed = create_signed_value(&old, "user", b"42", 1_700_000_000);
///
/// let rotated = CookieSecrets::versioned([(0, "first secret"), (1, "second")], 1).unwrap();
/// let decoded = decode_signed_value(&rotated, "user", &signed, 31.0, 1_700_000_100);
/// assert_eq!(decoded, Some(b"42".to_vec()));
/// assert!(create_signed_value(&rotated, "user", b"42", 1_700_000_000).starts_with("2|1:1|"));
/// ```
#[derive(Clone)]
pub struct CookieSecrets {
    keys: Keys,
    /// The length in bytes of the shortest key, for the strength check at start-up (the keys
    /// themselves are kept only as HMAC states).
    shortest: usize,
}

#[derive(Clone)]
enum Keys {
    /// One unversioned secret: values are signed with key version 0 and verified whatever
    /// version they name (as Tornado does with a plain string secret; the version is covered
    /// by the signature, so it cannot be altered).
    Single(HmacSha256),
    Versioned {
        keys: BTreeMap<u32, HmacSha256>,
        current: u32,
        /// A copy of `keys[current]`, so signing needs no lookup that could fail.
        signer: HmacSha256,
    },
}

/// Why [`CookieSecrets::versioned`] or [`CookieSecrets::from_env`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieSecretsError {
    /// The current version is not among the keys.
    UnknownCurrentVersion(u32),
    /// A version was given twice.
    DuplicateVersion(u32),
    /// The key of this version is empty: anyone could sign values with it.
    EmptyKey(u32),
    /// The environment variable meant to hold the secret is set but empty or blank.
    EmptyVariable(String),
    /// The OS random source failed while generating a secret.
    NoRandomness(getrandom::Error),
}

impl fmt::Display for CookieSecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieSecretsError::UnknownCurrentVersion(v) => {
                write!(f, "current cookie secret version {v} is not among the keys")
            }
            CookieSecretsError::DuplicateVersion(v) => {
                write!(f, "cookie secret version {v} given twice")
            }
            CookieSecretsError::EmptyKey(v) => {
                write!(f, "cookie secret version {v} is empty")
            }
            CookieSecretsError::EmptyVariable(name) => write!(
                f,
                "the environment variable {name} is set but empty (or blank): set it to a long \
                 random secret, or unset it for a random one per start"
            ),
            CookieSecretsError::NoRandomness(e) => {
                write!(f, "no randomness for a cookie secret: {e}")
            }
        }
    }
}

impl std::error::Error for CookieSecretsError {}

impl From<CookieSecretsError> for std::io::Error {
    fn from(e: CookieSecretsError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

impl CookieSecrets {
    /// One secret, without key versions (Tornado's `cookie_secret = "..."`). Values are signed
    /// with key version `0`.
    ///
    /// Use a long random secret: anyone who knows it can forge every signed value. An
    /// [`Application`](crate::web::Application) refuses an empty one and logs a warning for one
    /// shorter than 32 bytes; [`from_env`](CookieSecrets::from_env) reads one from the
    /// environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::CookieSecrets;
    ///
    /// let secrets = CookieSecrets::single("a long random string");
    /// assert_eq!(secrets.current_version(), None);
    /// ```
    pub fn single(secret: impl AsRef<[u8]>) -> CookieSecrets {
        CookieSecrets {
            keys: Keys::Single(hmac_key(secret.as_ref())),
            shortest: secret.as_ref().len(),
        }
    }

    /// Several secrets by key version (Tornado's `cookie_secret = {0: "...", 1: "..."}`), of
    /// which `current` signs.
    ///
    /// # Errors
    ///
    /// [`CookieSecretsError::UnknownCurrentVersion`] if `current` is not among the keys,
    /// [`CookieSecretsError::DuplicateVersion`] if a version appears twice,
    /// [`CookieSecretsError::EmptyKey`] if a key is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{CookieSecrets, CookieSecretsError};
    ///
    /// let ok = CookieSecrets::versioned([(0, "old".to_owned()), (1, "new".to_owned())], 1);
    /// assert_eq!(ok.unwrap().current_version(), Some(1));
    ///
    /// let missing = CookieSecrets::versioned([(0, "old".to_owned())], 1);
    /// assert_eq!(missing.unwrap_err(), CookieSecretsError::UnknownCurrentVersion(1));
    /// ```
    pub fn versioned<S: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = (u32, S)>,
        current: u32,
    ) -> Result<CookieSecrets, CookieSecretsError> {
        let mut keys = BTreeMap::new();
        let mut shortest = usize::MAX;
        for (version, secret) in secrets {
            if secret.as_ref().is_empty() {
                return Err(CookieSecretsError::EmptyKey(version));
            }
            shortest = shortest.min(secret.as_ref().len());
            if keys.insert(version, hmac_key(secret.as_ref())).is_some() {
                return Err(CookieSecretsError::DuplicateVersion(version));
            }
        }
        let signer = match keys.get(&current) {
            Some(mac) => mac.clone(),
            None => return Err(CookieSecretsError::UnknownCurrentVersion(current)),
        };
        Ok(CookieSecrets {
            keys: Keys::Versioned {
                keys,
                current,
                signer,
            },
            shortest,
        })
    }

    /// The key version that signs, or `None` for a [`single`](CookieSecrets::single) secret
    /// (whose values carry version `0`).
    ///
    /// Compare it with [`signature_key_version`](crate::web::cookies::signature_key_version) to re-sign values made with an old key.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::CookieSecrets;
    ///
    /// let secrets = CookieSecrets::versioned([(3, "k")], 3).unwrap();
    /// assert_eq!(secrets.current_version(), Some(3));
    /// ```
    pub fn current_version(&self) -> Option<u32> {
        match &self.keys {
            Keys::Single(_) => None,
            Keys::Versioned { current, .. } => Some(*current),
        }
    }

    /// The length in bytes of the shortest key.
    pub(crate) fn shortest_key_len(&self) -> usize {
        self.shortest
    }

    pub(super) fn signing_key(&self) -> (u32, &HmacSha256) {
        match &self.keys {
            Keys::Single(mac) => (0, mac),
            Keys::Versioned {
                current, signer, ..
            } => (*current, signer),
        }
    }

    pub(super) fn verifying_key(&self, version: u32) -> Option<&HmacSha256> {
        match &self.keys {
            Keys::Single(mac) => Some(mac),
            Keys::Versioned { keys, .. } => keys.get(&version),
        }
    }
}

impl fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CookieSecrets");
        match &self.keys {
            Keys::Single(_) => d.field("versions", &"unversioned"),
            Keys::Versioned { keys, current, .. } => d
                .field("versions", &keys.keys().collect::<Vec<_>>())
                .field("current", current),
        };
        d.finish_non_exhaustive()
    }
}

/// The shortest `cookie_secret` accepted without a warning, in bytes (as long as the
/// HMAC-SHA256 output; Django and Rails generate 50 and 64 random characters).
pub const RECOMMENDED_SECRET_LEN: usize = 32;

impl CookieSecrets {
    /// A fresh secret of 32 random bytes from the OS random source.
    ///
    /// Values signed with it verify only in this process and only until it exits: use it for
    /// development, or where losing every session and XSRF cookie at restart is acceptable.
    /// Several processes behind one balancer need one shared secret instead.
    ///
    /// # Errors
    ///
    /// [`CookieSecretsError::NoRandomness`] if the OS random source fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{create_signed_value, decode_signed_value, CookieSecrets};
    ///
    /// let a = CookieSecrets::random().unwrap();
    /// let b = CookieSecrets::random().unwrap();
    /// let signed = create_signed_value(&a, "user", b"ann", 1_700_000_000);
    /// assert!(decode_signed_value(&a, "user", &signed, 31.0, 1_700_000_001).is_some());
    /// assert!(decode_signed_value(&b, "user", &signed, 31.0, 1_700_000_001).is_none());
    /// ```
    pub fn random() -> Result<CookieSecrets, CookieSecretsError> {
        let mut key = [0u8; RECOMMENDED_SECRET_LEN];
        getrandom::getrandom(&mut key).map_err(CookieSecretsError::NoRandomness)?;
        Ok(CookieSecrets::single(key))
    }

    /// The secret in environment variable `name`, the way an application's `main` should read
    /// one: its bytes when it is set and not empty; a [`random`](CookieSecrets::random) secret
    /// when it is unset, with a warning in the log that signed cookies and XSRF tokens will not
    /// survive a restart; an error when it is set but empty or blank (a deployment that meant
    /// to set it and failed must not start with a guessable key).
    ///
    /// # Errors
    ///
    /// [`CookieSecretsError::EmptyVariable`] when the variable is set but empty or blank
    /// (only whitespace),
    /// [`CookieSecretsError::NoRandomness`] when it is unset and the OS random source fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::web::cookies::{CookieSecrets, CookieSecretsError};
    ///
    /// std::env::set_var("DOC_SECRET", "");
    /// assert_eq!(
    ///     CookieSecrets::from_env("DOC_SECRET").unwrap_err(),
    ///     CookieSecretsError::EmptyVariable("DOC_SECRET".into())
    /// );
    /// std::env::set_var("DOC_SECRET", " \t ");
    /// assert!(CookieSecrets::from_env("DOC_SECRET").is_err());
    /// std::env::set_var("DOC_SECRET", "a long random secret from the deployment's vault");
    /// assert!(CookieSecrets::from_env("DOC_SECRET").is_ok());
    /// std::env::remove_var("DOC_SECRET");
    /// assert!(CookieSecrets::from_env("DOC_SECRET").is_ok()); // random, with a warning
    /// ```
    pub fn from_env(name: &str) -> Result<CookieSecrets, CookieSecretsError> {
        match std::env::var_os(name) {
            // Blank is empty: a secret of spaces is as easy to guess.
            Some(value) if value.as_encoded_bytes().trim_ascii().is_empty() => {
                Err(CookieSecretsError::EmptyVariable(name.to_owned()))
            }
            Some(value) => Ok(CookieSecrets::single(value.as_encoded_bytes())),
            None => {
                log::warn!(
                    "squall: {name} is not set: signing cookies with a random secret; signed \
                     cookies and XSRF tokens will not survive a restart (set {name} to a long \
                     random secret shared by every instance)"
                );
                CookieSecrets::random()
            }
        }
    }
}

impl From<CookieSecretsError> for SetupError {
    fn from(e: CookieSecretsError) -> SetupError {
        SetupError::new(SetupErrorKind::Config, "Settings::cookie_secret").with_source(e)
    }
}

/// The start-up check of `Settings::cookie_secret`: an error for an empty key, a warning in
/// the log for one shorter than [`RECOMMENDED_SECRET_LEN`].
pub(crate) fn check_cookie_secret(secrets: &CookieSecrets) -> Result<(), SetupError> {
    match secrets.shortest_key_len() {
        0 => Err(SetupError::new(
            SetupErrorKind::Config,
            "Settings::cookie_secret is empty: anyone could forge signed cookies and XSRF \
             tokens; set it to a long random secret (at least 32 bytes), e.g. with \
             CookieSecrets::from_env",
        )),
        n if n < RECOMMENDED_SECRET_LEN => {
            log::warn!(
                "squall: Settings::cookie_secret is only {n} bytes long; use at least \
                 {RECOMMENDED_SECRET_LEN} random bytes"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_errors() {
        assert_eq!(
            CookieSecrets::versioned([(0, "a"), (0, "b")], 0).unwrap_err(),
            CookieSecretsError::DuplicateVersion(0)
        );
        assert_eq!(
            CookieSecrets::versioned(Vec::<(u32, String)>::new(), 0).unwrap_err(),
            CookieSecretsError::UnknownCurrentVersion(0)
        );
        assert_eq!(
            CookieSecrets::versioned([(0, "a"), (1, "")], 0).unwrap_err(),
            CookieSecretsError::EmptyKey(1)
        );
        let s = CookieSecrets::versioned([(0, "abc"), (1, "de")], 0).unwrap();
        assert_eq!(s.shortest_key_len(), 2);
        assert_eq!(CookieSecrets::single("").shortest_key_len(), 0);
    }

    #[test]
    fn empty_is_refused_short_is_accepted() {
        let e = check_cookie_secret(&CookieSecrets::single("")).unwrap_err();
        assert_eq!(e.kind(), SetupErrorKind::Config);
        assert!(
            e.to_string().contains("Settings::cookie_secret is empty"),
            "{e}"
        );
        assert!(check_cookie_secret(&CookieSecrets::single("short")).is_ok());
        assert!(check_cookie_secret(&CookieSecrets::single([7u8; 32])).is_ok());
    }

    #[test]
    fn random_secrets_differ_and_are_long_enough() {
        let a = CookieSecrets::random().unwrap();
        assert_eq!(a.shortest_key_len(), RECOMMENDED_SECRET_LEN);
        let b = CookieSecrets::random().unwrap();
        let signed = super::super::cookies::create_signed_value(&a, "n", b"v", 100);
        assert!(super::super::cookies::decode_signed_value(&b, "n", &signed, 31.0, 100).is_none());
    }

    #[test]
    fn secrets_error_names_the_setting() {
        let e: SetupError = CookieSecretsError::EmptyVariable("APP_SECRET".into()).into();
        // The setting in the message, the variable in the kept cause; Debug has both.
        assert_eq!(
            e.to_string(),
            "invalid configuration: Settings::cookie_secret"
        );
        let cause = std::error::Error::source(&e).expect("the secrets error is the source");
        assert!(cause.to_string().contains("APP_SECRET"), "{cause}");
        let text = format!("{e:?}");
        assert!(
            text.contains("cookie_secret") && text.contains("APP_SECRET"),
            "{text}"
        );
    }
}
