//! Cookies, signed cookies and XSRF protection on the [`Context`].
//!
//! The formats live in [`cookies`](super::cookies) and [`xsrf`](super::xsrf); this file
//! connects them to the request and response. Signed cookies and XSRF need the application's
//! `cookie_secret`: without it the application refuses to start with `xsrf_cookies` on, and a
//! handler that signs a cookie gets a 500 with a clear log message.
//!
//! ### Defaults of the cookies the framework sets
//!
//! Signed cookies and the `_xsrf` cookie get `SameSite=Lax` unless the handler chose another
//! value (a cross-site POST then carries neither), and `Secure` whenever the request came over
//! HTTPS, directly or through a proxy trusted with `xheaders` (a cookie set over HTTPS never
//! travels in clear text afterwards). Signed cookies are `HttpOnly` (script has no use for the
//! signed form, and cannot steal it) and expire after 30 days unless given an expiry; they are
//! accepted for [`SIGNED_COOKIE_MAX_AGE`] (31 days) after signing unless asked otherwise, as in
//! Tornado.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Context;
use crate::web::cookies::{
    create_signed_value, decode_signed_value, parse_cookies, Cookie, CookieSecrets, SameSite,
};
use crate::web::error::{HttpError, Result};
use crate::web::xsrf::{form_html, tokens_match, XsrfToken};

/// Name of the XSRF cookie and form field.
pub const XSRF_NAME: &str = "_xsrf";

/// How long after signing [`Context::signed_cookie`] accepts a signed cookie: 31 days,
/// Tornado's `max_age_days` default.
pub const SIGNED_COOKIE_MAX_AGE: Duration = Duration::from_secs(31 * 86_400);

/// How long a signed cookie set without an expiry lives in the browser: 30 days, Tornado's
/// `expires_days` default.
const SIGNED_COOKIE_EXPIRES: Duration = Duration::from_secs(30 * 86_400);

impl From<&str> for CookieSecrets {
    fn from(secret: &str) -> CookieSecrets {
        CookieSecrets::single(secret)
    }
}

impl From<String> for CookieSecrets {
    fn from(secret: String) -> CookieSecrets {
        CookieSecrets::single(secret)
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Context {
    /// The value of request cookie `name` (the last one if sent twice), if any.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies()
            .into_iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Every request cookie as `(name, value)`, in order.
    pub fn cookies(&self) -> Vec<(&str, &str)> {
        self.request()
            .header_all("Cookie")
            .flat_map(parse_cookies)
            .collect()
    }

    /// Adds a `Set-Cookie` header. A cookie without a path gets `Path=/` (Tornado's default).
    ///
    /// # Errors
    ///
    /// 500 if the name or value cannot be sent safely (not a token / not cookie-octets).
    pub fn set_cookie(&mut self, mut cookie: Cookie) -> Result<()> {
        if cookie.path.is_none() {
            cookie.path = Some("/".to_owned());
        }
        let value = cookie
            .to_header_value()
            .map_err(|e| HttpError::internal(format!("refused cookie {:?}: {e}", cookie.name)))?;
        self.add_header("Set-Cookie", value)
    }

    /// Tells the browser to delete cookie `name` (path `/`).
    pub fn clear_cookie(&mut self, name: &str) {
        if let Ok(v) = Cookie::deletion(name, Some("/"), None).to_header_value() {
            let _ = self.add_header("Set-Cookie", v);
        }
    }

    fn secrets(&self) -> Result<&CookieSecrets> {
        self.settings()
            .cookie_secret
            .as_ref()
            .ok_or_else(|| HttpError::internal("signed cookies need Settings::cookie_secret"))
    }

    /// The framework's defaults for a cookie it signs or sets for XSRF (see the module docs):
    /// `SameSite=Lax` unless chosen, `Secure` over HTTPS.
    fn harden(&self, cookie: &mut Cookie) {
        if cookie.same_site.is_none() {
            cookie.same_site = Some(SameSite::Lax);
        }
        if self.protocol() == "https" {
            cookie.secure = true;
        }
    }

    /// Sets `cookie` with its value signed with the application's `cookie_secret` (Tornado's
    /// `set_signed_cookie`, version-2 format): the same [`Cookie`] options as
    /// [`set_cookie`](Context::set_cookie) (path, domain, expiry, `SameSite`), with these
    /// defaults: `Expires` in 30 days when neither `expires` nor `max_age` is set, `SameSite=Lax`
    /// when `same_site` is not, `Secure` over HTTPS, and always `HttpOnly`.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    /// use squall::web::cookies::{Cookie, SameSite};
    ///
    /// #[derive(Clone, Default)]
    /// struct Login;
    ///
    /// #[handler]
    /// impl Login {
    ///     fn post(&mut self, cx: &mut Context) -> Result<()> {
    ///         let name = cx.body_argument("name")?;
    ///         // Path=/, Expires in 30 days, HttpOnly, SameSite=Lax (and Secure over HTTPS).
    ///         cx.set_signed_cookie(Cookie::new("user", &name))?;
    ///         // A session cookie for /admin only, sent on same-site requests only.
    ///         cx.set_signed_cookie(
    ///             Cookie::new("admin", &name).path("/admin").max_age(3600).same_site(SameSite::Strict),
    ///         )
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// 500 if there is no `cookie_secret`, or the cookie cannot be sent (a name that is not a
    /// token, a path or domain with `;` or a control character).
    pub fn set_signed_cookie(&mut self, mut cookie: Cookie) -> Result<()> {
        cookie.value = create_signed_value(
            self.secrets()?,
            &cookie.name,
            cookie.value.as_bytes(),
            now_secs(),
        );
        if cookie.expires.is_none() && cookie.max_age.is_none() {
            cookie.expires = Some(SystemTime::now() + SIGNED_COOKIE_EXPIRES);
        }
        cookie.http_only = true;
        self.harden(&mut cookie);
        self.set_cookie(cookie)
    }

    /// The value of signed cookie `name` if its signature is valid and it was signed at most
    /// [`SIGNED_COOKIE_MAX_AGE`] (31 days) ago (Tornado's `get_signed_cookie`); tampered,
    /// expired, malformed or non-UTF-8 values read as `None`.
    pub fn signed_cookie(&self, name: &str) -> Option<String> {
        self.signed_cookie_with_max_age(name, SIGNED_COOKIE_MAX_AGE)
    }

    /// As [`signed_cookie`](Context::signed_cookie), accepting values signed at most `max_age`
    /// ago (Tornado's `max_age_days`).
    pub fn signed_cookie_with_max_age(&self, name: &str, max_age: Duration) -> Option<String> {
        self.signed_cookie_bytes(name, max_age)
            .and_then(|v| String::from_utf8(v).ok())
    }

    /// The bytes of signed cookie `name` if its signature is valid and it was signed at most
    /// `max_age` ago ([`SIGNED_COOKIE_MAX_AGE`] is the usual value): for values that are not
    /// UTF-8, signed by Tornado or with
    /// [`create_signed_value`](crate::web::cookies::create_signed_value).
    pub fn signed_cookie_bytes(&self, name: &str, max_age: Duration) -> Option<Vec<u8>> {
        let secrets = self.secrets().ok()?;
        let raw = self.cookie(name)?;
        let days = max_age.as_secs_f64() / 86_400.0;
        decode_signed_value(secrets, name, raw, days, now_secs())
    }

    /// The raw XSRF token: from a valid `_xsrf` cookie, or new (and set as the cookie).
    fn raw_xsrf_token(&mut self) -> Result<XsrfToken> {
        if let Some(t) = &self.parts.xsrf_cache {
            return Ok(t.clone());
        }
        let now = now_secs();
        let token = match self
            .cookie(XSRF_NAME)
            .and_then(|c| XsrfToken::decode(c, now))
        {
            Some(t) => t,
            None => {
                let t = XsrfToken::generate(now)
                    .map_err(|e| HttpError::internal(format!("no randomness for XSRF: {e}")))?;
                let encoded = t
                    .encode_v2()
                    .map_err(|e| HttpError::internal(format!("no randomness for XSRF: {e}")))?;
                let mut cookie = Cookie::new(XSRF_NAME, encoded).path("/");
                self.harden(&mut cookie);
                self.set_cookie(cookie)?;
                t
            }
        };
        self.parts.xsrf_cache = Some(token.clone());
        self.parts.touched.set(true);
        Ok(token)
    }

    #[cfg(feature = "templates")]
    /// The request's XSRF token if it has one already: made earlier in this request, or from
    /// a valid `_xsrf` cookie. Sets nothing.
    pub(crate) fn known_xsrf_token(&self) -> Option<XsrfToken> {
        if let Some(t) = &self.parts.xsrf_cache {
            return Some(t.clone());
        }
        self.cookie(XSRF_NAME)
            .and_then(|c| XsrfToken::decode(c, now_secs()))
    }

    #[cfg(feature = "templates")]
    /// Makes `token` (made without a cookie, by a template) the request's XSRF token, setting
    /// the `_xsrf` cookie, unless the request has one already.
    pub(crate) fn adopt_xsrf_token(&mut self, token: XsrfToken) -> Result<()> {
        if self.known_xsrf_token().is_some() {
            return Ok(());
        }
        let encoded = token
            .encode_v2()
            .map_err(|e| HttpError::internal(format!("no randomness for XSRF: {e}")))?;
        self.set_cookie(
            Cookie::new(XSRF_NAME, encoded)
                .path("/")
                .same_site(SameSite::Lax),
        )?;
        self.parts.xsrf_cache = Some(token);
        self.parts.touched.set(true);
        Ok(())
    }

    /// The XSRF token to put in a form or header, setting the `_xsrf` cookie on first use.
    /// Each call masks the same token with a fresh random mask (BREACH defence).
    ///
    /// # Errors
    ///
    /// 500 if the OS has no randomness to give.
    pub fn xsrf_token(&mut self) -> Result<String> {
        self.raw_xsrf_token()?
            .encode_v2()
            .map_err(|e| HttpError::internal(format!("no randomness for XSRF: {e}")))
    }

    /// `<input type="hidden" name="_xsrf" value="...">` for a form.
    ///
    /// # Errors
    ///
    /// As [`xsrf_token`](Context::xsrf_token).
    pub fn xsrf_form_html(&mut self) -> Result<String> {
        Ok(form_html(&self.xsrf_token()?))
    }

    /// Checks that the request carries the XSRF token (argument `_xsrf`, or header
    /// `X-XSRFToken` / `X-CSRFToken`) matching the `_xsrf` cookie. Runs automatically before
    /// `prepare` for POST, PUT, PATCH and DELETE when `xsrf_cookies` is on.
    ///
    /// # Errors
    ///
    /// 403 if the token is missing, malformed or does not match.
    pub fn check_xsrf_cookie(&mut self) -> Result<()> {
        let sent = match self
            .header("X-Xsrftoken")
            .or_else(|| self.header("X-Csrftoken"))
        {
            Some(h) => h.to_owned(),
            None => match self.argument_opt(XSRF_NAME) {
                Ok(Some(a)) => a,
                _ => return Err(HttpError::new(403).log("'_xsrf' argument missing from request")),
            },
        };
        let now = now_secs();
        let sent = XsrfToken::decode(&sent, now)
            .ok_or_else(|| HttpError::new(403).log("'_xsrf' argument has invalid format"))?;
        let cookie = self
            .cookie(XSRF_NAME)
            .and_then(|c| XsrfToken::decode(c, now))
            .ok_or_else(|| HttpError::new(403).log("'_xsrf' cookie missing or invalid"))?;
        if !tokens_match(&sent, &cookie) {
            return Err(HttpError::new(403).log("XSRF cookie does not match the request's token"));
        }
        Ok(())
    }
}
