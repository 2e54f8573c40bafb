//! Who may do what, decided in one place for every front-end.
//!
//! [`Access::authorize`] takes a principal (from the front-end's signature check), an OSS RAM
//! [`Action`], a [`Target`] (account, bucket or object) and the [`RequestFacts`] the front-end
//! observed (source address, transport, listing parameters, write headers, tags), and returns
//! the [`Grant`] the store's operations require. It reads what the decision needs itself: the
//! bucket's policy and ACL and the object's ACL from the metadata store, the principal's identity
//! and session policies from [`Iam`], which evaluates the RAM policy language and mints the grant.
//!
//! The `kms:*` permissions of SSE-KMS and of PutBucketEncryption live here too (`kms` module):
//! [`Access::sse_kms`] is the object store's `KmsClient` over the built-in KMS, and
//! [`Access::check_bucket_encryption_key`] checks a bucket's default CMK. Bucket policies are
//! stored with their bucket ([`Access::put_bucket_policy`]); those older versions kept in the
//! identity store are moved there by [`Access::open`].
//!
//! Nothing here knows a wire protocol: no headers, no status codes, no error codes.

mod error;
mod facts;
mod kms;
mod policy;
mod sse_kms;

use std::sync::Arc;

use coffer_iam::policy::Decision;
use coffer_iam::{Action, Conditions, Grant, Iam, Principal, PublicAccess, Resource};
use coffer_meta::{Acl, MetaStore};
use coffer_types::{BucketName, ObjectKey};

pub use error::{Error, Result};
pub use facts::RequestFacts;
pub use sse_kms::InProcessKms;

use crate::kms::KeyRules;
use crate::policy::PolicyCache;

/// What an action is on: the account (no bucket), a bucket, or an object of a bucket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// The bucket, for bucket and object actions.
    pub bucket: Option<&'a BucketName>,
    /// The object key, for object actions (with `bucket`).
    pub key: Option<&'a ObjectKey>,
}

impl<'a> Target<'a> {
    /// The account (ListBuckets).
    pub fn account() -> Self {
        Self::default()
    }

    /// A bucket.
    pub fn bucket(bucket: &'a BucketName) -> Self {
        Self {
            bucket: Some(bucket),
            key: None,
        }
    }

    /// An object.
    pub fn object(bucket: &'a BucketName, key: &'a ObjectKey) -> Self {
        Self {
            bucket: Some(bucket),
            key: Some(key),
        }
    }

    fn resource(&self) -> Resource {
        match (self.bucket, self.key) {
            (Some(b), Some(k)) => Resource::Object {
                bucket: b.to_string(),
                key: k.to_string(),
            },
            (Some(b), None) => Resource::Bucket(b.to_string()),
            _ => Resource::Account,
        }
    }
}

/// The access layer: identities, the metadata the decisions read, and the KMS rules.
pub struct Access {
    iam: Arc<Iam>,
    meta: Arc<dyn MetaStore>,
    keys: Arc<KeyRules>,
    policies: PolicyCache,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

fn public_access(acl: Acl) -> PublicAccess {
    match acl {
        Acl::PublicRead => PublicAccess::Read,
        Acl::PublicReadWrite => PublicAccess::ReadWrite,
        Acl::Default | Acl::Private => PublicAccess::None,
    }
}

impl Access {
    /// The access layer over `iam` and `meta`, with the KMS engine SSE-KMS uses (`None`: no
    /// SSE-KMS) in `region` (for key ARNs). Moves bucket policies an older version left in the
    /// identity store into their buckets first (idempotent). Call at startup.
    pub async fn open(
        iam: Arc<Iam>,
        meta: Arc<dyn MetaStore>,
        kms: Option<Arc<coffer_kms::Kms>>,
        region: String,
    ) -> Result<Self> {
        policy::migrate_legacy(&iam, &*meta).await?;
        Ok(Self {
            keys: Arc::new(KeyRules {
                iam: iam.clone(),
                kms,
                region,
            }),
            iam,
            meta,
            policies: PolicyCache::default(),
        })
    }

    /// The identities.
    pub fn iam(&self) -> &Arc<Iam> {
        &self.iam
    }

    /// The object store's SSE-KMS client over the built-in KMS, applying this layer's `kms:*`
    /// rules; `None` without a KMS.
    pub fn sse_kms(&self) -> Option<Arc<InProcessKms>> {
        let kms = self.keys.kms.clone()?;
        Some(Arc::new(InProcessKms::new(kms, self.keys.clone())))
    }

    /// Decides whether `principal` may perform `action` on `target` and mints the [`Grant`].
    ///
    /// The order is RAM's: an explicit Deny (identity, session or the bucket's policy) refuses;
    /// an Allow (the root on its own account, or a policy) grants; when nothing allows, object
    /// reads and writes fall back to the object's ACL, else the bucket's, for any caller. A write
    /// that creates an object and sets its ACL or tags ([`RequestFacts::sets_object_acl`],
    /// [`RequestFacts::sets_object_tags`]) also needs `oss:PutObjectAcl` / `oss:PutObjectTagging`
    /// on it. The grant carries the conditions it was decided under, for the `kms:*` checks the
    /// operation makes later.
    pub async fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        target: Target<'_>,
        facts: &RequestFacts,
    ) -> Result<Grant> {
        let conditions = facts.conditions_for(action);
        let (grant, bucket_policy) = self.decide(principal, action, target, &conditions).await?;
        for (asked, extra) in [
            (facts.sets_object_acl, "oss:PutObjectAcl"),
            (facts.sets_object_tags, "oss:PutObjectTagging"),
        ] {
            if asked
                && self.iam.decide(
                    principal,
                    extra,
                    grant.resource(),
                    bucket_policy.as_deref(),
                    &conditions,
                ) != Decision::Allow
            {
                return Err(coffer_iam::Error::AccessDenied {
                    action: extra,
                    resource: grant.resource().arn(self.iam.account_id()),
                }
                .into());
            }
        }
        Ok(grant)
    }

    /// The grant to read the source object of CopyObject or UploadPartCopy (`oss:GetObject` on
    /// it, under the request's shared conditions).
    pub async fn authorize_copy_source(
        &self,
        principal: &Principal,
        bucket: &BucketName,
        key: &ObjectKey,
        facts: &RequestFacts,
    ) -> Result<Grant> {
        let conditions = facts.conditions_for(Action::GetObject);
        let (grant, _) = self
            .decide(
                principal,
                Action::GetObject,
                Target::object(bucket, key),
                &conditions,
            )
            .await?;
        Ok(grant)
    }

    /// The decision itself: the bucket's policy and, when no policy allows a data action, the
    /// ACLs. Returns the grant and the bucket policy it was decided under.
    async fn decide(
        &self,
        principal: &Principal,
        action: Action,
        target: Target<'_>,
        conditions: &Conditions,
    ) -> Result<(Grant, Option<Arc<coffer_iam::policy::PolicyDocument>>)> {
        let resource = target.resource();
        let bucket = match target.bucket {
            Some(b) => self.meta.bucket(b).await?,
            None => None,
        };
        let bucket_policy = match &bucket {
            Some(record) => self.policies.document(&self.iam, record)?,
            None => None,
        };
        let data_action = action.is_object_read() || action.is_object_write();
        let public = match (target.bucket, &bucket) {
            (Some(b), Some(record))
                if data_action
                    && self.iam.decide(
                        principal,
                        action.as_str(),
                        &resource,
                        bucket_policy.as_deref(),
                        conditions,
                    ) == Decision::ImplicitDeny =>
            {
                let object_acl = match target.key {
                    Some(k) => self.meta.object(b, k).await?.map(|o| o.acl),
                    None => None,
                };
                match object_acl {
                    Some(acl) if acl != Acl::Default => public_access(acl),
                    _ => public_access(record.acl),
                }
            }
            _ => PublicAccess::None,
        };
        let grant = self.iam.authorize_with(
            principal,
            action,
            resource,
            bucket_policy.as_deref(),
            public,
            conditions,
        )?;
        Ok((grant, bucket_policy))
    }

    /// PutBucketEncryption naming `key_id` (a key id, alias or ARN) as the bucket's default CMK:
    /// the caller needs `kms:DescribeKey` and `kms:ListKeys` on the key it resolves to.
    pub async fn check_bucket_encryption_key(&self, grant: &Grant, key_id: &str) -> Result<()> {
        let bucket = grant.resource().bucket().unwrap_or_default();
        self.keys
            .check_bucket_default(grant.principal(), grant.conditions(), bucket, key_id)
            .await?;
        Ok(())
    }

    /// PutBucketPolicy: stores `text` as the policy of `bucket`, replacing any. `grant` must cover
    /// `oss:PutBucketPolicy` on the bucket. Refused: a malformed policy (`MalformedPolicy`
    /// naming the element) or one whose resources leave the bucket; `NoSuchBucket`.
    pub async fn put_bucket_policy(
        &self,
        grant: &Grant,
        bucket: &BucketName,
        text: &str,
    ) -> Result<()> {
        self.require(grant, Action::PutBucketPolicy, bucket)?;
        self.iam.parse_bucket_policy(bucket.as_str(), text)?;
        self.meta
            .set_bucket_policy(bucket, Some(text.to_owned()))
            .await
            .map_err(in_bucket(bucket))
    }

    /// GetBucketPolicy: the policy text as it was put, or `NoSuchBucketPolicy`.
    pub async fn bucket_policy(&self, grant: &Grant, bucket: &BucketName) -> Result<String> {
        self.require(grant, Action::GetBucketPolicy, bucket)?;
        let record = self
            .meta
            .bucket(bucket)
            .await?
            .ok_or_else(|| no_such_bucket(bucket))?;
        record
            .policy
            .ok_or_else(|| coffer_iam::Error::NoSuchBucketPolicy.into())
    }

    /// DeleteBucketPolicy: removes the policy; succeeds if there was none.
    pub async fn delete_bucket_policy(&self, grant: &Grant, bucket: &BucketName) -> Result<()> {
        self.require(grant, Action::DeleteBucketPolicy, bucket)?;
        self.meta
            .set_bucket_policy(bucket, None)
            .await
            .map_err(in_bucket(bucket))
    }

    fn require(&self, grant: &Grant, action: Action, bucket: &BucketName) -> Result<()> {
        let resource = Resource::Bucket(bucket.to_string());
        if grant.covers(action, &resource) {
            Ok(())
        } else {
            Err(coffer_iam::Error::AccessDenied {
                action: action.as_str(),
                resource: resource.arn(self.iam.account_id()),
            }
            .into())
        }
    }
}

fn no_such_bucket(bucket: &BucketName) -> Error {
    Error::NoSuchBucket {
        bucket: bucket.to_string(),
    }
}

fn in_bucket(bucket: &BucketName) -> impl Fn(coffer_meta::Error) -> Error + '_ {
    move |e| match e {
        coffer_meta::Error::NoSuchBucket => no_such_bucket(bucket),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests;
