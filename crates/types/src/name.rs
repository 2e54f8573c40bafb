//! Bucket names and object keys, validated by the rules OSS documents.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a bucket name or an object key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The bucket name breaks a naming rule; the text says which.
    #[error("invalid bucket name: {0}")]
    Bucket(&'static str),
    /// The object key breaks a naming rule; the text says which.
    #[error("invalid object name: {0}")]
    Object(&'static str),
}

/// A bucket name: 3–63 characters of `[a-z0-9-]`, starting and ending with a letter or digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketName(String);

impl BucketName {
    /// Validates `s` as a bucket name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.len() < 3 || s.len() > 63 {
            return Err(NameError::Bucket("length must be 3 to 63 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(NameError::Bucket(
                "only lower-case letters, digits and hyphens are allowed",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(NameError::Bucket(
                "must start and end with a lower-case letter or a digit",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BucketName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<BucketName> for String {
    fn from(b: BucketName) -> String {
        b.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Longest object key OSS accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1023;

/// An object key: 1–1023 bytes of UTF-8, not starting with `/` or `\`, with no NUL and no `.`/`..`
/// path segment (which would make keys ambiguous for clients that map keys onto file paths).
///
/// Other control characters (`\x01`, `\x0C`, a line break) are accepted, as OSS accepts them
/// ("Object naming conventions": any UTF-8 of 1–1023 bytes not starting with `/` or `\`); data
/// is stored under random blob ids, so a key never names a file. Listings show such keys through
/// `encoding-type=url`, which every SDK asks for. NUL stays refused: it cannot be written in an
/// XML 1.0 document even as a character reference, it truncates the key for every C-string
/// consumer (shells, file-syncing clients, log tools), and no real application relies on it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `s` as an object key.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Object("the key must not be empty"));
        }
        if s.len() > MAX_KEY_LEN {
            return Err(NameError::Object("the key must be at most 1023 bytes"));
        }
        if s.starts_with('/') || s.starts_with('\\') {
            return Err(NameError::Object("the key must not start with '/' or '\\'"));
        }
        if s.contains('\0') {
            return Err(NameError::Object("the key must not contain NUL"));
        }
        if s.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(NameError::Object(
                "the key must not contain '.' or '..' path segments",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<ObjectKey> for String {
    fn from(k: ObjectKey) -> String {
        k.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bucket(name: &str, ok: bool) {
        assert_eq!(BucketName::parse(name).is_ok(), ok, "{name:?}");
    }

    fn check_key(key: &str, ok: bool) {
        assert_eq!(ObjectKey::parse(key).is_ok(), ok, "{key:?}");
    }

    #[test]
    fn bucket_names() {
        check_bucket("abc", true);
        check_bucket("my-bucket-01", true);
        check_bucket(&"a".repeat(63), true);
        check_bucket("ab", false);
        check_bucket(&"a".repeat(64), false);
        check_bucket("-abc", false);
        check_bucket("abc-", false);
        check_bucket("Abc", false);
        check_bucket("a_bc", false);
        check_bucket("a.bc", false);
    }

    #[test]
    fn object_keys() {
        check_key("a", true);
        check_key("dir/sub/file.txt", true);
        check_key("hello world+plus&amp", true);
        check_key("中文/键", true);
        check_key("a..b", true);
        check_key(".hidden", true);
        check_key(&"k".repeat(1023), true);
        check_key(&"k".repeat(1024), false);
        check_key("", false);
        check_key("/abs", false);
        check_key("\\abs", false);
        check_key("a\0b", false);
        check_key("a/../b", false);
        check_key("..", false);
        check_key("a/./b", false);
        check_key("line\nbreak", true);
        check_key("form\x0cfeed", true);
        check_key("\x01\x07", true);
        check_key("tail\0", false);
    }

    proptest::proptest! {
        #[test]
        fn parsed_keys_round_trip(s in "\\PC{1,200}") {
            if let Ok(k) = ObjectKey::parse(&s) {
                proptest::prop_assert_eq!(k.as_str(), s.as_str());
            }
        }
    }
}
