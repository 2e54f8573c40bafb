//! SSE-KMS in process: the object store's `KmsClient` over the built-in KMS engine, with no
//! network hop; the `kms:*` permissions are the access layer's (`kms.rs`). Every call is metered and audited by the engine as made by the object store for
//! the caller, naming the object.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_core::{GeneratedKey, KmsCaller, KmsClient, KmsError};
use coffer_crypto::DataKey;
use coffer_kms::{
    AccountId, Caller, CiphertextBlob, DataKeySpec, Decrypt, Encrypt, EncryptionContext,
    GenerateDataKey, KeyRef, Kms, Plaintext,
};

use crate::kms::KeyRules;

/// The built-in KMS as SSE-KMS sees it. Made by [`Access::sse_kms`](crate::Access::sse_kms), so
/// it applies the access layer's `kms:*` rules.
pub struct InProcessKms {
    kms: Arc<Kms>,
    rules: Arc<KeyRules>,
}

impl std::fmt::Debug for InProcessKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessKms").finish_non_exhaustive()
    }
}

/// The `kms:*` check of a named CMK a data key is to be wrapped under.
type NamedKeyCheck =
    fn(&KeyRules, &coffer_iam::Principal, &coffer_iam::Conditions, &str) -> coffer_iam::Result<()>;

impl InProcessKms {
    pub(crate) fn new(kms: Arc<Kms>, rules: Arc<KeyRules>) -> Self {
        Self { kms, rules }
    }

    /// The CMK a data key is wrapped under, and its name as errors show it: `key_id` resolved
    /// and held to `check`, or, without one, the account's default OSS key, which needs no
    /// Allow but yields to an explicit Deny.
    async fn key_to_wrap_under(
        &self,
        caller: &KmsCaller,
        kms_caller: &Caller,
        key_id: Option<&str>,
        check: NamedKeyCheck,
    ) -> Result<(KeyRef, String), KmsError> {
        if let Some(k) = key_id {
            let resolved = self
                .rules
                .resolve(kms_caller, k)
                .await
                .map_err(|e| map_error(k, e))?;
            check(&self.rules, &caller.identity, &caller.conditions, &resolved)
                .map_err(denied(&resolved))?;
            let key = KeyRef::parse(&resolved).map_err(|_| KmsError::KeyNotFound(k.to_owned()))?;
            return Ok((key, k.to_owned()));
        }
        let shown = coffer_kms::OSS_DEFAULT_ALIAS.to_owned();
        let default = {
            let (kms, account, shown) = (
                self.kms.clone(),
                kms_caller.account_id.clone(),
                shown.clone(),
            );
            blocking(move || {
                kms.default_oss_key(&account)
                    .map_err(|e| map_error(&shown, e))
            })
            .await?
        };
        self.rules
            .check_default_encrypt(
                &caller.identity,
                &caller.conditions,
                &default.key_id.to_string(),
            )
            .map_err(denied(&shown))?;
        Ok((KeyRef::Id(default.key_id), shown))
    }
}

fn denied(key_id: &str) -> impl FnOnce(coffer_iam::Error) -> KmsError + '_ {
    move |_| KmsError::AccessDenied(key_id.to_owned())
}

fn map_error(key: &str, e: coffer_kms::Error) -> KmsError {
    use coffer_kms::Error as E;
    match e {
        E::KeyNotFound
        | E::CiphertextKeyNotFound
        | E::AliasNotFound
        | E::KeyVersionNotFound
        | E::ResourceNotFound => KmsError::KeyNotFound(key.to_owned()),
        E::InvalidParameter { .. } | E::MissingParameter(_) | E::UnsupportedAlias(_) => {
            KmsError::KeyNotFound(key.to_owned())
        }
        E::Disabled => KmsError::KeyDisabled(key.to_owned()),
        E::PendingDeletion => KmsError::KeyPendingDeletion(key.to_owned()),
        E::PendingImport => KmsError::KeyMaterialUnavailable(key.to_owned()),
        E::InvalidCiphertext => KmsError::Damaged,
        other => KmsError::Internal(Box::new(other)),
    }
}

fn kms_caller(caller: &KmsCaller) -> Result<Caller, KmsError> {
    let account =
        AccountId::parse(&caller.account_id).map_err(|e| KmsError::Internal(Box::new(e)))?;
    Ok(Caller::oss(
        account,
        caller.principal.clone(),
        caller.resource.clone(),
    ))
}

fn context(pairs: &[(String, String)]) -> EncryptionContext {
    let mut c = EncryptionContext::new();
    for (k, v) in pairs {
        c.insert(k.clone(), v.clone());
    }
    c
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KmsError> + Send + 'static,
) -> Result<T, KmsError> {
    crate::kms::blocking(f, |e| KmsError::Internal(Box::new(e))).await
}

#[async_trait]
impl KmsClient for InProcessKms {
    async fn generate_data_key(
        &self,
        caller: &KmsCaller,
        key_id: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<GeneratedKey, KmsError> {
        let kms = self.kms.clone();
        let kms_caller = kms_caller(caller)?;
        let context = context(pairs);
        let (key, shown) = self
            .key_to_wrap_under(caller, &kms_caller, key_id, KeyRules::check_encrypt)
            .await?;
        blocking(move || {
            let generated = kms
                .generate_data_key(
                    &kms_caller,
                    GenerateDataKey {
                        key,
                        key_spec: Some(DataKeySpec::Aes256),
                        number_of_bytes: None,
                        context,
                        dry_run: false,
                    },
                )
                .map_err(|e| map_error(&shown, e))?;
            let data_key = generated
                .plaintext
                .to_data_key()
                .map_err(|e| KmsError::Internal(Box::new(e)))?;
            Ok(GeneratedKey {
                key: data_key,
                key_id: generated.key_id.to_string(),
                blob: generated.ciphertext_blob.into_bytes(),
            })
        })
        .await
    }

    async fn decrypt_data_key(
        &self,
        caller: &KmsCaller,
        blob: &[u8],
        pairs: &[(String, String)],
    ) -> Result<DataKey, KmsError> {
        let kms = self.kms.clone();
        let kms_caller = kms_caller(caller)?;
        let blob = CiphertextBlob::from_bytes(blob.to_vec());
        let shown = blob
            .key_version()
            .map(|(k, _)| k.to_string())
            .unwrap_or_default();
        let context = context(pairs);
        if !matches!(caller.identity, coffer_iam::Principal::Root { .. }) && !shown.is_empty() {
            let default = {
                let kms = self.kms.clone();
                let account = kms_caller.account_id.clone();
                blocking(move || {
                    kms.default_oss_key(&account)
                        .map(|m| m.key_id.to_string())
                        .map_err(|e| KmsError::Internal(Box::new(e)))
                })
                .await?
            };
            self.rules
                .check_decrypt(&caller.identity, &caller.conditions, &shown, &default)
                .map_err(denied(&shown))?;
        }
        blocking(move || {
            let decrypted = kms
                .decrypt(&kms_caller, Decrypt::new(blob, context))
                .map_err(|e| map_error(&shown, e))?;
            decrypted
                .plaintext
                .to_data_key()
                .map_err(|_| KmsError::Damaged)
        })
        .await
    }

    async fn encrypt_data_key(
        &self,
        caller: &KmsCaller,
        key_id: Option<&str>,
        data_key: &DataKey,
        pairs: &[(String, String)],
    ) -> Result<(String, Vec<u8>), KmsError> {
        let kms = self.kms.clone();
        let kms_caller = kms_caller(caller)?;
        let (key, shown) = self
            .key_to_wrap_under(caller, &kms_caller, key_id, KeyRules::check_rewrap)
            .await?;
        let plaintext = Plaintext::from_slice(data_key.expose_secret());
        let context = context(pairs);
        blocking(move || {
            let encrypted = kms
                .encrypt(
                    &kms_caller,
                    Encrypt {
                        key,
                        plaintext,
                        context,
                        dry_run: false,
                    },
                )
                .map_err(|e| map_error(&shown, e))?;
            Ok((
                encrypted.key_id.to_string(),
                encrypted.ciphertext_blob.into_bytes(),
            ))
        })
        .await
    }
}
