//! Bucket policies: kept in the bucket's record in the metadata store (so deleting the bucket
//! drops its policy in the same transaction), parsed once per text and cached here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use coffer_iam::Iam;
use coffer_iam::policy::PolicyDocument;
use coffer_meta::{BucketRecord, MetaStore};
use coffer_types::BucketName;
use tracing::{info, warn};

use crate::{Error, Result};

/// Parsed bucket policies, by bucket, with the text each was parsed from. The store is the truth:
/// every decision reads the bucket's record, and an entry is used only while its text is the
/// record's, so a changed, deleted or re-created bucket never sees a stale document.
#[derive(Default)]
pub(crate) struct PolicyCache {
    parsed: Mutex<HashMap<BucketName, (String, Arc<PolicyDocument>)>>,
}

impl PolicyCache {
    /// The parsed policy of `bucket`, if its record has one.
    pub(crate) fn document(
        &self,
        iam: &Iam,
        bucket: &BucketRecord,
    ) -> Result<Option<Arc<PolicyDocument>>> {
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(text) = &bucket.policy else {
            parsed.remove(&bucket.name);
            return Ok(None);
        };
        if let Some((cached, doc)) = parsed.get(&bucket.name)
            && cached == text
        {
            return Ok(Some(doc.clone()));
        }
        let doc = Arc::new(
            iam.parse_bucket_policy(bucket.name.as_str(), text)
                .map_err(|e| Error::CorruptPolicy {
                    bucket: bucket.name.to_string(),
                    reason: e.to_string(),
                })?,
        );
        parsed.insert(bucket.name.clone(), (text.clone(), doc.clone()));
        Ok(Some(doc))
    }
}

/// Moves the bucket policies older versions kept in the identity store into their buckets'
/// records. Idempotent: a policy is removed from the identity store only after its bucket holds
/// it (or the bucket is gone), and a bucket that already holds a policy keeps it, so a crash in
/// between is finished at the next start.
pub(crate) async fn migrate_legacy(iam: &Iam, meta: &dyn MetaStore) -> Result<()> {
    for (bucket, text) in iam.legacy_bucket_policies() {
        match BucketName::parse(&bucket) {
            Ok(name) => match meta.bucket(&name).await? {
                Some(record) if record.policy.is_none() => {
                    meta.set_bucket_policy(&name, Some(text)).await?;
                    info!(bucket = %name, "bucket policy moved to the metadata store");
                }
                Some(_) => {}
                None => warn!(bucket = %name, "dropping the policy of a bucket that is gone"),
            },
            Err(_) => warn!(bucket = %bucket, "dropping the policy of an invalid bucket name"),
        }
        iam.forget_legacy_bucket_policy(&bucket)?;
    }
    Ok(())
}
