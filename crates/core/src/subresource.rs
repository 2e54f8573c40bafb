//! A bucket's sub-resource configurations: CORS, tags and lifecycle. Each is kept in the bucket's
//! record (`BucketSubresources`), replaced whole by its Put and emptied by its Delete; the
//! front-end validates what it parses (the limits and codes are the dialect's). CORS matching
//! ([`CorsRequest`]) is here so that every dialect answers a browser the same way; the
//! lifecycle's periodic pass is [`Store::apply_lifecycle`].

use coffer_iam::{Action, Grant};
use coffer_meta::{
    BucketRecord, BucketSubresources, CorsConfig, CorsRule, LifecycleAge, LifecycleRule,
    UploadCursor,
};
use coffer_types::BucketName;
use tracing::{info, warn};

use crate::store::{bucket_resource, in_bucket, require};
use crate::{RequestContext, Result, Store, UnixMillis};

impl Store {
    /// Reads, changes and writes back one sub-resource of an existing bucket.
    async fn change_subresources(
        &self,
        name: &BucketName,
        change: impl FnOnce(&mut BucketSubresources),
    ) -> Result<()> {
        let mut bucket: BucketRecord = self.existing_bucket(name).await?;
        change(&mut bucket.subresources);
        self.meta
            .update_bucket(bucket)
            .await
            .map_err(in_bucket(name))
    }

    async fn subresources(&self, name: &BucketName) -> Result<BucketSubresources> {
        Ok(self.existing_bucket(name).await?.subresources)
    }

    /// PutBucketEncryption's `BlockedEncryptionTypes`: whether new objects may be written with a
    /// customer-provided key (SSE-C). Existing SSE-C objects stay readable either way.
    pub async fn put_bucket_sse_c_blocked(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        blocked: bool,
    ) -> Result<()> {
        require(grant, Action::PutBucketEncryption, bucket_resource(name))?;
        self.change_subresources(name, |s| s.sse_c_blocked = blocked)
            .await
    }

    /// GetBucketEncryption's `BlockedEncryptionTypes`: whether SSE-C writes are refused.
    pub async fn bucket_sse_c_blocked(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<bool> {
        require(grant, Action::GetBucketEncryption, bucket_resource(name))?;
        Ok(self.subresources(name).await?.sse_c_blocked)
    }

    /// PutBucketCors: replaces the bucket's CORS rules.
    pub async fn put_bucket_cors(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        cors: CorsConfig,
    ) -> Result<()> {
        require(grant, Action::PutBucketCors, bucket_resource(name))?;
        self.change_subresources(name, |s| s.cors = Some(cors))
            .await?;
        info!(bucket = %name, "bucket CORS rules set");
        Ok(())
    }

    /// GetBucketCors: the rules, if any.
    pub async fn bucket_cors(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<Option<CorsConfig>> {
        require(grant, Action::GetBucketCors, bucket_resource(name))?;
        Ok(self.subresources(name).await?.cors)
    }

    /// DeleteBucketCors: no cross-origin request is answered any more.
    pub async fn delete_bucket_cors(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<()> {
        require(grant, Action::DeleteBucketCors, bucket_resource(name))?;
        self.change_subresources(name, |s| s.cors = None).await
    }

    /// The CORS rules a browser's request is answered by, before and whatever its
    /// authorization: a preflight is never signed, and an answer's `Access-Control-*` headers
    /// do not depend on who asks. `None` when the bucket does not exist or has no rules.
    pub async fn cors_rules(&self, name: &BucketName) -> Result<Option<CorsConfig>> {
        Ok(self
            .meta
            .bucket(name)
            .await?
            .and_then(|b| b.subresources.cors))
    }

    /// PutBucketTagging: replaces the bucket's tags.
    pub async fn put_bucket_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        require(grant, Action::PutBucketTagging, bucket_resource(name))?;
        self.change_subresources(name, |s| s.tags = tags).await
    }

    /// GetBucketTagging: the tags (none: empty).
    pub async fn bucket_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<Vec<(String, String)>> {
        require(grant, Action::GetBucketTagging, bucket_resource(name))?;
        Ok(self.subresources(name).await?.tags)
    }

    /// DeleteBucketTagging: removes the tags whose keys are in `keys`, or all of them when
    /// `keys` is `None`.
    pub async fn delete_bucket_tagging(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        keys: Option<Vec<String>>,
    ) -> Result<()> {
        require(grant, Action::DeleteBucketTagging, bucket_resource(name))?;
        self.change_subresources(name, |s| match keys {
            None => s.tags.clear(),
            Some(keys) => s.tags.retain(|(k, _)| !keys.contains(k)),
        })
        .await
    }

    /// PutBucketLifecycle: replaces the bucket's lifecycle rules.
    pub async fn put_bucket_lifecycle(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        rules: Vec<LifecycleRule>,
    ) -> Result<()> {
        require(grant, Action::PutBucketLifecycle, bucket_resource(name))?;
        self.change_subresources(name, |s| s.lifecycle = rules)
            .await?;
        info!(bucket = %name, "bucket lifecycle rules set");
        Ok(())
    }

    /// GetBucketLifecycle: the rules (none: empty).
    pub async fn bucket_lifecycle(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<Vec<LifecycleRule>> {
        require(grant, Action::GetBucketLifecycle, bucket_resource(name))?;
        Ok(self.subresources(name).await?.lifecycle)
    }

    /// DeleteBucketLifecycle: nothing expires any more.
    pub async fn delete_bucket_lifecycle(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<()> {
        require(grant, Action::DeleteBucketLifecycle, bucket_resource(name))?;
        self.change_subresources(name, |s| s.lifecycle.clear())
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// CORS matching.

/// What a browser's request shows of itself: its origin, the method (of the preflight's actual
/// request, or of this request), and the headers a preflight announces.
#[derive(Debug, Clone, Copy)]
pub struct CorsRequest<'a> {
    /// `Origin`.
    pub origin: &'a str,
    /// `Access-Control-Request-Method`, or the request's own method.
    pub method: &'a str,
    /// `Access-Control-Request-Headers`, split at commas (empty on an actual request).
    pub headers: &'a [&'a str],
}

impl CorsRequest<'_> {
    /// The first rule of `config` that allows this request.
    pub fn matching<'c>(&self, config: &'c CorsConfig) -> Option<&'c CorsRule> {
        config.rules.iter().find(|rule| self.is_allowed_by(rule))
    }

    fn is_allowed_by(&self, rule: &CorsRule) -> bool {
        rule.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, self.origin, false))
            && rule.allowed_methods.iter().any(|m| m == self.method)
            && self.headers.iter().all(|h| {
                rule.allowed_headers
                    .iter()
                    .any(|allowed| wildcard_match(allowed, h, true))
            })
    }
}

/// Whether `text` matches `pattern`, in which one `*` stands for any run of characters (header
/// names compare without regard to case).
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, text),
        Some((head, tail)) => {
            text.len() >= head.len() + tail.len()
                && text.is_char_boundary(head.len())
                && text.is_char_boundary(text.len() - tail.len())
                && eq(&text[..head.len()], head)
                && eq(&text[text.len() - tail.len()..], tail)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle.

/// What one lifecycle pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    /// Objects deleted because they expired.
    pub expired_objects: u64,
    /// Multipart uploads aborted.
    pub aborted_uploads: u64,
}

/// Objects and uploads read per metadata call of a pass.
const LIFECYCLE_PAGE: usize = 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Whether something written (or initiated) at `written` is past `age` at `now`.
pub fn is_past(age: LifecycleAge, written: UnixMillis, now: UnixMillis) -> bool {
    match age {
        LifecycleAge::Days(days) => now.0 >= written.0.saturating_add(i64::from(days) * DAY_MS),
        LifecycleAge::CreatedBefore(date) => written < date,
    }
}

impl Store {
    /// One pass of every bucket's enabled lifecycle rules at time `now`: deletes the objects a
    /// rule's expiration has reached (their blobs go to garbage, as for DeleteObject) and aborts
    /// the uploads its AbortMultipartUpload has reached. It acts for the bucket owner's rules,
    /// not for a caller, so it takes no grant. A bucket that fails is logged and skipped; the
    /// next pass tries again.
    pub async fn apply_lifecycle(&self, now: UnixMillis) -> Result<LifecycleReport> {
        let mut report = LifecycleReport::default();
        for bucket in self.meta.list_buckets().await? {
            for rule in bucket.subresources.lifecycle.iter().filter(|r| r.enabled) {
                if let Err(e) = self.apply_rule(&bucket.name, rule, now, &mut report).await {
                    warn!(bucket = %bucket.name, rule = %rule.id, error = %e,
                        "lifecycle rule not applied");
                }
            }
        }
        if report != LifecycleReport::default() {
            info!(
                expired_objects = report.expired_objects,
                aborted_uploads = report.aborted_uploads,
                "lifecycle applied"
            );
        }
        Ok(report)
    }

    async fn apply_rule(
        &self,
        bucket: &BucketName,
        rule: &LifecycleRule,
        now: UnixMillis,
        report: &mut LifecycleReport,
    ) -> Result<()> {
        if let Some(age) = rule.expiration {
            let mut from = rule.prefix.clone();
            loop {
                let page = self
                    .meta
                    .scan_objects(bucket, &rule.prefix, &from, LIFECYCLE_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                // The next page starts just after the last key seen.
                from = format!("{}\0", last.key.as_str());
                let full = page.len() == LIFECYCLE_PAGE;
                for object in page {
                    let tagged = rule.tags.iter().all(|t| object.tags.contains(t));
                    if tagged && is_past(age, object.last_modified, now) {
                        // Deleted only if it is still the object that was judged: one written
                        // since the scan is not the expired one.
                        let current = self.meta.object(bucket, &object.key).await?;
                        if current.is_some_and(|c| c.generation == object.generation)
                            && self
                                .meta
                                .delete_object(bucket, &object.key)
                                .await?
                                .is_some()
                        {
                            report.expired_objects += 1;
                            self.garbage_produced();
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        if let Some(age) = rule.abort_multipart {
            let mut after = UploadCursor::default();
            loop {
                let page = self
                    .meta
                    .scan_uploads(bucket, &rule.prefix, &after, LIFECYCLE_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = UploadCursor {
                    key: last.key.to_string(),
                    upload_id: Some(last.upload_id.to_string()),
                };
                let full = page.len() == LIFECYCLE_PAGE;
                for upload in page {
                    if is_past(age, upload.initiated, now) {
                        match self.meta.abort_upload(bucket, &upload.upload_id).await {
                            Ok(()) => {
                                report.aborted_uploads += 1;
                                self.garbage_produced();
                            }
                            // Completed or aborted since the scan.
                            Err(coffer_meta::Error::NoSuchUpload) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, text: &str, ignore_case: bool, expected: bool) {
        assert_eq!(
            wildcard_match(pattern, text, ignore_case),
            expected,
            "{pattern} ~ {text}"
        );
    }

    #[test]
    fn one_star_matches_any_run_of_characters() {
        check("*", "", false, true);
        check("*", "https://a.example.com", false, true);
        check(
            "https://*.example.com",
            "https://a.example.com",
            false,
            true,
        );
        check("https://*.example.com", "https://example.com", false, false);
        check(
            "https://*.example.com",
            "http://a.example.com",
            false,
            false,
        );
        check("http://a.com", "http://a.com", false, true);
        check("http://a.com", "http://A.com", false, false);
        check("x-oss-*", "X-OSS-Meta-A", true, true);
        check("x-oss-*", "content-type", true, false);
        check("ab*ba", "aba", false, false);
        check("é*é", "éé", false, true);
    }

    #[test]
    fn a_preflight_needs_origin_method_and_every_header_allowed() {
        let config = CorsConfig {
            rules: vec![CorsRule {
                allowed_origins: vec!["http://a.test".into()],
                allowed_methods: vec!["PUT".into()],
                allowed_headers: vec!["x-oss-*".into(), "content-type".into()],
                expose_headers: Vec::new(),
                max_age_seconds: None,
            }],
            response_vary: false,
        };
        let ask = |origin, method, headers: &[&str]| {
            CorsRequest {
                origin,
                method,
                headers,
            }
            .matching(&config)
            .is_some()
        };
        assert!(ask(
            "http://a.test",
            "PUT",
            &["x-oss-meta-a", "Content-Type"]
        ));
        assert!(ask("http://a.test", "PUT", &[]));
        assert!(!ask("http://b.test", "PUT", &[]));
        assert!(!ask("http://a.test", "GET", &[]));
        assert!(!ask("http://a.test", "PUT", &["authorization"]));
    }

    #[test]
    fn ages_count_days_from_the_write_or_compare_with_a_date() {
        let t = UnixMillis(1_700_000_000_000);
        assert!(!is_past(
            LifecycleAge::Days(1),
            t,
            UnixMillis(t.0 + DAY_MS - 1)
        ));
        assert!(is_past(LifecycleAge::Days(1), t, UnixMillis(t.0 + DAY_MS)));
        assert!(is_past(
            LifecycleAge::CreatedBefore(UnixMillis(t.0 + 1)),
            t,
            t
        ));
        assert!(!is_past(LifecycleAge::CreatedBefore(t), t, t));
    }
}
