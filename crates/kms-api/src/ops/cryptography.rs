//! Data keys, Encrypt, Decrypt, ReEncrypt (Alibaba Cloud KMS API reference, "GenerateDataKey",
//! "GenerateDataKeyWithoutPlaintext", "Encrypt", "Decrypt", "ReEncrypt"). `Plaintext` travels as
//! base64 both ways; decoded bytes live in buffers wiped when dropped, except the response body
//! itself.

use coffer_kms::{
    CiphertextBlob, DataKeySpec, Decrypt, Encrypt, Encrypted, GenerateDataKey, Plaintext, ReEncrypt,
};
use serde::Serialize;

use super::Ctx;
use crate::error::ApiError;
use crate::params::Params;

/// `{"KeyId","KeyVersionId","CiphertextBlob"}`, with `Plaintext` when there is one.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Sealed<'a> {
    key_id: String,
    key_version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<&'a str>,
    ciphertext_blob: String,
}

impl From<Encrypted> for Sealed<'_> {
    fn from(e: Encrypted) -> Self {
        Self {
            key_id: e.key_id.to_string(),
            key_version_id: e.key_version_id.to_string(),
            plaintext: None,
            ciphertext_blob: e.ciphertext_blob.to_base64(),
        }
    }
}

fn data_key_request(p: &Params) -> Result<GenerateDataKey, ApiError> {
    let mut request = GenerateDataKey::new(p.key_ref("KeyId")?);
    request.key_spec = p.optional("KeySpec").map(DataKeySpec::parse).transpose()?;
    request.number_of_bytes = p.u32("NumberOfBytes")?;
    request.context = p.context("EncryptionContext")?;
    request.dry_run = p.bool("DryRun")?.unwrap_or(false);
    Ok(request)
}

pub(super) async fn generate_data_key(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let request = data_key_request(p)?;
    let generated = ctx
        .blocking(move |kms, c| kms.generate_data_key(c, request))
        .await?;
    let plaintext = generated.plaintext.to_base64();
    ctx.reply(Sealed {
        key_id: generated.key_id.to_string(),
        key_version_id: generated.key_version_id.to_string(),
        plaintext: Some(&plaintext),
        ciphertext_blob: generated.ciphertext_blob.to_base64(),
    })
}

pub(super) async fn generate_data_key_without_plaintext(
    ctx: Ctx<'_>,
    p: &Params,
) -> Result<Vec<u8>, ApiError> {
    let request = data_key_request(p)?;
    let sealed = ctx
        .blocking(move |kms, c| kms.generate_data_key_without_plaintext(c, request))
        .await?;
    ctx.reply(Sealed::from(sealed))
}

pub(super) async fn encrypt(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let mut bytes = p.base64("Plaintext")?;
    let request = Encrypt {
        key,
        // Moves the buffer out (no copy left behind); the emptied wrapper wipes nothing.
        plaintext: Plaintext::from_vec(std::mem::take(&mut *bytes)),
        context: p.context("EncryptionContext")?,
        dry_run: p.bool("DryRun")?.unwrap_or(false),
    };
    let sealed = ctx.blocking(move |kms, c| kms.encrypt(c, request)).await?;
    ctx.reply(Sealed::from(sealed))
}

fn ciphertext_blob(p: &Params) -> Result<CiphertextBlob, ApiError> {
    Ok(CiphertextBlob::from_base64(p.required("CiphertextBlob")?)?)
}

pub(super) async fn decrypt(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let mut request = Decrypt::new(ciphertext_blob(p)?, p.context("EncryptionContext")?);
    request.dry_run = p.bool("DryRun")?.unwrap_or(false);
    let decrypted = ctx.blocking(move |kms, c| kms.decrypt(c, request)).await?;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a> {
        key_id: String,
        key_version_id: String,
        plaintext: &'a str,
    }
    let plaintext = decrypted.plaintext.to_base64();
    ctx.reply(Body {
        key_id: decrypted.key_id.to_string(),
        key_version_id: decrypted.key_version_id.to_string(),
        plaintext: &plaintext,
    })
}

/// ReEncrypt of symmetric ciphertext; `SourceKeyId`, `SourceKeyVersionId` and
/// `SourceEncryptionAlgorithm` are ignored (the blob names its key).
pub(super) async fn re_encrypt(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let request = ReEncrypt {
        ciphertext_blob: ciphertext_blob(p)?,
        source_context: p.context("SourceEncryptionContext")?,
        destination_key: p.key_ref("DestinationKeyId")?,
        destination_context: p.context("DestinationEncryptionContext")?,
    };
    let re = ctx
        .blocking(move |kms, c| kms.re_encrypt(c, request))
        .await?;
    ctx.reply(Sealed {
        key_id: re.key_id.to_string(),
        key_version_id: re.key_version_id.to_string(),
        plaintext: None,
        ciphertext_blob: re.ciphertext_blob.to_base64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_parameters_parse() {
        let p = Params::parse(
            "KeyId=alias%2Fk&KeySpec=AES_128&NumberOfBytes=64&DryRun=True\
             &EncryptionContext=%7B%22a%22%3A%22b%22%7D",
            None,
        )
        .unwrap();
        let r = data_key_request(&p).unwrap();
        assert_eq!(r.key_spec, Some(DataKeySpec::Aes128));
        assert_eq!(r.number_of_bytes, Some(64));
        assert!(r.dry_run);
        assert!(!r.context.is_empty());
        for (q, code) in [
            ("KeyId=alias%2Fk&KeySpec=AES_512", "InvalidParameter"),
            ("KeyId=alias%2Fk&NumberOfBytes=-1", "InvalidParameter"),
            (
                "KeyId=alias%2Fk&EncryptionContext=%7B%22a%22%3A1%7D",
                "InvalidParameter",
            ),
            ("KeySpec=AES_256", "MissingParameter"),
        ] {
            let p = Params::parse(q, None).unwrap();
            assert_eq!(data_key_request(&p).unwrap_err().code, code, "{q}");
        }
    }

    #[test]
    fn blobs_must_be_base64() {
        let p = Params::parse("CiphertextBlob=%%%", None);
        assert!(p.is_err());
        let p = Params::parse("CiphertextBlob=not-base64", None).unwrap();
        assert_eq!(ciphertext_blob(&p).unwrap_err().code, "InvalidParameter");
        let p = Params::parse("", None).unwrap();
        assert_eq!(ciphertext_blob(&p).unwrap_err().code, "MissingParameter");
    }
}
