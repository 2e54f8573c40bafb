//! BYOK: GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial for EXTERNAL keys.
//!
//! The first import binds the key to its material by an HMAC commitment (under a key derived from
//! the root key). A later import must present the same material (it may change the expiry):
//! otherwise ciphertexts made under the first material would silently stop decrypting. The
//! commitment outlives DeleteKeyMaterial, which is what makes re-importing the same material
//! restore access.
//!
//! An import token is spent by a failed unwrap: with RSAES-PKCS1-v1_5 the success or failure of
//! unwrapping chosen ciphertexts is a padding oracle (Bleichenbacher), and one try per token
//! closes it.

use std::time::SystemTime;

use aws_lc_rs::digest;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Kms, put_key, put_version};
use crate::audit::Operation;
use crate::caller::Caller;
use crate::id::{KeyId, KeyRef, KeyVersionId};
use crate::key::{KeyState, Origin};
use crate::record::{self, KeyRecord, TokenRecord, VersionRecord};
use crate::record::{from_secs, to_secs};
use crate::seal::Purpose;
use crate::secret::{ImportToken, Material};
use crate::wrapping::{WrappingAlgorithm, WrappingKey, WrappingKeySpec};
use crate::{Error, Result};
use coffer_records::Change;

/// How long an import token is valid.
pub const IMPORT_TOKEN_TTL_SECS: u64 = 24 * 3600;

/// What GetParametersForImport returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    /// The key to import into.
    pub key_id: KeyId,
    /// Pass back to ImportKeyMaterial.
    pub import_token: ImportToken,
    /// The fresh RSA-2048 public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// When the token stops being accepted (24 hours).
    pub token_expire_time: SystemTime,
}

impl ImportParameters {
    /// The public key as the API returns it: standard base64 of the DER.
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.public_key_der)
    }
}

/// The parameters of ImportKeyMaterial.
#[derive(Debug, Clone)]
pub struct ImportKeyMaterial {
    /// Key id, alias or ARN of an EXTERNAL key.
    pub key: KeyRef,
    /// From GetParametersForImport.
    pub import_token: ImportToken,
    /// The material wrapped with the token's public key and algorithm (raw bytes, not base64).
    pub encrypted_key_material: Vec<u8>,
    /// When the material expires; `None` for never. Must be in the future.
    pub material_expire: Option<SystemTime>,
}

impl Kms {
    /// GetParametersForImport: a fresh RSA-2048 transport key for `key` (an EXTERNAL key, any
    /// state) and a token, valid 24 hours, bound to that key, public key and algorithm.
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key: &KeyRef,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<ImportParameters> {
        self.observe(caller, Operation::GetParametersForImport, |event| {
            let key_id = {
                let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
                let entry = self.resolve(&state, caller, key)?;
                event.key_id = Some(entry.record.key_id);
                if entry.record.origin != Origin::External {
                    return Err(Error::UnsupportedOrigin);
                }
                entry.record.key_id
            };
            // RSA key generation takes tens of milliseconds: outside the lock.
            let wrapping = WrappingKey::generate(spec)?;
            let public_key_der = wrapping.public_key_der()?;
            let mut raw = Zeroizing::new([0u8; 32]);
            coffer_crypto::random::fill(raw.as_mut_slice());
            let token = ImportToken::new(base64::engine::general_purpose::STANDARD.encode(*raw));
            let digest = token_digest(&token);
            let expires = self.now() + IMPORT_TOKEN_TTL_SECS;
            let record = TokenRecord {
                key_id,
                algorithm,
                expires,
                sealed_private_key: self.keyring.seal(
                    Purpose::ImportKey,
                    &[&digest],
                    &wrapping.to_pkcs8()?,
                ),
            };
            let change = Change::Put {
                table: crate::store::IMPORT_TOKENS,
                key: digest.to_vec(),
                value: record::encode(&record),
            };
            let mut state = self.write();
            if !state.keys.contains_key(&key_id) {
                return Err(Error::KeyNotFound);
            }
            self.commit(&mut state, &[change], |state| {
                state.tokens.insert(digest, record);
            })?;
            Ok(ImportParameters {
                key_id,
                import_token: token,
                public_key_der,
                token_expire_time: from_secs(expires),
            })
        })
    }

    /// ImportKeyMaterial: unwraps the material with the token's private key and binds it to the
    /// key (or checks it is the material bound before). A PendingImport key becomes Enabled.
    pub fn import_key_material(&self, caller: &Caller, request: ImportKeyMaterial) -> Result<()> {
        self.observe(caller, Operation::ImportKeyMaterial, |event| {
            let now = self.now();
            let mut state = self.write();
            let entry = self.resolve(&state, caller, &request.key)?;
            let key_id = entry.record.key_id;
            event.key_id = Some(key_id);
            if entry.record.origin != Origin::External {
                return Err(Error::UnsupportedOrigin);
            }
            if entry.record.state == KeyState::PendingDeletion {
                return Err(Error::StateModifiedFailed);
            }
            let expire = request.material_expire.map(to_secs);
            if expire.is_some_and(|t| t <= now) {
                return Err(Error::invalid("KeyMaterialExpireUnix", "is in the past"));
            }
            let digest = token_digest(&request.import_token);
            let token = state
                .tokens
                .get(&digest)
                .filter(|t| t.key_id == key_id)
                .ok_or(Error::InvalidImportToken)?;
            if token.expires <= now {
                return Err(Error::ExpiredImportToken);
            }
            let pkcs8 =
                self.keyring
                    .open(Purpose::ImportKey, &[&digest], &token.sealed_private_key)?;
            let unwrapped = WrappingKey::from_pkcs8(&pkcs8)?
                .unwrap(token.algorithm, &request.encrypted_key_material);
            let material = match unwrapped {
                Ok(m) => Material::from_vec(m),
                Err(e) => {
                    let spend = Change::Delete {
                        table: crate::store::IMPORT_TOKENS,
                        key: digest.to_vec(),
                    };
                    self.commit(&mut state, &[spend], |state| {
                        state.tokens.remove(&digest);
                    })?;
                    return Err(e);
                }
            };
            let entry = &state.keys[&key_id];
            if material.expose_secret().len() != entry.record.spec.material_len() {
                return Err(Error::InvalidKeyMaterial);
            }
            let commitment = self.keyring.commitment(&key_id, material.expose_secret());
            let differs = entry
                .record
                .material_commitment
                .is_some_and(|bound| !bool::from(bound.ct_eq(&commitment)));
            if differs {
                return Err(Error::InvalidKeyMaterial);
            }
            let mut record = entry.record.clone();
            // Imported keys never rotate, so they have at most one version; re-imports refill it.
            let mut version = entry.versions.first().cloned().unwrap_or(VersionRecord {
                key_id,
                version_id: KeyVersionId::random(),
                index: 0,
                created: now,
                sealed: None,
            });
            version.sealed = Some(self.seal_material(&key_id, &version.version_id, &material));
            event.key_version_id = Some(version.version_id);
            record.material_commitment = Some(commitment);
            record.material_expire = expire;
            record.primary_version = Some(version.version_id);
            record.last_rotation.get_or_insert(now);
            if record.state == KeyState::PendingImport {
                record.state = KeyState::Enabled;
            }
            let changes = [put_key(&record), put_version(&version)];
            self.commit(&mut state, &changes, |state| {
                if let Some(entry) = state.keys.get_mut(&key_id) {
                    entry.record = record;
                    entry.versions = vec![version];
                }
            })?;
            tracing::info!(key_id = %key_id, "KMS key material imported");
            Ok(())
        })
    }

    /// DeleteKeyMaterial: erases an EXTERNAL key's material now (the key becomes PendingImport,
    /// or stays PendingDeletion). Re-importing the same material restores it.
    pub fn delete_key_material(&self, caller: &Caller, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::DeleteKeyMaterial, |event| {
            let mut state = self.write();
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            if entry.record.origin != Origin::External {
                return Err(Error::UnsupportedOrigin);
            }
            let (record, versions) = erase_material(&entry.record, &entry.versions);
            let key_id = record.key_id;
            let mut changes = vec![put_key(&record)];
            changes.extend(versions.iter().map(put_version));
            self.commit(&mut state, &changes, |state| {
                if let Some(entry) = state.keys.get_mut(&key_id) {
                    entry.record = record;
                    entry.versions = versions;
                }
            })?;
            drop(state);
            self.store.scrub()?;
            tracing::info!(key_id = %key_id, "KMS key material deleted");
            Ok(())
        })
    }
}

/// The key record and versions of an imported key without its material.
pub(super) fn erase_material(
    record: &KeyRecord,
    versions: &[VersionRecord],
) -> (KeyRecord, Vec<VersionRecord>) {
    let mut record = record.clone();
    record.material_expire = None;
    if record.state != KeyState::PendingDeletion {
        record.state = KeyState::PendingImport;
    }
    let versions = versions
        .iter()
        .cloned()
        .map(|mut v| {
            v.sealed = None;
            v
        })
        .collect();
    (record, versions)
}

fn token_digest(token: &ImportToken) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.expose_secret().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
