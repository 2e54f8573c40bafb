//! BYOK: importing key material (Alibaba Cloud KMS API reference, "GetParametersForImport",
//! "ImportKeyMaterial", "DeleteKeyMaterial").

use std::time::{Duration, UNIX_EPOCH};

use coffer_kms::{ImportKeyMaterial, ImportToken, WrappingAlgorithm, WrappingKeySpec};
use serde::Serialize;

use super::{Ctx, wire_time};
use crate::error::ApiError;
use crate::params::Params;

pub(super) async fn get_parameters_for_import(
    ctx: Ctx<'_>,
    p: &Params,
) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let algorithm = WrappingAlgorithm::parse(p.required("WrappingAlgorithm")?)?;
    let spec = WrappingKeySpec::parse(p.required("WrappingKeySpec")?)?;
    let parameters = ctx
        .blocking(move |kms, c| kms.get_parameters_for_import(c, &key, algorithm, spec))
        .await?;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a> {
        key_id: String,
        import_token: &'a str,
        public_key: String,
        token_expire_time: String,
    }
    ctx.reply(Body {
        key_id: parameters.key_id.to_string(),
        import_token: parameters.import_token.expose_secret(),
        public_key: parameters.public_key_base64(),
        token_expire_time: wire_time(parameters.token_expire_time),
    })
}

pub(super) async fn import_key_material(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let request = ImportKeyMaterial {
        key: p.key_ref("KeyId")?,
        import_token: ImportToken::new(p.required("ImportToken")?),
        encrypted_key_material: p.base64("EncryptedKeyMaterial")?.to_vec(),
        // 0 or absent: the material never expires.
        material_expire: p
            .u64("KeyMaterialExpireUnix")?
            .filter(|&secs| secs != 0)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
    };
    ctx.blocking(move |kms, c| kms.import_key_material(c, request))
        .await?;
    ctx.done()
}

pub(super) async fn delete_key_material(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.delete_key_material(c, &key))
        .await?;
    ctx.done()
}
