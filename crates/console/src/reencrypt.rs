//! "Re-encrypt existing objects": a job that rewrites every object of a bucket whose encryption
//! differs from the bucket's current rule, with progress and a result summary.
//!
//! It is the CLI's `coffer reencrypt` done in process, step for step: list the objects, skip the
//! ones already encrypted as asked, and copy each other one onto itself with the rule's
//! encryption, guarded by its ETag (a concurrent writer wins and the object is counted as
//! skipped, never overwritten with older data). Each copy is authorized as the logged-in
//! principal (`oss:GetObject` on the source, `oss:PutObject` on the target, and the `kms:*`
//! checks of the key), exactly as the API's CopyObject.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use coffer_access::{Access, RequestFacts, Target};
use coffer_core::{
    Acl, CopyObject, EncryptionRule, ListEntry, ListQuery, MetadataDirective, ObjectRecord,
    Preconditions, RequestContext, SseRequest, Store,
};
use coffer_iam::{Action, Principal};
use coffer_types::BucketName;
use http::StatusCode;
use maud::html;

use crate::encryption;
use crate::error::ConsoleError;
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService};

/// Most jobs kept (finished ones are dropped oldest first past it).
const MAX_JOBS: usize = 100;

/// The progress of one job.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub(crate) listed: u64,
    pub(crate) rewritten: u64,
    pub(crate) already: u64,
    pub(crate) skipped: u64,
    pub(crate) failed: u64,
    pub(crate) bytes: u64,
    pub(crate) done: bool,
    /// The first failure, as code and words.
    pub(crate) first_error: Option<(String, String)>,
}

struct Job {
    bucket: BucketName,
    /// Who started it: only that principal sees it.
    owner: String,
    target: String,
    progress: Mutex<Progress>,
}

/// The jobs of the console.
#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Mutex<(u64, HashMap<String, Arc<Job>>)>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<String, Arc<Job>>)> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, job: Arc<Job>) -> String {
        let mut g = self.lock();
        g.0 += 1;
        let id = format!("{}-{}", g.0, &crate::session::random_token()[..8]);
        if g.1.len() >= MAX_JOBS {
            let finished: Vec<String> =
                g.1.iter()
                    .filter(|(_, j)| lock(&j.progress).done)
                    .map(|(k, _)| k.clone())
                    .collect();
            for k in finished.into_iter().take(g.1.len() + 1 - MAX_JOBS) {
                g.1.remove(&k);
            }
        }
        g.1.insert(id.clone(), job);
        id
    }

    fn get(&self, id: &str, owner: &str, bucket: &BucketName) -> Option<Arc<Job>> {
        self.lock()
            .1
            .get(id)
            .filter(|j| j.owner == owner && &j.bucket == bucket)
            .cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `o` is already encrypted as `rule` asks.
fn matches(o: &ObjectRecord, rule: &EncryptionRule) -> bool {
    let Some(e) = &o.encryption else {
        return false;
    };
    e.algorithm == rule.algorithm
        && (rule.algorithm != coffer_core::SseAlgorithm::Kms
            || (e.kms_data_sm4 == rule.kms_data_sm4
                && match &rule.kms_key_id {
                    None => e.kms_key_id.is_none(),
                    Some(k) => e.kms_key_id.as_deref() == Some(k.as_str()),
                }))
}

/// What a running job acts with: the principal, the facts of the request that started it.
struct Actor {
    store: Arc<Store>,
    access: Arc<Access>,
    principal: Principal,
    facts: RequestFacts,
    ctx: RequestContext,
}

impl Actor {
    async fn rewrite(
        &self,
        bucket: &BucketName,
        o: &ObjectRecord,
        sse: &SseRequest,
    ) -> Result<(), ConsoleError> {
        let target = Target::object(bucket, &o.key);
        let source = self
            .access
            .authorize_copy_source(&self.principal, bucket, &o.key, &self.facts)
            .await?;
        let grant = self
            .access
            .authorize(&self.principal, Action::PutObject, target, &self.facts)
            .await?;
        self.store
            .copy_object(
                &self.ctx,
                &source,
                &grant,
                CopyObject {
                    source_bucket: bucket.clone(),
                    source_key: o.key.clone(),
                    bucket: bucket.clone(),
                    key: o.key.clone(),
                    directive: MetadataDirective::Copy,
                    metadata: Default::default(),
                    source_preconditions: Preconditions {
                        if_match: Some(o.etag.clone()),
                        ..Default::default()
                    },
                    acl: Acl::Default,
                    storage_class: None,
                    forbid_overwrite: false,
                    sse: Some(sse.clone()),
                    // Re-encryption keeps the object's tags, as the CLI's CopyObject does.
                    tags: None,
                },
            )
            .await?;
        Ok(())
    }

    async fn run(self, job: Arc<Job>, rule: EncryptionRule) {
        let sse = SseRequest::from_rule(&rule);
        let bucket = job.bucket.clone();
        let mut marker = String::new();
        loop {
            let page = async {
                let grant = self
                    .access
                    .authorize(
                        &self.principal,
                        Action::ListObjects,
                        Target::bucket(&bucket),
                        &self.facts,
                    )
                    .await?;
                Ok::<_, ConsoleError>(
                    self.store
                        .list_objects(
                            &self.ctx,
                            &grant,
                            &bucket,
                            &ListQuery {
                                prefix: String::new(),
                                delimiter: None,
                                marker: marker.clone(),
                                max_keys: 1000,
                            },
                        )
                        .await?,
                )
            }
            .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let mut p = lock(&job.progress);
                    p.failed += 1;
                    p.first_error.get_or_insert((e.code, e.message));
                    break;
                }
            };
            for entry in &page.entries {
                let ListEntry::Object(o) = entry else {
                    continue;
                };
                lock(&job.progress).listed += 1;
                if matches(o, &rule) {
                    lock(&job.progress).already += 1;
                    continue;
                }
                let outcome = self.rewrite(&bucket, o, &sse).await;
                let mut p = lock(&job.progress);
                match outcome {
                    Ok(()) => {
                        p.rewritten += 1;
                        p.bytes += o.size;
                    }
                    // Changed or deleted since listed: its writer's version stands.
                    Err(e) if e.code == "PreconditionFailed" || e.code == "NoSuchKey" => {
                        p.skipped += 1
                    }
                    Err(e) => {
                        if e.status.is_server_error() {
                            tracing::error!(code = %e.code, cause = ?e.cause, key = %o.key, "re-encryption failed");
                        }
                        p.failed += 1;
                        p.first_error.get_or_insert((e.code, e.message));
                    }
                }
            }
            match page.next_marker() {
                Some(m) => marker = m.to_owned(),
                None => break,
            }
        }
        lock(&job.progress).done = true;
        tracing::info!(bucket = %bucket, "re-encryption job finished");
    }
}

/// POST /buckets/{b}/reencrypt: starts a job towards the bucket's current rule.
pub(crate) async fn start(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let back = format!("/buckets/{bucket}/encryption");
    let rule = async {
        let grant = caller
            .authorize(
                &svc.access,
                Action::GetBucketEncryption,
                Target::bucket(bucket),
            )
            .await?;
        svc.store
            .bucket_encryption(&caller.ctx, &grant, bucket)
            .await?
            .ok_or_else(|| {
                ConsoleError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchServerSideEncryptionRule",
                    "The bucket has no server-side encryption rule to re-encrypt to: Set one first.",
                )
            })
    }
    .await;
    let rule = match rule {
        Ok(r) => r,
        Err(e) => return Ok(caller.done(svc, &back, Err(e))),
    };
    let job = Arc::new(Job {
        bucket: bucket.clone(),
        owner: caller.who.clone(),
        target: encryption::summary(Some(&rule)),
        progress: Mutex::new(Progress::default()),
    });
    let id = svc.jobs.insert(job.clone());
    let actor = Actor {
        store: svc.store.clone(),
        access: svc.access.clone(),
        principal: caller.principal.clone(),
        facts: caller.facts.clone(),
        ctx: caller.ctx.clone(),
    };
    tokio::spawn(actor.run(job, rule));
    Ok(Reply::redirect(&format!(
        "/buckets/{bucket}/reencrypt/{id}"
    )))
}

fn progress_json(p: &Progress) -> serde_json::Value {
    serde_json::json!({
        "Listed": p.listed, "Rewritten": p.rewritten, "AlreadyRight": p.already,
        "Skipped": p.skipped, "Failed": p.failed, "Bytes": p.bytes, "Done": p.done,
        "Error": p.first_error.as_ref().map(|(c, m)| format!("{} ({c}): {m}", page::words(c))),
    })
}

/// GET /buckets/{b}/reencrypt/{id} (a page) and .../status (JSON for the page's script).
pub(crate) fn show(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
    id: &str,
    json: bool,
) -> Result<Reply, ConsoleError> {
    let job = svc.jobs.get(id, &caller.who, bucket).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::NOT_FOUND,
            "NoSuchJob",
            "There is no such re-encryption job (jobs are kept while the server runs).",
        )
    })?;
    let p = lock(&job.progress).clone();
    if json {
        return Ok(Reply::json(StatusCode::OK, &progress_json(&p)));
    }
    let content = html! {
        div.layout {
            (page::bucket_nav(bucket.as_str(), "encryption"))
            section.content {
                p.crumbs { "Data security" }
                h1 { "Re-encrypt existing objects" }
                section.panel #job data-status={"/buckets/" (bucket) "/reencrypt/" (id) "/status"} data-done=(p.done) {
                    p { "Rewriting the objects of " strong { (bucket) } " that are not encrypted as " strong { (job.target) } "." }
                    label for="job-progress" { "Progress" }
                    progress #job-progress max=(p.listed.max(1)) value=(p.rewritten + p.already + p.skipped + p.failed) {}
                    dl.facts #job-summary {
                        dt { "State" } dd #job-state { (if p.done { "Finished" } else { "Running" }) }
                        dt { "Objects looked at" } dd #job-listed { (p.listed) }
                        dt { "Re-encrypted" } dd #job-rewritten { (p.rewritten) " (" (page::size(p.bytes)) ")" }
                        dt { "Already as asked" } dd #job-already { (p.already) }
                        dt { "Changed meanwhile (left as written)" } dd #job-skipped { (p.skipped) }
                        dt { "Failed" } dd #job-failed { (p.failed) }
                    }
                    @if let Some((code, message)) = &p.first_error { (page::error_banner(code, message)) }
                    p { a href={"/buckets/" (bucket) "/reencrypt/" (id)} { "Refresh" } " · " a href={"/buckets/" (bucket) "/encryption"} { "Back to Server-side encryption" } }
                }
            }
        }
    };
    Ok(caller.page(
        svc,
        Section::Buckets,
        "Re-encrypt existing objects",
        content,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::{ObjectEncryption, SseAlgorithm};

    fn object(enc: Option<(SseAlgorithm, Option<&str>, bool)>) -> ObjectRecord {
        ObjectRecord {
            key: coffer_types::ObjectKey::parse("k").unwrap(),
            generation: 1,
            size: 1,
            etag: "E".into(),
            crc64: 0,
            last_modified: coffer_core::UnixMillis(0),
            object_type: coffer_core::ObjectType::Normal,
            storage_class: coffer_core::StorageClass::Standard,
            acl: Acl::Default,
            content_type: String::new(),
            headers: Vec::new(),
            user_meta: Vec::new(),
            segments: Vec::new(),
            encryption: enc.map(|(algorithm, key, sm4)| ObjectEncryption {
                algorithm,
                kms_key_id: key.map(str::to_owned),
                kms_data_sm4: sm4,
                envelope: Vec::new(),
            }),
            tags: Vec::new(),
        }
    }

    #[test]
    fn only_objects_encrypted_otherwise_than_the_rule_are_rewritten() {
        let rule = |algorithm, key: Option<&str>, sm4| EncryptionRule {
            algorithm,
            kms_key_id: key.map(str::to_owned),
            kms_data_sm4: sm4,
        };
        let kms_k1 = rule(SseAlgorithm::Kms, Some("k1"), false);
        assert!(matches(
            &object(Some((SseAlgorithm::Kms, Some("k1"), false))),
            &kms_k1
        ));
        assert!(!matches(
            &object(Some((SseAlgorithm::Kms, Some("k2"), false))),
            &kms_k1
        ));
        assert!(!matches(
            &object(Some((SseAlgorithm::Kms, Some("k1"), true))),
            &kms_k1
        ));
        assert!(!matches(
            &object(Some((SseAlgorithm::Kms, None, false))),
            &kms_k1
        ));
        assert!(!matches(&object(None), &kms_k1));
        let sm4 = rule(SseAlgorithm::Sm4, None, false);
        assert!(matches(
            &object(Some((SseAlgorithm::Sm4, None, false))),
            &sm4
        ));
        assert!(!matches(
            &object(Some((SseAlgorithm::Aes256, None, false))),
            &sm4
        ));
        let default_key = rule(SseAlgorithm::Kms, None, false);
        assert!(matches(
            &object(Some((SseAlgorithm::Kms, None, false))),
            &default_key
        ));
    }
}
