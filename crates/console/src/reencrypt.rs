//! "Re-encrypt existing objects": a job that rewrites every object of a bucket whose encryption
//! differs from the bucket's current rule, with progress and a result summary.
//!
//! It is the engine of the CLI's `coffer reencrypt` (`coffer_reencrypt::run`) over the store in
//! process: the engine lists the objects, skips the ones already encrypted as asked, and has
//! each other one copied onto itself with the rule's encryption, guarded by its ETag (a
//! concurrent writer wins and the object is counted as skipped, never overwritten with older
//! data). [`StoreBackend`] is what differs from the CLI: each listing and each copy is
//! authorized as the logged-in principal (`oss:ListObjects`; `oss:GetObject` on the source,
//! `oss:PutObject` on the target, and the `kms:*` checks of the key), exactly as the API's
//! ListObjects and CopyObject.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use coffer_access::{Access, RequestFacts, Target};
use coffer_core::{
    Acl, CopyObject, EncryptionRule, ListEntry, ListQuery, MetadataDirective, ObjectRecord,
    Preconditions, RequestContext, SseAlgorithm, SseRequest, Store,
};
use coffer_iam::{Action, Principal};
use coffer_reencrypt::{Algorithm, Encryption, Listed, Mode, Object, Options, Page, Progress};
use coffer_types::{BucketName, ObjectKey};
use http::StatusCode;
use maud::html;

use crate::encryption;
use crate::error::ConsoleError;
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};

/// Most jobs kept (finished ones are dropped oldest first past it).
const MAX_JOBS: usize = 100;

/// Objects one job has in hand at once: a few copies overlap their KMS and disk waits without
/// one person's job taking the server's threads from the API's clients.
const PARALLEL: usize = 4;

/// Objects per listing page (ListObjects' own maximum).
const PAGE_LEN: usize = 1000;

impl coffer_reencrypt::Failure for ConsoleError {
    fn code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

struct Job {
    bucket: BucketName,
    /// Who started it: only that principal sees it.
    owner: String,
    target: String,
    progress: Progress<ConsoleError>,
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
                    .filter(|(_, j)| j.progress.counts().done)
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

/// How an object of the store is encrypted, in the engine's terms.
fn encryption_of(o: &ObjectRecord) -> Encryption {
    let Some(e) = &o.encryption else {
        return Encryption::none();
    };
    Encryption {
        algorithm: algorithm_of(e.algorithm),
        kms_key_id: e.kms_key_id.clone(),
        kms_data_sm4: e.kms_data_sm4,
    }
}

fn algorithm_of(a: SseAlgorithm) -> Algorithm {
    match a {
        SseAlgorithm::Aes256 => Algorithm::Aes256,
        SseAlgorithm::Sm4 => Algorithm::Sm4,
        SseAlgorithm::Kms => Algorithm::Kms,
        SseAlgorithm::SseC => Algorithm::Customer,
    }
}

/// What a bucket's rule asks of its objects.
fn wanted_by(rule: &EncryptionRule) -> Encryption {
    Encryption {
        algorithm: algorithm_of(rule.algorithm),
        kms_key_id: rule.kms_key_id.clone(),
        kms_data_sm4: rule.kms_data_sm4,
    }
}

/// The copy's encryption request for what the engine asks.
fn request_for(wanted: &Encryption) -> Result<SseRequest, ConsoleError> {
    match wanted.algorithm {
        Algorithm::Aes256 => Ok(SseRequest::Aes256),
        Algorithm::Sm4 => Ok(SseRequest::Sm4),
        Algorithm::Kms => Ok(SseRequest::Kms {
            key_id: wanted.kms_key_id.clone(),
            data_sm4: wanted.kms_data_sm4,
        }),
        // A bucket rule names none of these (the API refuses them).
        Algorithm::None | Algorithm::Customer | Algorithm::Other(_) => Err(ConsoleError::invalid(
            "The bucket's rule names no encryption method objects can be rewritten with.",
        )),
    }
}

fn listed(o: &ObjectRecord) -> Listed {
    Listed {
        key: o.key.to_string(),
        size: o.size,
        etag: o.etag.clone(),
        encryption: Some(encryption_of(o)),
    }
}

/// The engine's backend over the store, acting as the principal who started the job with the
/// facts of the request that started it.
struct StoreBackend {
    store: Arc<Store>,
    access: Arc<Access>,
    principal: Principal,
    facts: RequestFacts,
    ctx: RequestContext,
    bucket: BucketName,
}

impl coffer_reencrypt::Backend for StoreBackend {
    type Error = ConsoleError;

    async fn list(&self, marker: Option<&str>) -> Result<Page, ConsoleError> {
        let grant = self
            .access
            .authorize(
                &self.principal,
                Action::ListObjects,
                Target::bucket(&self.bucket),
                &self.facts,
            )
            .await?;
        let page = self
            .store
            .list_objects(
                &self.ctx,
                &grant,
                &self.bucket,
                &ListQuery {
                    prefix: String::new(),
                    delimiter: None,
                    marker: marker.unwrap_or("").to_owned(),
                    max_keys: PAGE_LEN,
                },
            )
            .await?;
        Ok(Page {
            objects: page
                .entries
                .iter()
                .filter_map(|e| match e {
                    ListEntry::Object(o) => Some(listed(o)),
                    _ => None,
                })
                .collect(),
            next: page.next_marker().map(str::to_owned),
        })
    }

    /// Not asked in practice: the store's listing says how each object is encrypted. Answered
    /// all the same, as HeadObject would be.
    async fn inspect(&self, listed: &Listed) -> Result<Object, ConsoleError> {
        let key = ObjectKey::parse(&listed.key)?;
        let grant = self
            .access
            .authorize(
                &self.principal,
                Action::GetObject,
                Target::object(&self.bucket, &key),
                &self.facts,
            )
            .await?;
        let o = self
            .store
            .head_object(
                &self.ctx,
                &grant,
                &self.bucket,
                &key,
                &Preconditions::default(),
            )
            .await?;
        Ok(Object {
            key: listed.key.clone(),
            size: o.size,
            etag: o.etag.clone(),
            encryption: encryption_of(&o),
        })
    }

    async fn rewrite(
        &self,
        object: &Object,
        wanted: &Encryption,
        mode: Mode,
    ) -> Result<(), ConsoleError> {
        let sse = request_for(wanted)?;
        let bucket = &self.bucket;
        let key = ObjectKey::parse(&object.key)?;
        let target = Target::object(bucket, &key);
        if mode == Mode::Rewrap {
            // Asked only where a rewrap reaches `wanted` (KMS, same data cipher).
            let grant = self
                .access
                .authorize(&self.principal, Action::PutObject, target, &self.facts)
                .await?;
            self.store
                .update_object_encryption(
                    &self.ctx,
                    &grant,
                    bucket,
                    &key,
                    wanted.kms_key_id.as_deref(),
                    Some(&object.etag),
                )
                .await?;
            return Ok(());
        }
        let source = self
            .access
            .authorize_copy_source(&self.principal, bucket, &key, &self.facts)
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
                    source_key: key.clone(),
                    bucket: bucket.clone(),
                    key,
                    directive: MetadataDirective::Copy,
                    metadata: Default::default(),
                    source_preconditions: Preconditions {
                        if_match: Some(object.etag.clone()),
                        ..Default::default()
                    },
                    acl: Acl::Default,
                    storage_class: None,
                    forbid_overwrite: false,
                    sse: Some(sse),
                    // Re-encryption keeps the object's tags, as the CLI's CopyObject does.
                    tags: None,
                },
            )
            .await?;
        Ok(())
    }

    fn observe(&self, event: coffer_reencrypt::Event<'_, ConsoleError>) {
        if let coffer_reencrypt::Event::Failed { key, error: e } = event
            && e.status.is_server_error()
        {
            tracing::error!(code = %e.code, cause = ?e.cause, key = key.unwrap_or("(listing)"), "re-encryption failed");
        }
    }
}

/// POST /buckets/{b}/reencrypt: starts a job towards the bucket's current rule.
pub(crate) async fn start(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    // "Only change the key where possible": objects a rewrap can serve keep their data.
    let rewrap = req.form().await?.get("rewrap") == Some("on");
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
    let wanted = wanted_by(&rule);
    let job = Arc::new(Job {
        bucket: bucket.clone(),
        owner: caller.who.clone(),
        target: encryption::summary(Some(&rule)),
        progress: Progress::new(),
    });
    let id = svc.jobs.insert(job.clone());
    let backend = StoreBackend {
        store: svc.store.clone(),
        access: svc.access.clone(),
        principal: caller.principal.clone(),
        facts: caller.facts.clone(),
        ctx: caller.ctx.clone(),
        bucket: bucket.clone(),
    };
    let options = Options {
        parallel: PARALLEL,
        mode: if rewrap { Mode::Rewrap } else { Mode::Copy },
        ..Options::default()
    };
    tokio::spawn(async move {
        coffer_reencrypt::run(&backend, &wanted, options, &job.progress).await;
        tracing::info!(bucket = %job.bucket, "re-encryption job finished");
    });
    Ok(Reply::redirect(&format!(
        "/buckets/{bucket}/reencrypt/{id}"
    )))
}

/// The first failure as the page shows it: code and words.
fn first_error(p: &Progress<ConsoleError>) -> Option<(String, String)> {
    p.with_first_error(|f| f.map(|f| (f.error.code.clone(), f.error.message.clone())))
}

fn progress_json(
    c: &coffer_reencrypt::Counts,
    error: Option<&(String, String)>,
) -> serde_json::Value {
    serde_json::json!({
        "Listed": c.listed, "Rewritten": c.rewritten, "Rewrapped": c.rewrapped,
        "AlreadyRight": c.already,
        "Skipped": c.skipped, "Failed": c.failed, "Bytes": c.bytes, "Done": c.done,
        "Error": error.map(|(code, m)| format!("{} ({code}): {m}", page::words(code))),
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
    let p = job.progress.counts();
    let error = first_error(&job.progress);
    if json {
        return Ok(Reply::json(
            StatusCode::OK,
            &progress_json(&p, error.as_ref()),
        ));
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
                    progress #job-progress max=(p.listed.max(1)) value=(p.settled()) {}
                    dl.facts #job-summary {
                        dt { "State" } dd #job-state { (if p.done { "Finished" } else { "Running" }) }
                        dt { "Objects looked at" } dd #job-listed { (p.listed) }
                        dt { "Re-encrypted" } dd #job-rewritten { (p.rewritten) " (" (page::size(p.bytes)) " copied)" }
                        dt { "Of which only the key changed" } dd #job-rewrapped { (p.rewrapped) }
                        dt { "Already as asked" } dd #job-already { (p.already) }
                        dt { "Changed meanwhile (left as written)" } dd #job-skipped { (p.skipped) }
                        dt { "Failed" } dd #job-failed { (p.failed) }
                    }
                    @if let Some((code, message)) = &error { (page::error_banner(code, message)) }
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
            checksum: None,
        }
    }

    fn matches(o: &ObjectRecord, rule: &EncryptionRule) -> bool {
        coffer_reencrypt::is_already_as_asked(&encryption_of(o), &wanted_by(rule))
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
        assert!(!matches(
            &object(Some((SseAlgorithm::SseC, None, false))),
            &sm4
        ));
        // The default key: an SSE-KMS object records the CMK it was made under, whichever.
        let default_key = rule(SseAlgorithm::Kms, None, false);
        assert!(matches(
            &object(Some((SseAlgorithm::Kms, Some("the-default-key-id"), false))),
            &default_key
        ));
        assert!(!matches(
            &object(Some((SseAlgorithm::Kms, Some("k1"), true))),
            &default_key
        ));
    }

    #[test]
    fn the_copy_asks_for_what_the_rule_says() {
        let wanted = wanted_by(&EncryptionRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("k1".into()),
            kms_data_sm4: true,
        });
        assert_eq!(
            request_for(&wanted).unwrap(),
            SseRequest::Kms {
                key_id: Some("k1".into()),
                data_sm4: true
            }
        );
        assert_eq!(
            request_for(&Encryption::new(Algorithm::Sm4)).unwrap(),
            SseRequest::Sm4
        );
        assert!(request_for(&Encryption::none()).is_err());
    }
}
