//! Request arguments, Tornado-style: from the query string and from urlencoded or
//! multipart/form-data bodies, parsed lazily on first use.
//!
//! `argument` / `arguments` strip surrounding whitespace, as Tornado's `get_argument` does by
//! default; [`all_arguments`](Context::all_arguments) gives the raw values. A body that does
//! not parse (bad encoding, broken multipart) is a 400, never a panic.

use std::cell::OnceCell;

use super::context::Context;
use super::error::{HttpError, Result};
use crate::httputil::{parse_body_arguments, parse_query, UploadedFile};

type Pairs = Vec<(String, String)>;
type Files = Vec<(String, UploadedFile)>;

/// Parsed arguments, computed on first access.
#[derive(Default)]
pub(crate) struct ArgsCache {
    query: OnceCell<std::result::Result<Pairs, String>>,
    body: OnceCell<std::result::Result<(Pairs, Files), String>>,
}

impl ArgsCache {
    /// Whether anything was parsed (then a reused context must forget it).
    pub(crate) fn is_filled(&self) -> bool {
        self.query.get().is_some() || self.body.get().is_some()
    }
}

fn bad(what: &str, e: &str) -> HttpError {
    HttpError::new(400).log(format!("invalid {what}: {e}"))
}

impl Context {
    fn query_pairs(&self) -> Result<&Pairs> {
        self.parts
            .args_cache
            .query
            .get_or_init(|| parse_query(self.query().as_bytes()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| bad("query string", e))
    }

    fn body_parsed(&self) -> Result<&(Pairs, Files)> {
        self.parts
            .args_cache
            .body
            .get_or_init(|| {
                // An empty body has no arguments, whatever its Content-Type says. This is also
                // every streamed request (`stream_request_body`): its body went to
                // `data_received`, and "parsing" the empty remainder as multipart would fail,
                // making even query arguments (the XSRF token of a streamed upload) a 400.
                if self.body().is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                let ct = self.header("Content-Type").unwrap_or("");
                parse_body_arguments(ct, self.body()).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| bad("request body", e))
    }

    /// The last value of argument `name` from the query or the body, whitespace-stripped.
    ///
    /// # Errors
    ///
    /// 400 if it is missing (Tornado's `MissingArgumentError`) or the body is malformed.
    pub fn argument(&self, name: &str) -> Result<String> {
        self.argument_opt(name)?
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// The last value of argument `name`, or `None` if absent.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed.
    pub fn argument_opt(&self, name: &str) -> Result<Option<String>> {
        Ok(self.arguments(name)?.pop())
    }

    /// Every value of argument `name` (query first, then body), whitespace-stripped.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed.
    pub fn arguments(&self, name: &str) -> Result<Vec<String>> {
        let mut out = self.query_arguments(name)?;
        out.extend(self.body_arguments(name)?);
        Ok(out)
    }

    /// Every value of `name` in the query string, whitespace-stripped.
    ///
    /// # Errors
    ///
    /// 400 if the query string is malformed.
    pub fn query_arguments(&self, name: &str) -> Result<Vec<String>> {
        Ok(select(self.query_pairs()?, name))
    }

    /// The last value of `name` in the query string.
    ///
    /// # Errors
    ///
    /// 400 if missing or malformed.
    pub fn query_argument(&self, name: &str) -> Result<String> {
        self.query_arguments(name)?
            .pop()
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// Every value of `name` in the body (urlencoded or multipart), whitespace-stripped.
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed.
    pub fn body_arguments(&self, name: &str) -> Result<Vec<String>> {
        Ok(select(&self.body_parsed()?.0, name))
    }

    /// The last value of `name` in the body.
    ///
    /// # Errors
    ///
    /// 400 if missing or malformed.
    pub fn body_argument(&self, name: &str) -> Result<String> {
        self.body_arguments(name)?
            .pop()
            .ok_or_else(|| HttpError::new(400).log(format!("Missing argument {name}")))
    }

    /// All arguments, query then body, grouped by name in order of first appearance, raw
    /// (not stripped): Tornado's `request.arguments`.
    ///
    /// # Errors
    ///
    /// 400 if the query or body is malformed.
    pub fn all_arguments(&self) -> Result<Vec<(String, Vec<String>)>> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let query = self.query_pairs()?;
        let body = &self.body_parsed()?.0;
        for (k, v) in query.iter().chain(body.iter()) {
            match out.iter_mut().find(|(n, _)| n == k) {
                Some((_, vs)) => vs.push(v.clone()),
                None => out.push((k.clone(), vec![v.clone()])),
            }
        }
        Ok(out)
    }

    /// The files uploaded under field `name` (multipart/form-data).
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed.
    pub fn files(&self, name: &str) -> Result<Vec<&UploadedFile>> {
        Ok(self
            .body_parsed()?
            .1
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f)
            .collect())
    }

    /// Every uploaded file with its field name.
    ///
    /// # Errors
    ///
    /// 400 if the body is malformed.
    pub fn all_files(&self) -> Result<&[(String, UploadedFile)]> {
        Ok(&self.body_parsed()?.1)
    }
}

fn select(pairs: &Pairs, name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}
