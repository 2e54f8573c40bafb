//! HTTP-style preconditions on an object (If-Match and friends), evaluated against its record.

use coffer_meta::{ObjectRecord, UnixMillis};

use crate::{Error, Result};

/// Conditions a request sets on the current object; also used for the copy-source forms.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// Serve only if the ETag matches one of these (`*` matches any).
    pub if_match: Option<String>,
    /// Serve only if the ETag matches none of these.
    pub if_none_match: Option<String>,
    /// Serve only if modified after this time.
    pub if_modified_since: Option<UnixMillis>,
    /// Serve only if not modified after this time.
    pub if_unmodified_since: Option<UnixMillis>,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|candidate| {
        let c = candidate.trim().trim_start_matches("W/").trim_matches('"');
        c == "*" || c.eq_ignore_ascii_case(etag)
    })
}

/// Whole seconds: HTTP dates carry no sub-second part, so compare at that resolution.
fn seconds(t: UnixMillis) -> i64 {
    t.0.div_euclid(1000)
}

impl Preconditions {
    /// Whether any condition is set.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// Evaluates the conditions in RFC 9110 order: `PreconditionFailed` for If-Match /
    /// If-Unmodified-Since, `NotModified` for If-None-Match / If-Modified-Since.
    pub fn check(&self, object: &ObjectRecord) -> Result<()> {
        let modified = seconds(object.last_modified);
        if let Some(list) = &self.if_match {
            if !etag_matches(list, &object.etag) {
                return Err(Error::PreconditionFailed {
                    condition: "If-Match",
                });
            }
        } else if let Some(t) = self.if_unmodified_since
            && modified > seconds(t)
        {
            return Err(Error::PreconditionFailed {
                condition: "If-Unmodified-Since",
            });
        }
        if let Some(list) = &self.if_none_match {
            if etag_matches(list, &object.etag) {
                return Err(Error::NotModified);
            }
        } else if let Some(t) = self.if_modified_since
            && modified <= seconds(t)
        {
            return Err(Error::NotModified);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_meta::{Acl, ObjectType, StorageClass};
    use coffer_types::ObjectKey;

    fn object() -> ObjectRecord {
        ObjectRecord {
            key: ObjectKey::parse("k").unwrap(),
            generation: 1,
            size: 0,
            etag: "5D41402ABC4B2A76B9719D911017C592".into(),
            crc64: 0,
            last_modified: UnixMillis(1_700_000_000_500),
            object_type: ObjectType::Normal,
            storage_class: StorageClass::Standard,
            acl: Acl::Default,
            content_type: String::new(),
            headers: vec![],
            user_meta: vec![],
            segments: vec![],
            encryption: None,
            tags: vec![],
            checksum: None,
        }
    }

    fn check(p: Preconditions, expected: &str) {
        let got = match p.check(&object()) {
            Ok(()) => "ok",
            Err(Error::PreconditionFailed { .. }) => "412",
            Err(Error::NotModified) => "304",
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(got, expected, "{p:?}");
    }

    #[test]
    fn conditions_follow_http_rules() {
        let etag = "\"5d41402abc4b2a76b9719d911017c592\"".to_string();
        let before = Some(UnixMillis(1_699_999_999_000));
        let same = Some(UnixMillis(1_700_000_000_000));
        check(Preconditions::default(), "ok");
        check(
            Preconditions {
                if_match: Some(etag.clone()),
                ..Default::default()
            },
            "ok",
        );
        check(
            Preconditions {
                if_match: Some("\"x\"".into()),
                ..Default::default()
            },
            "412",
        );
        check(
            Preconditions {
                if_match: Some("*".into()),
                ..Default::default()
            },
            "ok",
        );
        check(
            Preconditions {
                if_none_match: Some(etag.clone()),
                ..Default::default()
            },
            "304",
        );
        check(
            Preconditions {
                if_none_match: Some("\"x\", \"y\"".into()),
                ..Default::default()
            },
            "ok",
        );
        check(
            Preconditions {
                if_modified_since: same,
                ..Default::default()
            },
            "304",
        );
        check(
            Preconditions {
                if_modified_since: before,
                ..Default::default()
            },
            "ok",
        );
        check(
            Preconditions {
                if_unmodified_since: before,
                ..Default::default()
            },
            "412",
        );
        check(
            Preconditions {
                if_unmodified_since: same,
                ..Default::default()
            },
            "ok",
        );
        // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
        check(
            Preconditions {
                if_match: Some(etag.clone()),
                if_unmodified_since: before,
                ..Default::default()
            },
            "ok",
        );
        check(
            Preconditions {
                if_none_match: Some("\"x\"".into()),
                if_modified_since: same,
                ..Default::default()
            },
            "ok",
        );
    }
}
