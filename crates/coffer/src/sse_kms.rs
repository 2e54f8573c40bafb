//! SSE-KMS in process: the object store's `KmsClient` over the built-in KMS engine, with no
//! network hop. Every call is metered and audited by the engine as made by the object store for
//! the caller, naming the object.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_core::{GeneratedKey, KmsCaller, KmsClient, KmsError};
use coffer_crypto::DataKey;
use coffer_kms::{
    AccountId, Caller, CiphertextBlob, DataKeySpec, Decrypt, EncryptionContext, GenerateDataKey,
    KeyRef, Kms,
};

/// The built-in KMS as SSE-KMS sees it.
pub(crate) struct InProcessKms {
    kms: Arc<Kms>,
}

impl InProcessKms {
    pub(crate) fn new(kms: Arc<Kms>) -> Self {
        Self { kms }
    }
}

fn map_error(key: &str, e: coffer_kms::Error) -> KmsError {
    use coffer_kms::Error as E;
    match e {
        E::KeyNotFound | E::AliasNotFound | E::KeyVersionNotFound | E::ResourceNotFound => {
            KmsError::KeyNotFound(key.to_owned())
        }
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
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KmsError::Internal(Box::new(e)))?
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
        let key_id = key_id.map(str::to_owned);
        let context = context(pairs);
        blocking(move || {
            let shown = key_id
                .clone()
                .unwrap_or_else(|| coffer_kms::OSS_DEFAULT_ALIAS.to_owned());
            let key = match &key_id {
                Some(k) => KeyRef::parse(k).map_err(|_| KmsError::KeyNotFound(k.clone()))?,
                None => {
                    let default = kms
                        .default_oss_key(&kms_caller.account_id)
                        .map_err(|e| map_error(&shown, e))?;
                    KeyRef::Id(default.key_id)
                }
            };
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
}
