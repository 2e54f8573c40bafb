//! Every `kms:*` rule the object store applies, in one place: SSE-KMS uploads and downloads, and
//! PutBucketEncryption naming a CMK. Aliases are resolved to key ids the same way for all of
//! them, so a policy on `key/<id>` means the same whichever name the request used.
//!
//! OSS's rules (OSS developer guide, "Server-side encryption"): using a CMK the caller named needs
//! `kms:GenerateDataKey` and `kms:Decrypt` to upload and `kms:Decrypt` to download; the account's
//! default OSS key (`alias/acs/oss`) needs none, though an explicit Deny still wins (RAM
//! evaluation): a Deny of `kms:GenerateDataKey` stops uploads under it and a Deny of `kms:Decrypt`
//! stops reads; choosing a named CMK as a bucket's default needs
//! `kms:DescribeKey` and `kms:ListKeys`. The account's root may use every key of its account.

use std::sync::Arc;

use coffer_iam::{Conditions, Iam, Principal};
use coffer_kms::{AccountId, Caller, KeyRef, Kms};

/// The `kms:*` permission checks, over the identities and (to resolve aliases) the KMS engine.
pub(crate) struct KeyRules {
    pub(crate) iam: Arc<Iam>,
    pub(crate) kms: Option<Arc<Kms>>,
    pub(crate) region: String,
}

/// Runs a KMS engine call on the blocking pool (the engine does file I/O under its locks).
pub(crate) async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
    panicked: impl FnOnce(tokio::task::JoinError) -> E,
) -> Result<T, E> {
    tokio::task::spawn_blocking(f).await.map_err(panicked)?
}

impl KeyRules {
    /// The key id `given` (a key id, alias or ARN) names for `caller`; a plain key id is taken
    /// as it is. Without a KMS engine, `given` itself.
    pub(crate) async fn resolve(
        &self,
        caller: &Caller,
        given: &str,
    ) -> Result<String, coffer_kms::Error> {
        let key = KeyRef::parse(given)?;
        if let KeyRef::Id(id) = &key {
            return Ok(id.to_string());
        }
        let Some(kms) = self.kms.clone() else {
            return Ok(given.to_owned());
        };
        let caller = caller.clone();
        blocking(
            move || kms.resolve_key_id(&caller, &key).map(|id| id.to_string()),
            |e| coffer_kms::Error::Internal(Box::new(e)),
        )
        .await
    }

    /// Checks each of `actions` on the key `key_id` (already resolved) for `principal`.
    pub(crate) fn check(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        actions: &[&'static str],
        key_id: &str,
    ) -> coffer_iam::Result<()> {
        if matches!(principal, Principal::Root { .. }) {
            return Ok(());
        }
        let arn = self.iam.kms_key_arn(&self.region, key_id);
        for action in actions {
            self.iam.check_kms(principal, action, &arn, conditions)?;
        }
        Ok(())
    }

    /// Writing with a named CMK (SSE-KMS upload, multipart initiation, copy destination).
    pub(crate) fn check_encrypt(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        key_id: &str,
    ) -> coffer_iam::Result<()> {
        self.check(
            principal,
            conditions,
            &["kms:GenerateDataKey", "kms:Decrypt"],
            key_id,
        )
    }

    /// Wrapping an existing object's data key under a named CMK in place (UpdateObjectEncryption):
    /// the permissions the Amazon S3 API reference lists for it that coffer's KMS knows.
    pub(crate) fn check_rewrap(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        key_id: &str,
    ) -> coffer_iam::Result<()> {
        self.check(
            principal,
            conditions,
            &["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            key_id,
        )
    }

    /// Writing under the account's default OSS key `default_key`: no Allow needed, but an explicit
    /// Deny of `kms:GenerateDataKey` refuses the upload.
    pub(crate) fn check_default_encrypt(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        default_key: &str,
    ) -> coffer_iam::Result<()> {
        if matches!(principal, Principal::Root { .. }) {
            return Ok(());
        }
        let arn = self.iam.kms_key_arn(&self.region, default_key);
        self.iam
            .check_not_denied(principal, "kms:GenerateDataKey", &arn, conditions)
    }

    /// Reading an object encrypted under `key_id`; `default_key` is the account's default OSS
    /// key, which needs no Allow but yields to an explicit Deny of `kms:Decrypt`.
    pub(crate) fn check_decrypt(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        key_id: &str,
        default_key: &str,
    ) -> coffer_iam::Result<()> {
        if key_id != default_key {
            return self.check(principal, conditions, &["kms:Decrypt"], key_id);
        }
        if matches!(principal, Principal::Root { .. }) {
            return Ok(());
        }
        let arn = self.iam.kms_key_arn(&self.region, key_id);
        self.iam
            .check_not_denied(principal, "kms:Decrypt", &arn, conditions)
    }

    /// PutBucketEncryption naming `given` as the bucket's default CMK. A name that does not
    /// resolve (no such alias, a key of another account) is checked as given, as OSS does not
    /// verify the key when the rule is set; uploads that use the rule will.
    pub(crate) async fn check_bucket_default(
        &self,
        principal: &Principal,
        conditions: &Conditions,
        bucket: &str,
        given: &str,
    ) -> coffer_iam::Result<()> {
        if matches!(principal, Principal::Root { .. }) {
            return Ok(());
        }
        let key_id = match AccountId::parse(self.iam.account_id()) {
            Ok(account) => {
                let caller = Caller::oss(account, principal.to_string(), bucket.to_owned());
                self.resolve(&caller, given)
                    .await
                    .unwrap_or_else(|_| given.to_owned())
            }
            Err(_) => given.to_owned(),
        };
        self.check(
            principal,
            conditions,
            &["kms:DescribeKey", "kms:ListKeys"],
            &key_id,
        )
    }
}
