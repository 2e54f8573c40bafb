//! Object tags: the limits every tag set is held to, and reading and replacing an object's set.

use coffer_iam::{Action, Grant};
use coffer_types::{BucketName, ObjectKey};

use crate::store::{object_resource, require};
use crate::{Error, RequestContext, Result, Store};

/// Most tags an object carries.
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in characters.
pub(crate) const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 256;

/// Why a tag set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagProblem {
    /// More than [`MAX_TAGS`] tags.
    TooMany,
    /// A key is empty or longer than 128 characters.
    KeyLength,
    /// A value is longer than 256 characters.
    ValueLength,
    /// Two tags have the same key.
    DuplicateKey,
}

impl std::fmt::Display for TagProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TagProblem::TooMany => "an object can have at most 10 tags",
            TagProblem::KeyLength => "a tag key must be 1 to 128 characters",
            TagProblem::ValueLength => "a tag value must be at most 256 characters",
            TagProblem::DuplicateKey => "tag keys must be unique",
        })
    }
}

/// Checks a tag set against the limits OSS and S3 share: at most ten tags, keys of 1–128 and
/// values of at most 256 characters, no key twice. Character sets are the front-end's rule.
pub fn validate_tags(tags: &[(String, String)]) -> Result<()> {
    let problem = if tags.len() > MAX_TAGS {
        Some(TagProblem::TooMany)
    } else if tags
        .iter()
        .any(|(k, _)| k.is_empty() || k.chars().count() > MAX_TAG_KEY_CHARS)
    {
        Some(TagProblem::KeyLength)
    } else if tags
        .iter()
        .any(|(_, v)| v.chars().count() > MAX_TAG_VALUE_CHARS)
    {
        Some(TagProblem::ValueLength)
    } else if tags
        .iter()
        .enumerate()
        .any(|(i, (k, _))| tags[..i].iter().any(|(other, _)| other == k))
    {
        Some(TagProblem::DuplicateKey)
    } else {
        None
    };
    problem.map_or(Ok(()), |p| Err(Error::InvalidTag(p)))
}

impl Store {
    /// PutObjectTagging: replaces the object's tags (validated here too). Data, ETag and
    /// Last-Modified are untouched.
    pub async fn put_object_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        require(
            grant,
            Action::PutObjectTagging,
            object_resource(bucket, key),
        )?;
        validate_tags(&tags)?;
        self.update_object(bucket, key, |o| o.tags = tags.clone())
            .await
    }

    /// GetObjectTagging: the object's tags, in the order they were set.
    pub async fn get_object_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Vec<(String, String)>> {
        require(
            grant,
            Action::GetObjectTagging,
            object_resource(bucket, key),
        )?;
        Ok(self.existing_object(bucket, key).await?.tags)
    }

    /// DeleteObjectTagging: removes every tag of the object.
    pub async fn delete_object_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<()> {
        require(
            grant,
            Action::DeleteObjectTagging,
            object_resource(bucket, key),
        )?;
        self.update_object(bucket, key, |o| o.tags.clear()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tags: &[(&str, &str)], expected: Option<TagProblem>) {
        let tags: Vec<_> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let got = match validate_tags(&tags) {
            Ok(()) => None,
            Err(Error::InvalidTag(p)) => Some(p),
            Err(other) => panic!("{other}"),
        };
        assert_eq!(got, expected, "{tags:?}");
    }

    #[test]
    fn tag_limits() {
        let k128 = "k".repeat(128);
        let v256 = "値".repeat(256);
        check(&[], None);
        check(&[("a", ""), (&k128, &v256)], None);
        check(&[("", "v")], Some(TagProblem::KeyLength));
        check(&[(&"k".repeat(129), "v")], Some(TagProblem::KeyLength));
        check(&[("k", &"v".repeat(257))], Some(TagProblem::ValueLength));
        check(&[("k", "1"), ("k", "2")], Some(TagProblem::DuplicateKey));
        let ten: Vec<String> = (0..11).map(|i| format!("k{i}")).collect();
        let ten: Vec<(&str, &str)> = ten.iter().map(|k| (k.as_str(), "v")).collect();
        check(&ten[..10], None);
        check(&ten, Some(TagProblem::TooMany));
    }
}
