//! Typed input with serde: [`Context::query`], [`Context::form`] and [`Context::json_body`]
//! decode the request's arguments or JSON body into a `#[derive(Deserialize)]` type. Whatever
//! does not fit (a missing field, a value that does not parse, malformed JSON) is a 400 whose
//! message names the field, shown to the client (on the error page, or as the `message` of a
//! JSON error) and logged.
//!
//! How arguments map to fields is on [`Context::query`].

use std::borrow::Cow;

use serde::de::{
    self, value::Error as DeError, Deserialize, DeserializeOwned, DeserializeSeed, IntoDeserializer,
};

use super::context::Context;
use super::error::{HttpError, Result};

impl Context {
    /// The query string's arguments as a `T`.
    ///
    /// ### How arguments map to fields
    ///
    /// Query and form arguments are name/value strings; a field takes the values of the argument
    /// of its name:
    /// - a scalar field (`String`, numbers, `bool`, `char`, a unit-variant enum) takes the
    ///   last value, parsed with the type's rules: numbers as Rust parses them, `bool` from
    ///   `true`/`false`, `on`/`off`, `1`/`0`, `yes`/`no` (an HTML checkbox sends `on`);
    /// - `Option<T>` is `None` when the argument is absent or its last value is empty (an empty
    ///   form input);
    /// - `Vec<T>` takes every value, in order (`?tag=a&tag=b`);
    /// - a field with no argument is an error ("missing field `name`") unless it is an `Option`
    ///   or has `#[serde(default)]`; arguments no field names are ignored (so `_xsrf` is).
    ///
    /// Values are taken as sent (not whitespace-stripped, unlike [`Context::argument`]). Nested
    /// structures are not arguments: use JSON for them.
    ///
    /// # Errors
    ///
    /// 400, naming the field, if an argument is missing or does not parse; 400 if the query
    /// string is malformed.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Search {
    ///     q: String,
    ///     page: Option<u32>,
    ///     tag: Vec<String>,
    /// }
    ///
    /// #[derive(Clone, Default)]
    /// struct SearchHandler;
    ///
    /// #[handler]
    /// impl SearchHandler {
    ///     // GET /search?q=rust&tag=web&tag=async -> page None, two tags
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         let s: Search = cx.query()?;
    ///         cx.write(format!("{} p{} {:?}", s.q, s.page.unwrap_or(1), s.tag));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn query<T: DeserializeOwned>(&self) -> Result<T> {
        from_pairs(&self.query_pairs()?)
    }

    /// The body's form fields (`application/x-www-form-urlencoded` or `multipart/form-data`;
    /// uploaded files are not fields: see [`files`](Context::files)) as a `T`, mapped as
    /// [`query`](Context::query) maps the query string.
    ///
    /// # Errors
    ///
    /// 400, naming the field, if a field is missing or does not parse; 400 if the body is
    /// malformed.
    pub fn form<T: DeserializeOwned>(&self) -> Result<T> {
        from_pairs(&self.body_pairs()?)
    }

    /// Decodes the body as JSON into `T`.
    ///
    /// # Errors
    ///
    /// 400 if the body is not JSON (the message says where it breaks) or does not fit `T`
    /// (the message names the field, as a path such as `items[2].name`).
    #[cfg(feature = "json")]
    pub fn json_body<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(self.body());
        let value = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() || path == "." {
                    format!("invalid JSON body: {inner}")
                } else {
                    format!("field `{path}`: {inner}")
                }
            })
            .and_then(|v| {
                de.end()
                    .map(|()| v)
                    .map_err(|e| format!("invalid JSON body: {e}"))
            });
        value.map_err(HttpError::bad_request)
    }
}

/// Name/value pairs of arguments.
type ArgPairs<'a> = [(Cow<'a, str>, Cow<'a, str>)];

/// Deserializes `T` from name/value pairs, errors as 400s.
pub(crate) fn from_pairs<'a, T: Deserialize<'a>>(pairs: &'a ArgPairs<'a>) -> Result<T> {
    T::deserialize(Pairs(pairs)).map_err(|e| HttpError::bad_request(e.to_string()))
}

/// The arguments as a map from names to their values.
struct Pairs<'a>(&'a ArgPairs<'a>);

impl<'a> Pairs<'a> {
    fn values(&self, name: &str) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| &**v)
            .collect()
    }
}

impl<'de> de::Deserializer<'de> for Pairs<'de> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Distinct names in order of first appearance.
        let mut names: Vec<&'de str> = Vec::new();
        for (k, _) in self.0 {
            if !names.contains(&&**k) {
                names.push(k);
            }
        }
        visitor.visit_map(Fields {
            pairs: self,
            names: names.into_iter(),
            current: None,
        })
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only the fields the struct has, present ones only: serde reports the missing.
        let names: Vec<&'de str> = fields
            .iter()
            .copied()
            .filter(|f| self.0.iter().any(|(k, _)| k == *f))
            .collect();
        visitor.visit_map(Fields {
            pairs: self,
            names: names.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The fields of [`Pairs`], one name at a time.
struct Fields<'de> {
    pairs: Pairs<'de>,
    names: std::vec::IntoIter<&'de str>,
    current: Option<&'de str>,
}

impl<'de> de::MapAccess<'de> for Fields<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.names.next() {
            Some(name) => {
                self.current = Some(name);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let name = self.current.take().unwrap_or_default();
        let values = self.pairs.values(name);
        seed.deserialize(Values(values))
            .map_err(|e| de::Error::custom(format_args!("field `{name}`: {e}")))
    }
}

/// The values of one argument.
struct Values<'de>(Vec<&'de str>);

impl<'de> Values<'de> {
    fn last(&self) -> &'de str {
        self.0.last().copied().unwrap_or_default()
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, DeError>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.last();
        v.parse()
            .map_err(|e| de::Error::custom(format_args!("{v:?} is not {what}: {e}")))
    }
}

macro_rules! parse_as {
    ($($method:ident $visit:ident $t:ty, $what:literal;)*) => {$(
        fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.parse::<$t>($what)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Values<'de> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.last())
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.last() {
            "true" | "on" | "1" | "yes" => visitor.visit_bool(true),
            "false" | "off" | "0" | "no" => visitor.visit_bool(false),
            other => Err(de::Error::custom(format_args!(
                "{other:?} is not a boolean (true/false, on/off, 1/0, yes/no)"
            ))),
        }
    }

    parse_as! {
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_i128 visit_i128 i128, "an integer";
        deserialize_u8 visit_u8 u8, "an unsigned integer";
        deserialize_u16 visit_u16 u16, "an unsigned integer";
        deserialize_u32 visit_u32 u32, "an unsigned integer";
        deserialize_u64 visit_u64 u64, "an unsigned integer";
        deserialize_u128 visit_u128 u128, "an unsigned integer";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_f64 visit_f64 f64, "a number";
        deserialize_char visit_char char, "one character";
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.last().is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items = self.0.into_iter().map(|v| Values(vec![v]));
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_tuple<V: de::Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let v = de::value::BorrowedStrDeserializer::<DeError>::new(self.last());
        de::Deserializer::deserialize_enum(v, name, variants, visitor)
    }

    fn deserialize_unit<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_map<V: de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(de::Error::custom(
            "a form field holds text, not a nested structure",
        ))
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        str string bytes byte_buf unit_struct tuple_struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, DeError> for Values<'de> {
    type Deserializer = Values<'de>;
    fn into_deserializer(self) -> Values<'de> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::from_pairs;
    use serde::Deserialize;
    use std::borrow::Cow;

    fn pairs<'a>(s: &[(&'a str, &'a str)]) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
        s.iter()
            .map(|&(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
            .collect()
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Small,
        Large,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Form<'a> {
        name: String,
        count: u32,
        ratio: Option<f64>,
        tag: Vec<String>,
        on: bool,
        kind: Kind,
        borrowed: &'a str,
        #[serde(default)]
        extra: Option<i8>,
    }

    #[test]
    fn fields_map_from_arguments() {
        let p = pairs(&[
            ("name", "ann"),
            ("count", "1"),
            ("count", "3"),
            ("ratio", ""),
            ("tag", "a"),
            ("tag", "b"),
            ("on", "on"),
            ("kind", "large"),
            ("borrowed", "x y"),
            ("_xsrf", "ignored"),
        ]);
        let f: Form<'_> = from_pairs(&p).unwrap();
        assert_eq!(
            f,
            Form {
                name: "ann".into(),
                count: 3,
                ratio: None,
                tag: vec!["a".into(), "b".into()],
                on: true,
                kind: Kind::Large,
                borrowed: "x y",
                extra: None,
            }
        );
        let map: std::collections::BTreeMap<String, String> = from_pairs(&p).unwrap();
        assert_eq!(map["count"], "3");
        assert_eq!(map.len(), 8);
    }

    #[test]
    fn errors_name_the_field() {
        let base = [
            ("name", "ann"),
            ("count", "3"),
            ("on", "0"),
            ("kind", "small"),
            ("borrowed", ""),
        ];
        let err = |over: &[(&str, &str)]| {
            let mut all: Vec<(&str, &str)> = base
                .iter()
                .copied()
                .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
                .collect();
            all.extend(over.iter().copied().filter(|(_, v)| *v != "<absent>"));
            let p = pairs(&all);
            let e = from_pairs::<Form<'_>>(&p).unwrap_err();
            assert_eq!(e.status(), 400);
            e.message().unwrap().to_owned()
        };
        assert_eq!(err(&[("count", "<absent>")]), "missing field `count`");
        assert_eq!(
            err(&[("count", "-1")]),
            "field `count`: \"-1\" is not an unsigned integer: invalid digit found in string"
        );
        assert!(err(&[("on", "maybe")]).starts_with("field `on`: \"maybe\" is not a boolean"));
        assert!(err(&[("kind", "huge")]).starts_with("field `kind`: unknown variant `huge`"));
        assert!(err(&[("ratio", "x")]).starts_with("field `ratio`: \"x\" is not a number"));
        assert!(err(&[("extra", "300")]).starts_with("field `extra`:"));
    }
}
