//! Request parameters: the query string and an `application/x-www-form-urlencoded` body, each
//! form-decoded and merged, and typed accessors that turn malformed values into the KMS API's
//! `MissingParameter` / `InvalidParameter`.
//!
//! Both places count: the KMS SDKs put every API parameter into the query string even for POST,
//! while users may add body parameters. A name given twice (in the query, in the body, or once in
//! each) is refused rather than resolved, since nothing says which one the signature meant.

use std::collections::BTreeMap;

use base64::Engine as _;
use coffer_kms::{EncryptionContext, KeyRef, Page};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    /// Query parameters only, as ACS3 signs them (the body is covered by its hash).
    query: Vec<(String, String)>,
    /// Query and body parameters by name.
    all: BTreeMap<String, String>,
}

impl Params {
    /// Decodes `query` (the raw query string, without `?`) and `form` (a form body, if the request
    /// has one) and merges them.
    pub(crate) fn parse(query: &str, form: Option<&[u8]>) -> Result<Self, ApiError> {
        let query = decode_form(query.as_bytes())?;
        let body = match form {
            Some(form) => decode_form(form)?,
            None => Vec::new(),
        };
        let mut all = BTreeMap::new();
        for (name, value) in query.iter().chain(&body) {
            if all.insert(name.clone(), value.clone()).is_some() {
                return Err(ApiError::invalid(
                    name,
                    "the parameter is given more than once",
                ));
            }
        }
        Ok(Self { query, all })
    }

    /// Parameters given in process (no query string, no body), each name once.
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ApiError> {
        let mut all = BTreeMap::new();
        for (name, value) in pairs {
            if all
                .insert((*name).to_owned(), (*value).to_owned())
                .is_some()
            {
                return Err(ApiError::invalid(
                    name,
                    "the parameter is given more than once",
                ));
            }
        }
        Ok(Self {
            query: Vec::new(),
            all,
        })
    }

    /// Query parameters, in the order received.
    pub(crate) fn query(&self) -> &[(String, String)] {
        &self.query
    }

    /// Every parameter (query and body), sorted by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.all.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `name` as sent, empty or not.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.all.get(name).map(String::as_str)
    }

    /// The value of `name`; absent and empty read as absent.
    pub(crate) fn optional(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The value of `name`; absent or empty is `MissingParameter`.
    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.optional(name).ok_or_else(|| ApiError::missing(name))
    }

    /// A key reference (key id, alias, or the ARN of either).
    pub(crate) fn key_ref(&self, name: &str) -> Result<KeyRef, ApiError> {
        Ok(KeyRef::parse(self.required(name)?)?)
    }

    /// A boolean: `true` or `false` in any case (Python SDKs send `True`).
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.optional(name).map(|v| parse_bool(name, v)).transpose()
    }

    /// A non-negative decimal integer.
    pub(crate) fn u32(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.optional(name)
            .map(|v| {
                parse_decimal(name, v).and_then(|n| u32::try_from(n).map_err(|_| too_big(name)))
            })
            .transpose()
    }

    /// A non-negative decimal integer.
    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.optional(name)
            .map(|v| parse_decimal(name, v))
            .transpose()
    }

    /// An EncryptionContext (JSON object of strings); absent is the empty context.
    pub(crate) fn context(&self, name: &str) -> Result<EncryptionContext, ApiError> {
        let json = self.optional(name).unwrap_or("");
        EncryptionContext::from_json(json).map_err(|_| {
            ApiError::invalid(
                name,
                "it must be a JSON object of string values without duplicate keys, at most 8 KiB",
            )
        })
    }

    /// Standard base64 (padding required), decoded into a buffer wiped when dropped.
    pub(crate) fn base64(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let text = self.required(name)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Zeroizing::new)
            .map_err(|_| ApiError::invalid(name, "it is not standard base64"))
    }

    /// `PageNumber` (default 1) and `PageSize` (default 10, at most 100).
    pub(crate) fn page(&self) -> Result<Page, ApiError> {
        let number = self.u32("PageNumber")?.unwrap_or(1);
        let size = self.u32("PageSize")?.unwrap_or(10);
        Ok(Page::new(number, size)?)
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ApiError::invalid(name, "it must be true or false"))
    }
}

fn parse_decimal(name: &str, v: &str) -> Result<u64, ApiError> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(name, "it must be a non-negative integer"));
    }
    v.parse().map_err(|_| too_big(name))
}

fn too_big(name: &str) -> ApiError {
    ApiError::invalid(name, "the number is too large")
}

/// Decodes `application/x-www-form-urlencoded` text: `&`-separated `name=value` pairs (a pair
/// without `=` has an empty value), `+` is a space, `%XX` a byte; the result must be UTF-8.
/// Empty pieces (`a=1&&b=2`) are skipped, as browsers and Python do.
pub(crate) fn decode_form(input: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for piece in input.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        let name = decode_component(name)?;
        if name.is_empty() {
            return Err(ApiError::invalid("QueryString", "a parameter has no name"));
        }
        let value = decode_component(value)?;
        out.push((name, value));
    }
    Ok(out)
}

fn decode_component(input: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).ok_or_else(bad_escape)?;
                let high = hex_value(hex[0]).ok_or_else(bad_escape)?;
                let low = hex_value(hex[1]).ok_or_else(bad_escape)?;
                bytes.push(high << 4 | low);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("QueryString", "a parameter is not UTF-8 once decoded"))
}

fn bad_escape() -> ApiError {
    ApiError::invalid("QueryString", "malformed percent-encoding")
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&[(&str, &str)], &str>) {
        let got = decode_form(input.as_bytes());
        match expected {
            Ok(pairs) => {
                let got = got.unwrap_or_else(|e| panic!("{input}: {e:?}"));
                let want: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(got, want, "{input}");
            }
            Err(code) => assert_eq!(got.unwrap_err().code, code, "{input}"),
        }
    }

    #[test]
    fn form_decoding_follows_both_sdks() {
        // The Tea SDK sends `+` for a space, the old SDK `%20`; `%2B` is a literal plus.
        check(
            "a=x+y&b=x%20y&c=x%2By",
            Ok(&[("a", "x y"), ("b", "x y"), ("c", "x+y")]),
        );
        // Empty values are real parameters (`SignatureType=`); a name alone has an empty value.
        check(
            "SignatureType=&Flag",
            Ok(&[("SignatureType", ""), ("Flag", "")]),
        );
        check("", Ok(&[]));
        check("a=1&&b=2&", Ok(&[("a", "1"), ("b", "2")]));
        // Only the first `=` separates; later ones belong to the value.
        check("Plaintext=aGk=", Ok(&[("Plaintext", "aGk=")]));
        check("k=%C3%A9%e4%b8%ad", Ok(&[("k", "é中")]));
        check("k=%7E~%2a*", Ok(&[("k", "~~**")]));
        check("k=%zz", Err("InvalidParameter"));
        check("k=%4", Err("InvalidParameter"));
        check("k=%FF", Err("InvalidParameter"));
        check("=v", Err("InvalidParameter"));
    }

    #[test]
    fn query_and_body_merge_and_duplicates_are_refused() {
        let p = Params::parse("Action=Encrypt&KeyId=k", Some(b"Plaintext=aGk%3D")).unwrap();
        assert_eq!(p.get("Plaintext"), Some("aGk="));
        assert_eq!(p.query().len(), 2);
        let names: Vec<&str> = p.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["Action", "KeyId", "Plaintext"]);
        for (query, body) in [("a=1&a=2", None), ("a=1", Some(&b"a=1"[..]))] {
            let e = Params::parse(query, body).unwrap_err();
            assert_eq!(e.code, "InvalidParameter");
            assert!(e.message.contains("\"a\""), "{}", e.message);
        }
    }

    #[test]
    fn typed_values_parse_or_name_the_parameter() {
        let p = Params::parse(
            "T=True&F=FALSE&X=yes&N=42&Big=99999999999&Neg=-1&E=&B=aGk%3D&Bad=aGk",
            None,
        )
        .unwrap();
        assert_eq!(p.bool("T").unwrap(), Some(true));
        assert_eq!(p.bool("F").unwrap(), Some(false));
        assert_eq!(p.bool("E").unwrap(), None);
        assert_eq!(p.bool("Absent").unwrap(), None);
        assert_eq!(p.bool("X").unwrap_err().code, "InvalidParameter");
        assert_eq!(p.u32("N").unwrap(), Some(42));
        assert_eq!(p.u32("Big").unwrap_err().code, "InvalidParameter");
        assert_eq!(p.u64("Big").unwrap(), Some(99_999_999_999));
        assert_eq!(p.u32("Neg").unwrap_err().code, "InvalidParameter");
        assert_eq!(p.required("E").unwrap_err().code, "MissingParameter");
        assert!(
            p.required("Absent")
                .unwrap_err()
                .message
                .contains("\"Absent\"")
        );
        assert_eq!(p.base64("B").unwrap().as_slice(), b"hi");
        assert_eq!(p.base64("Bad").unwrap_err().code, "InvalidParameter");
    }

    #[test]
    fn contexts_pages_and_key_refs() {
        let p = Params::parse(
            "C=%7B%22a%22%3A+%22b%22%7D&Bad=%5B1%5D&PageSize=101&KeyId=nope",
            None,
        )
        .unwrap();
        assert_eq!(
            p.context("C").unwrap(),
            EncryptionContext::from_pairs([("a", "b")])
        );
        assert!(p.context("Absent").unwrap().is_empty());
        assert_eq!(p.context("Bad").unwrap_err().code, "InvalidParameter");
        assert_eq!(p.page().unwrap_err().code, "InvalidParameter");
        assert_eq!(
            p.key_ref("KeyId").unwrap_err().code,
            "Forbidden.KeyNotFound"
        );
        assert_eq!(p.key_ref("Other").unwrap_err().code, "MissingParameter");
        let p = Params::parse("", None).unwrap();
        assert_eq!(p.page().unwrap(), Page::new(1, 10).unwrap());
    }
}
