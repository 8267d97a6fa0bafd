//! Cookies, signed cookies and XSRF protection on the [`Context`].
//!
//! The formats live in [`cookies`](super::cookies) and [`xsrf`](super::xsrf); this file
//! connects them to the request and response. Signed cookies and XSRF need the application's
//! `cookie_secret`: without it the application refuses to start with `xsrf_cookies` on, and a
//! handler that signs a cookie gets a 500 with a clear log message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::context::Context;
use super::cookies::{
    create_signed_value, decode_signed_value, parse_cookies, Cookie, CookieSecrets, SameSite,
};
use super::error::{HttpError, Result};
use super::xsrf::{form_html, tokens_match, XsrfToken};

/// Name of the XSRF cookie and form field.
pub const XSRF_NAME: &str = "_xsrf";

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

fn now_secs() -> u64 {
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

    /// Sets a cookie signed with the application's `cookie_secret` (Tornado's version-2
    /// format), valid 30 days, `HttpOnly`.
    ///
    /// # Errors
    ///
    /// 500 if there is no `cookie_secret` or the name is not a token.
    pub fn set_signed_cookie(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<()> {
        let signed = create_signed_value(self.secrets()?, name, value.as_ref(), now_secs());
        self.set_cookie(
            Cookie::new(name, signed)
                .expires(SystemTime::now() + Duration::from_secs(30 * 86400))
                .http_only(true),
        )
    }

    /// The value of signed cookie `name` if its signature is valid and it is at most
    /// `max_age_days` old (Tornado's default is 31); tampered, expired, malformed or
    /// non-UTF-8 values read as `None`.
    pub fn signed_cookie(&self, name: &str, max_age_days: f64) -> Option<String> {
        self.signed_cookie_bytes(name, max_age_days)
            .and_then(|v| String::from_utf8(v).ok())
    }

    /// As [`signed_cookie`](Context::signed_cookie), for binary values.
    pub fn signed_cookie_bytes(&self, name: &str, max_age_days: f64) -> Option<Vec<u8>> {
        let secrets = self.secrets().ok()?;
        let raw = self.cookie(name)?;
        decode_signed_value(secrets, name, raw, max_age_days, now_secs())
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
                self.set_cookie(
                    Cookie::new(XSRF_NAME, encoded)
                        .path("/")
                        .same_site(SameSite::Lax),
                )?;
                t
            }
        };
        self.parts.xsrf_cache = Some(token.clone());
        Ok(token)
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
