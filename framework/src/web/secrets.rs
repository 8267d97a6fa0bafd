//! Where a `cookie_secret` comes from and whether it is strong enough to sign with.
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

use super::cookies::{CookieSecrets, CookieSecretsError};
use super::error::{SetupError, SetupErrorKind};

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
