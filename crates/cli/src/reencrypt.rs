//! `coffer reencrypt`'s side of the re-encryption engine (`coffer_reencrypt`): a backend over
//! the OSS API. The listing is ListObjectsV2 (which does not say how objects are encrypted, so
//! each object is looked at with a HEAD), and a rewrite is a copy onto itself through
//! [`Transfers::copy`] (CopyObject, or UploadPartCopy above CopyObject's 1 GiB limit) guarded
//! by `x-oss-copy-source-if-match`; with `--rewrap`, objects a rewrap can serve keep their data
//! and only get their data key wrapped anew (coffer's UpdateObjectEncryption, guarded by
//! `If-Match`). The progress bar and the per-object lines are drawn from
//! the engine's events.

use std::sync::atomic::{AtomicU64, Ordering};

use coffer_reencrypt::{Encryption, Event, Failure, Listed, Mode, Object, Page};
use serde_json::json;

use crate::client::OssError;
use crate::transfer::Transfers;

/// An error of the CLI's backend: whatever the request failed with.
pub(crate) struct CliFailure(pub(crate) anyhow::Error);

impl Failure for CliFailure {
    fn code(&self) -> Option<&str> {
        self.0.downcast_ref::<OssError>().map(|e| e.code.as_str())
    }
}

impl From<anyhow::Error> for CliFailure {
    fn from(e: anyhow::Error) -> Self {
        Self(e)
    }
}

/// The objects under `prefix` in `bucket`, seen through the OSS API with the profile's key.
pub(crate) struct OssBackend<'a> {
    /// Copies, already set to write the wanted encryption.
    pub(crate) transfers: &'a Transfers,
    pub(crate) bucket: String,
    pub(crate) prefix: String,
    /// The wanted method, as the `x-oss-server-side-encryption` header names it.
    pub(crate) to: String,
    /// The wanted CMK, for rewraps (`None`: the default OSS key).
    pub(crate) kms_key_id: Option<String>,
    /// JSON lines rather than text for what a dry run would rewrite.
    pub(crate) json: bool,
    pub(crate) listed: AtomicU64,
}

impl coffer_reencrypt::Backend for OssBackend<'_> {
    type Error = CliFailure;

    async fn list(&self, marker: Option<&str>) -> Result<Page, CliFailure> {
        let page = self
            .transfers
            .client
            .list_page(&self.bucket, &self.prefix, None, marker)
            .await?;
        Ok(Page {
            objects: page
                .objects
                .into_iter()
                .map(|o| Listed {
                    etag: o.etag.trim_matches('"').to_owned(),
                    key: o.key,
                    size: o.size,
                    encryption: None,
                })
                .collect(),
            next: page.next,
        })
    }

    async fn inspect(&self, listed: &Listed) -> Result<Object, CliFailure> {
        let info = self
            .transfers
            .client
            .head(&self.bucket, &listed.key)
            .await?;
        Ok(Object {
            key: listed.key.clone(),
            size: info.size,
            encryption: info.encryption(),
            etag: info.etag,
        })
    }

    /// `self.transfers` writes the wanted encryption (they were made for it), so `_wanted`
    /// is not read again here.
    async fn rewrite(
        &self,
        object: &Object,
        _wanted: &Encryption,
        mode: Mode,
    ) -> Result<(), CliFailure> {
        if mode == Mode::Rewrap {
            // The engine asks for a rewrap only where it reaches what is wanted (KMS, same data
            // cipher); `self.kms_key_id` is the wanted CMK.
            self.transfers
                .client
                .update_object_encryption(
                    &self.bucket,
                    &object.key,
                    self.kms_key_id.as_deref(),
                    &object.etag,
                )
                .await?;
            self.transfers.bar.inc(object.size);
            return Ok(());
        }
        // Only rewrite what is unchanged since HEAD: a concurrent writer wins.
        let guard = [(
            "x-oss-copy-source-if-match".to_owned(),
            format!("\"{}\"", object.etag),
        )];
        let (bucket, key) = (&self.bucket, &object.key);
        self.transfers
            .copy(bucket, key, object.size, bucket, key, &guard)
            .await?;
        Ok(())
    }

    fn observe(&self, event: Event<'_, CliFailure>) {
        let bar = &self.transfers.bar;
        match event {
            Event::Listed(page) => {
                let n =
                    self.listed.fetch_add(page.len() as u64, Ordering::Relaxed) + page.len() as u64;
                bar.inc_length(page.iter().map(|o| o.size).sum());
                bar.set_message(format!("{n} objects"));
            }
            Event::Already(o) => bar.inc(o.size),
            Event::WouldRewrite(o) => {
                bar.inc(o.size);
                let from = o.encryption.algorithm.header_value();
                if self.json {
                    println!(
                        "{}",
                        json!({"key": o.key, "from": from, "to": self.to, "dry_run": true})
                    );
                } else {
                    crate::commands::say(
                        bar,
                        false,
                        format!(
                            "would rewrite oss://{}/{} ({} → {})",
                            self.bucket,
                            o.key,
                            from.unwrap_or("none"),
                            self.to
                        ),
                    );
                }
            }
            // The copy moved the bar itself.
            Event::Rewritten(_) => {}
            Event::Skipped { key, .. } => crate::commands::say(
                bar,
                true,
                format!("coffer: {key}: changed or deleted meanwhile; left as written"),
            ),
            Event::Failed {
                key: Some(key),
                error,
            } => crate::commands::say(bar, true, format!("coffer: {key}: {:#}", error.0)),
            // Reported once, at the end.
            Event::Failed { key: None, .. } => {}
        }
    }
}
