//! A JSON tree that keeps member order and refuses repeated member names.
//!
//! `serde_json::Value` silently keeps the last of two equal member names, so
//! `{"Condition": {"IpAddress": {…}, "IpAddress": {…}}}` would drop a condition without a word —
//! for a Deny statement that widens access. Policies are parsed through this type instead.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    /// Members in document order; names are unique.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON type name, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.iter().any(|(n, _)| *n == name) {
                return Err(de::Error::custom(format!("member `{name}` appears twice")));
            }
            let value = map.next_value()?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

/// Parses `text` as exactly one JSON value.
pub(super) fn parse(text: &str) -> Result<Json, serde_json::Error> {
    // serde_json bounds nesting depth (128), so hostile input cannot exhaust the stack.
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_member_names_are_refused() {
        let err = parse(r#"{"a": 1, "b": {"c": 1, "c": 2}}"#).unwrap_err();
        assert!(
            err.to_string().contains("member `c` appears twice"),
            "{err}"
        );
    }

    #[test]
    fn member_order_is_kept() {
        let Json::Object(members) = parse(r#"{"b": null, "a": [true, "x", 1.5]}"#).unwrap() else {
            panic!("not an object");
        };
        assert_eq!(members[0].0, "b");
        assert_eq!(members[1].0, "a");
    }

    #[test]
    fn trailing_text_and_deep_nesting_are_errors_not_panics() {
        assert!(parse("{} x").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
    }
}
