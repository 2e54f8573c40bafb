//! Lifecycle: PutBucketLifecycle, GetBucketLifecycle, DeleteBucketLifecycle (`?lifecycle`; OSS
//! API reference, "PutBucketLifecycle"). Rules select objects by prefix and tags; their
//! actions are Expiration (delete objects) and AbortMultipartUpload, each after a number of days
//! or for everything created before a date. The server applies the enabled rules periodically
//! (`Store::apply_lifecycle`). Transitions and versioning's delete markers are not served.

use coffer_core::{LifecycleAge, LifecycleRule, RequestContext, UnixMillis};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;

use super::{bucket_of, small_body};
use crate::error::{OssError, codes};
use crate::response::{Reply, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::{LifecycleAgeXml, LifecycleConfiguration, XmlWriter, parse_lifecycle};

/// Most rules a bucket has.
const MAX_RULES: usize = 1000;
/// Longest rule ID, in characters.
const MAX_ID_CHARS: usize = 255;

pub(super) async fn put_lifecycle(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let body = small_body(body, &parts.headers, false).await?;
    let rules = validate(parse_lifecycle(&body)?)?;
    svc.store
        .put_bucket_lifecycle(ctx, grant, bucket_of(parts)?, rules)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

fn validate(xml: LifecycleConfiguration) -> Result<Vec<LifecycleRule>, OssError> {
    if xml.rules.is_empty() {
        return Err(OssError::malformed_xml(
            "a LifecycleConfiguration needs a Rule",
        ));
    }
    if xml.rules.len() > MAX_RULES {
        return Err(OssError::invalid_argument(
            "Rule",
            &xml.rules.len().to_string(),
            format!("A bucket can have at most {MAX_RULES} lifecycle rules."),
        ));
    }
    let mut rules: Vec<LifecycleRule> = Vec::with_capacity(xml.rules.len());
    for (n, rule) in xml.rules.into_iter().enumerate() {
        // OSS names a rule given without an ID.
        let id = rule
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("rule-{}", n + 1));
        if id.chars().count() > MAX_ID_CHARS {
            return Err(OssError::invalid_argument(
                "ID",
                &id,
                format!("A rule ID is at most {MAX_ID_CHARS} characters."),
            ));
        }
        if rules.iter().any(|r| r.id == id) {
            return Err(OssError::invalid_argument(
                "ID",
                &id,
                "Rule ID must be unique.",
            ));
        }
        let enabled = match rule.status.as_deref() {
            Some("Enabled") => true,
            Some("Disabled") => false,
            _ => {
                return Err(OssError::malformed_xml(
                    "a Rule's Status must be Enabled or Disabled",
                ));
            }
        };
        if !rule.transitions.is_empty() {
            return Err(OssError::new(
                codes::NOT_IMPLEMENTED,
                "Lifecycle transitions are not implemented by this server.",
            ));
        }
        let expiration = rule.expiration.map(|e| age("Expiration", e)).transpose()?;
        let abort_multipart = rule
            .abort_multipart_upload
            .map(|e| age("AbortMultipartUpload", e))
            .transpose()?;
        if expiration.is_none() && abort_multipart.is_none() {
            return Err(OssError::invalid_argument(
                "Rule",
                &id,
                "A rule needs an Expiration or an AbortMultipartUpload.",
            ));
        }
        let tags: Vec<(String, String)> = rule.tags.into_iter().map(|t| (t.key, t.value)).collect();
        if !tags.is_empty() && abort_multipart.is_some() {
            return Err(OssError::invalid_argument(
                "Tag",
                &id,
                "A rule with tags cannot have an AbortMultipartUpload.",
            ));
        }
        rules.push(LifecycleRule {
            id,
            prefix: rule.prefix.unwrap_or_default(),
            tags,
            enabled,
            expiration,
            abort_multipart,
        });
    }
    Ok(rules)
}

/// `Days` (a positive integer) or `CreatedBeforeDate` (midnight UTC), exactly one of them.
fn age(action: &str, xml: LifecycleAgeXml) -> Result<LifecycleAge, OssError> {
    if xml.expired_object_delete_marker.is_some() {
        return Err(OssError::new(
            codes::NOT_IMPLEMENTED,
            "ExpiredObjectDeleteMarker needs versioning, which is not implemented by this server.",
        ));
    }
    match (xml.days, xml.created_before_date) {
        (Some(days), None) => days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| *d > 0)
            .map(LifecycleAge::Days)
            .ok_or_else(|| {
                OssError::invalid_argument("Days", &days, "Days must be a positive integer.")
            }),
        (None, Some(date)) => midnight(&date).map(LifecycleAge::CreatedBefore).ok_or_else(|| {
            OssError::invalid_argument(
                "CreatedBeforeDate",
                &date,
                "CreatedBeforeDate must be midnight UTC in ISO 8601 (2024-01-01T00:00:00.000Z).",
            )
        }),
        _ => Err(OssError::malformed_xml(format!(
            "{action} needs exactly one of Days and CreatedBeforeDate"
        ))),
    }
}

/// `YYYY-MM-DDT00:00:00.000Z` (or without the milliseconds) as milliseconds since the epoch.
fn midnight(text: &str) -> Option<UnixMillis> {
    let (date, rest) = text.trim().split_at_checked(10)?;
    if rest != "T00:00:00.000Z" && rest != "T00:00:00Z" {
        return None;
    }
    let mut fields = date.split('-');
    let (y, m, d) = (fields.next()?, fields.next()?, fields.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || fields.next().is_some() {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    let seconds = date.midnight().assume_utc().unix_timestamp();
    Some(UnixMillis(seconds.checked_mul(1000)?))
}

pub(super) async fn get_lifecycle(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let bucket = bucket_of(parts)?;
    let rules = svc.store.bucket_lifecycle(ctx, grant, bucket).await?;
    if rules.is_empty() {
        return Err(
            OssError::new(codes::NO_SUCH_LIFECYCLE, "No Row found in Lifecycle Table.")
                .detail("BucketName", bucket.to_string()),
        );
    }
    let mut w = XmlWriter::new("LifecycleConfiguration");
    for rule in &rules {
        w.open("Rule")
            .elem("ID", &rule.id)
            .elem("Prefix", &rule.prefix);
        for (key, value) in &rule.tags {
            w.open("Tag")
                .elem("Key", key)
                .elem("Value", value)
                .close("Tag");
        }
        w.elem("Status", if rule.enabled { "Enabled" } else { "Disabled" });
        for (tag, age) in [
            ("Expiration", rule.expiration),
            ("AbortMultipartUpload", rule.abort_multipart),
        ] {
            match age {
                Some(LifecycleAge::Days(days)) => {
                    w.open(tag).elem("Days", days.to_string()).close(tag);
                }
                Some(LifecycleAge::CreatedBefore(date)) => {
                    w.open(tag)
                        .elem("CreatedBeforeDate", xml_time(date))
                        .close(tag);
                }
                None => {}
            }
        }
        w.close("Rule");
    }
    Ok(Reply::xml(w.finish("LifecycleConfiguration")))
}

pub(super) async fn delete_lifecycle(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store
        .delete_bucket_lifecycle(ctx, grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_before_dates_are_midnights_utc() {
        assert_eq!(
            midnight("2023-11-15T00:00:00.000Z"),
            Some(UnixMillis(1_700_006_400_000))
        );
        assert_eq!(
            midnight("2023-11-15T00:00:00Z"),
            Some(UnixMillis(1_700_006_400_000))
        );
        for bad in [
            "2023-11-15T01:00:00.000Z",
            "2023-11-15",
            "2023-02-30T00:00:00.000Z",
            "23-11-15T00:00:00.000Z",
            "",
        ] {
            assert_eq!(midnight(bad), None, "{bad}");
        }
    }
}
