//! Cryptographic operations: GenerateDataKey, GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt,
//! ReEncrypt. New ciphertexts always use the key's primary version; Decrypt uses the version the
//! blob names.

use super::{Event, Kms, check_usable};
use crate::audit::Operation;
use crate::blob::{self, Binding, CiphertextBlob, Header};
use crate::caller::Caller;
use crate::context::EncryptionContext;
use crate::id::{KeyId, KeyRef, KeyVersionId};
use crate::key::{DataKeySpec, KeySpec};
use crate::secret::{Material, Plaintext};
use crate::{Error, Result};

/// Longest Encrypt input, in bytes.
pub const MAX_ENCRYPT_PLAINTEXT_LEN: usize = 6 * 1024;
/// Bounds of GenerateDataKey's NumberOfBytes.
const MAX_DATA_KEY_LEN: u32 = 1024;

/// The parameters of GenerateDataKey and GenerateDataKeyWithoutPlaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateDataKey {
    /// Key id, alias or ARN.
    pub key: KeyRef,
    /// `AES_256` (32 bytes) or `AES_128` (16 bytes); default `AES_256`.
    pub key_spec: Option<DataKeySpec>,
    /// 1 to 1024; wins over `key_spec` when both are given.
    pub number_of_bytes: Option<u32>,
    /// Bound to the blob; Decrypt must present the same.
    pub context: EncryptionContext,
    /// Check everything, then fail with [`Error::DryRunOperation`] instead of generating.
    pub dry_run: bool,
}

impl GenerateDataKey {
    /// A 32-byte data key under `key`, with an empty context.
    pub fn new(key: impl Into<KeyRef>) -> Self {
        Self {
            key: key.into(),
            key_spec: None,
            number_of_bytes: None,
            context: EncryptionContext::new(),
            dry_run: false,
        }
    }

    /// The same request with `context`.
    pub fn with_context(mut self, context: EncryptionContext) -> Self {
        self.context = context;
        self
    }

    fn len(&self) -> Result<usize> {
        match (self.number_of_bytes, self.key_spec) {
            (Some(n), _) if (1..=MAX_DATA_KEY_LEN).contains(&n) => Ok(n as usize),
            (Some(_), _) => Err(Error::invalid("NumberOfBytes", "must be 1 to 1024")),
            (None, Some(spec)) => Ok(spec.key_len()),
            (None, None) => Ok(DataKeySpec::Aes256.key_len()),
        }
    }
}

/// A new data key: the plaintext to use and forget, and the blob to store.
#[derive(Debug)]
pub struct GeneratedDataKey {
    /// The CMK (never an alias).
    pub key_id: KeyId,
    /// The version that encrypted it (the primary).
    pub key_version_id: KeyVersionId,
    /// The data key. Zeroized on drop; `Debug` shows no bytes.
    pub plaintext: Plaintext,
    /// The data key encrypted under the CMK.
    pub ciphertext_blob: CiphertextBlob,
}

/// The parameters of Encrypt.
#[derive(Debug)]
pub struct Encrypt {
    /// Key id, alias or ARN.
    pub key: KeyRef,
    /// At most 6 KiB.
    pub plaintext: Plaintext,
    /// Bound to the blob.
    pub context: EncryptionContext,
    /// Check everything, then fail with [`Error::DryRunOperation`].
    pub dry_run: bool,
}

/// The result of Encrypt and GenerateDataKeyWithoutPlaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    /// The CMK.
    pub key_id: KeyId,
    /// The version used (the primary).
    pub key_version_id: KeyVersionId,
    /// The ciphertext.
    pub ciphertext_blob: CiphertextBlob,
}

/// The parameters of Decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypt {
    /// What Encrypt or GenerateDataKey returned.
    pub ciphertext_blob: CiphertextBlob,
    /// The context it was made with.
    pub context: EncryptionContext,
    /// Check key and state, then fail with [`Error::DryRunOperation`] instead of decrypting.
    pub dry_run: bool,
}

impl Decrypt {
    /// Decrypt `ciphertext_blob` made with `context`.
    pub fn new(ciphertext_blob: CiphertextBlob, context: EncryptionContext) -> Self {
        Self {
            ciphertext_blob,
            context,
            dry_run: false,
        }
    }
}

/// The result of Decrypt.
#[derive(Debug)]
pub struct Decrypted {
    /// The CMK named by the blob.
    pub key_id: KeyId,
    /// The version named by the blob.
    pub key_version_id: KeyVersionId,
    /// What was encrypted (for a data key blob, the data key).
    pub plaintext: Plaintext,
}

/// The parameters of ReEncrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncrypt {
    /// The blob to move.
    pub ciphertext_blob: CiphertextBlob,
    /// The context it was made with.
    pub source_context: EncryptionContext,
    /// The key to move it under.
    pub destination_key: KeyRef,
    /// The context of the new blob.
    pub destination_context: EncryptionContext,
}

/// The result of ReEncrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncrypted {
    /// The key that had encrypted the blob.
    pub source_key_id: KeyId,
    /// Its version.
    pub source_key_version_id: KeyVersionId,
    /// The destination key.
    pub key_id: KeyId,
    /// The destination version (its primary).
    pub key_version_id: KeyVersionId,
    /// The new blob.
    pub ciphertext_blob: CiphertextBlob,
}

/// A key version ready to use, unsealed for the length of one operation.
struct Unsealed {
    spec: KeySpec,
    key_id: KeyId,
    version_id: KeyVersionId,
    material: Material,
}

impl Kms {
    /// GenerateDataKey: a fresh random data key, and the same encrypted under the key's primary
    /// version, bound to the request's context.
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        request: GenerateDataKey,
    ) -> Result<GeneratedDataKey> {
        self.observe(caller, Operation::GenerateDataKey, |event| {
            event.context = Some(request.context.clone());
            let len = request.len()?;
            let key = self.primary(caller, &request.key, event)?;
            if request.dry_run {
                return Err(Error::DryRunOperation);
            }
            let plaintext = Plaintext::random(len);
            let ciphertext_blob = self.seal_with(caller, &key, &request.context, &plaintext)?;
            Ok(GeneratedDataKey {
                key_id: key.key_id,
                key_version_id: key.version_id,
                plaintext,
                ciphertext_blob,
            })
        })
    }

    /// GenerateDataKeyWithoutPlaintext: as GenerateDataKey, returning only the blob.
    pub fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        request: GenerateDataKey,
    ) -> Result<Encrypted> {
        self.observe(
            caller,
            Operation::GenerateDataKeyWithoutPlaintext,
            |event| {
                event.context = Some(request.context.clone());
                let len = request.len()?;
                let key = self.primary(caller, &request.key, event)?;
                if request.dry_run {
                    return Err(Error::DryRunOperation);
                }
                let plaintext = Plaintext::random(len);
                let ciphertext_blob = self.seal_with(caller, &key, &request.context, &plaintext)?;
                Ok(Encrypted {
                    key_id: key.key_id,
                    key_version_id: key.version_id,
                    ciphertext_blob,
                })
            },
        )
    }

    /// Encrypt: up to 6 KiB under the key's primary version.
    pub fn encrypt(&self, caller: &Caller, request: Encrypt) -> Result<Encrypted> {
        self.observe(caller, Operation::Encrypt, |event| {
            event.context = Some(request.context.clone());
            if request.plaintext.len() > MAX_ENCRYPT_PLAINTEXT_LEN {
                return Err(Error::invalid("Plaintext", "longer than 6 KiB"));
            }
            let key = self.primary(caller, &request.key, event)?;
            if request.dry_run {
                return Err(Error::DryRunOperation);
            }
            let ciphertext_blob =
                self.seal_with(caller, &key, &request.context, &request.plaintext)?;
            Ok(Encrypted {
                key_id: key.key_id,
                key_version_id: key.version_id,
                ciphertext_blob,
            })
        })
    }

    /// Decrypt: finds key and version from the blob. A blob naming a key the caller's account does
    /// not have (or no longer has) is [`Error::CiphertextKeyNotFound`]; a damaged blob, a version the key
    /// never had, or the wrong context is [`Error::InvalidCiphertext`]; a key that cannot be used is
    /// its state's error ([`Error::Disabled`], [`Error::PendingImport`], ...).
    pub fn decrypt(&self, caller: &Caller, request: Decrypt) -> Result<Decrypted> {
        self.observe(caller, Operation::Decrypt, |event| {
            event.context = Some(request.context.clone());
            let (key, header) = self.named_by_blob(caller, &request.ciphertext_blob, event)?;
            if request.dry_run {
                return Err(Error::DryRunOperation);
            }
            let plaintext = blob::open(
                &key.material,
                key.spec,
                &header,
                &request.ciphertext_blob,
                &self.binding(caller, &request.context),
            )?;
            Ok(Decrypted {
                key_id: key.key_id,
                key_version_id: key.version_id,
                plaintext,
            })
        })
    }

    /// ReEncrypt: decrypts under the source key and context, encrypts under the destination key's
    /// primary version and context; the plaintext never leaves the KMS. Audited and metered as two
    /// ReEncrypt records: one for the source key, one for the destination key.
    pub fn re_encrypt(&self, caller: &Caller, request: ReEncrypt) -> Result<ReEncrypted> {
        let (source, plaintext) = self.observe(caller, Operation::ReEncrypt, |event| {
            event.context = Some(request.source_context.clone());
            let (key, header) = self.named_by_blob(caller, &request.ciphertext_blob, event)?;
            let plaintext = blob::open(
                &key.material,
                key.spec,
                &header,
                &request.ciphertext_blob,
                &self.binding(caller, &request.source_context),
            )?;
            Ok(((key.key_id, key.version_id), plaintext))
        })?;
        self.observe(caller, Operation::ReEncrypt, |event| {
            event.context = Some(request.destination_context.clone());
            let key = self.primary(caller, &request.destination_key, event)?;
            let ciphertext_blob =
                self.seal_with(caller, &key, &request.destination_context, &plaintext)?;
            Ok(ReEncrypted {
                source_key_id: source.0,
                source_key_version_id: source.1,
                key_id: key.key_id,
                key_version_id: key.version_id,
                ciphertext_blob,
            })
        })
    }

    /// The key's primary version, after the state checks.
    fn primary(&self, caller: &Caller, key: &KeyRef, event: &mut Event) -> Result<Unsealed> {
        let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
        let entry = self.resolve(&state, caller, key)?;
        event.key_id = Some(entry.record.key_id);
        check_usable(&entry.record, self.now())?;
        let version = entry
            .record
            .primary_version
            .and_then(|v| entry.version(&v))
            .ok_or(Error::PendingImport)?;
        event.key_version_id = Some(version.version_id);
        Ok(Unsealed {
            spec: entry.record.spec,
            key_id: entry.record.key_id,
            version_id: version.version_id,
            material: self.open_material(version)?,
        })
    }

    /// The key version a blob names, after the state checks.
    fn named_by_blob(
        &self,
        caller: &Caller,
        blob: &CiphertextBlob,
        event: &mut Event,
    ) -> Result<(Unsealed, Header)> {
        let header = Header::parse(blob.as_bytes())?;
        let state = self.read_finding(|s| {
            s.keys
                .get(&header.key_id)
                .is_none_or(|e| e.version(&header.version_id).is_none())
        });
        let entry = state
            .keys
            .get(&header.key_id)
            .filter(|e| e.record.account == caller.account_id)
            .ok_or(Error::CiphertextKeyNotFound)?;
        event.key_id = Some(entry.record.key_id);
        let version = entry
            .version(&header.version_id)
            .ok_or(Error::InvalidCiphertext)?;
        event.key_version_id = Some(version.version_id);
        check_usable(&entry.record, self.now())?;
        let key = Unsealed {
            spec: entry.record.spec,
            key_id: entry.record.key_id,
            version_id: version.version_id,
            material: self.open_material(version)?,
        };
        Ok((key, header))
    }

    fn binding<'a>(&'a self, caller: &'a Caller, context: &'a EncryptionContext) -> Binding<'a> {
        Binding {
            account: &caller.account_id,
            context,
        }
    }

    fn seal_with(
        &self,
        caller: &Caller,
        key: &Unsealed,
        context: &EncryptionContext,
        plaintext: &Plaintext,
    ) -> Result<CiphertextBlob> {
        blob::seal(
            &key.material,
            key.spec,
            &key.key_id,
            &key.version_id,
            &self.binding(caller, context),
            plaintext.expose_secret(),
        )
    }
}
