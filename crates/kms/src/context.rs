//! The EncryptionContext: a JSON object of string to string that a ciphertext is bound to.
//!
//! It is never stored in the blob; its canonical digest is part of the AEAD's additional data, so
//! Decrypt succeeds only with the same pairs (in any order, with any whitespace):
//!
//! ```text
//! canonical = for each pair sorted by key bytes: len32(key) ‖ key ‖ len32(value) ‖ value
//! digest    = SHA-256(canonical)          (empty context: SHA-256 of the empty string)
//! ```
//!
//! Length prefixes make the encoding unambiguous, unlike `k=v&k=v` (a key or value containing `&`
//! or `=` could otherwise forge another context with the same encoding).

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::digest;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Error, Result};

/// Largest accepted EncryptionContext, as JSON text.
pub const MAX_CONTEXT_JSON_LEN: usize = 8 * 1024;

/// String pairs bound to a ciphertext; sorted by key, so equal contexts compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the `EncryptionContext` parameter: a JSON object whose values are all strings, at
    /// most 8 KiB. Empty text is the empty context. Duplicate keys are refused (JSON parsers
    /// disagree on which one wins).
    pub fn from_json(json: &str) -> Result<Self> {
        if json.trim().is_empty() {
            return Ok(Self::new());
        }
        if json.len() > MAX_CONTEXT_JSON_LEN {
            return Err(Error::invalid("EncryptionContext", "longer than 8 KiB"));
        }
        serde_json::from_str::<Strict>(json)
            .map(|s| Self(s.0))
            .map_err(|_| {
                Error::invalid(
                    "EncryptionContext",
                    "must be a JSON object of string values without duplicate keys",
                )
            })
    }

    /// Builds a context from pairs (a later duplicate key replaces an earlier one).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Adds or replaces a pair.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compact JSON with keys in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings serializes")
    }

    /// The canonical encoding (see the module docs).
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for field in [k.as_bytes(), v.as_bytes()] {
                // Lossless: the whole context is at most 8 KiB when parsed from the wire, and a
                // field over 4 GiB cannot be built in practice; saturate rather than wrap anyway.
                let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(field);
            }
        }
        out
    }

    /// SHA-256 of [`EncryptionContext::canonical`]; what ciphertext blobs bind.
    pub fn digest(&self) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, &self.canonical());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// A JSON object of strings that refuses duplicate keys.
struct Strict(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Strict, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.insert(k, v).is_some() {
                        return Err(de::Error::custom("duplicate key"));
                    }
                }
                Ok(Strict(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, expected: Option<&[(&str, &str)]>) {
        let got = EncryptionContext::from_json(json).ok();
        let expected = expected.map(|pairs| EncryptionContext::from_pairs(pairs.iter().copied()));
        assert_eq!(got, expected, "{json}");
    }

    #[test]
    fn parses_objects_of_strings_only() {
        check("", Some(&[]));
        check("{}", Some(&[]));
        check(r#"{"a":"b"}"#, Some(&[("a", "b")]));
        check(
            r#"{ "b" : "2", "a": "1" }"#,
            Some(&[("a", "1"), ("b", "2")]),
        );
        check(r#"{"a":1}"#, None);
        check(r#"{"a":{"b":"c"}}"#, None);
        check(r#"{"a":null}"#, None);
        check(r#"["a","b"]"#, None);
        check(r#""a""#, None);
        check(r#"{"a":"b","a":"c"}"#, None);
        check(r#"{"a":"b"} x"#, None);
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_CONTEXT_JSON_LEN));
        check(&big, None);
    }

    #[test]
    fn order_and_whitespace_do_not_change_the_digest() {
        let a = EncryptionContext::from_json(r#"{"bucket":"b1","object":"a b*~"}"#).unwrap();
        let b = EncryptionContext::from_json(r#"{ "object": "a b*~", "bucket": "b1" }"#).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.to_json(), r#"{"bucket":"b1","object":"a b*~"}"#);
    }

    #[test]
    fn canonical_form_is_unambiguous() {
        let a = EncryptionContext::from_pairs([("a", "b&c=d")]);
        let b = EncryptionContext::from_pairs([("a", "b"), ("c", "d")]);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(
            EncryptionContext::from_pairs([("k", "vv")]).canonical(),
            [0, 0, 0, 1, b'k', 0, 0, 0, 2, b'v', b'v']
        );
        // SHA-256 of the empty string.
        assert_eq!(
            EncryptionContext::new().digest()[..4],
            [0xe3, 0xb0, 0xc4, 0x42]
        );
    }
}
