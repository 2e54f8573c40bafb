//! Key versions and rotation (Alibaba Cloud KMS API reference, "CreateKeyVersion",
//! "ListKeyVersions", "DescribeKeyVersion", "UpdateRotationPolicy").

use coffer_kms::{KeyVersionId, RotationPolicy};
use serde::Serialize;

use super::{Ctx, KeyVersionJson, PageJson};
use crate::error::ApiError;
use crate::params::Params;

/// `{"KeyVersion": {…}}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyVersionBody {
    key_version: KeyVersionJson,
}

pub(super) async fn create_key_version(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let version = ctx
        .blocking(move |kms, c| kms.create_key_version(c, &key))
        .await?;
    ctx.reply(KeyVersionBody {
        key_version: version.into(),
    })
}

pub(super) async fn list_key_versions(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let page = p.page()?;
    let versions = ctx
        .blocking(move |kms, c| kms.list_key_versions(c, &key, page))
        .await?;

    #[derive(Serialize)]
    struct Versions {
        #[serde(rename = "KeyVersions")]
        key_versions: Wrapper,
    }
    #[derive(Serialize)]
    struct Wrapper {
        #[serde(rename = "KeyVersion")]
        key_version: Vec<KeyVersionJson>,
    }
    let items = Versions {
        key_versions: Wrapper {
            key_version: versions.items.iter().cloned().map(Into::into).collect(),
        },
    };
    ctx.reply(PageJson::new(&versions, items))
}

pub(super) async fn describe_key_version(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    // A malformed id names no version, like a well-formed unknown one.
    let version = KeyVersionId::parse(p.required("KeyVersionId")?)
        .ok_or(coffer_kms::Error::KeyVersionNotFound)?;
    let version = ctx
        .blocking(move |kms, c| kms.describe_key_version(c, &key, &version))
        .await?;
    ctx.reply(KeyVersionBody {
        key_version: version.into(),
    })
}

pub(super) async fn update_rotation_policy(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let policy = rotation_policy(p)?;
    ctx.blocking(move |kms, c| kms.update_rotation_policy(c, &key, policy))
        .await?;
    ctx.done()
}

/// `EnableAutomaticRotation` (required) and `RotationInterval` (required when it is true).
fn rotation_policy(p: &Params) -> Result<RotationPolicy, ApiError> {
    let enabled = p
        .bool("EnableAutomaticRotation")?
        .ok_or_else(|| ApiError::missing("EnableAutomaticRotation"))?;
    if !enabled {
        return Ok(RotationPolicy::Disabled);
    }
    let interval = RotationPolicy::parse_interval(p.required("RotationInterval")?)?;
    Ok(RotationPolicy::Automatic(interval))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rotation_policies_parse() {
        let check = |q: &str, expected: Result<RotationPolicy, &str>| {
            let p = Params::parse(q, None).unwrap();
            assert_eq!(rotation_policy(&p).map_err(|e| e.code), expected, "{q}");
        };
        check(
            "EnableAutomaticRotation=false",
            Ok(RotationPolicy::Disabled),
        );
        check(
            "EnableAutomaticRotation=True&RotationInterval=604800s",
            Ok(RotationPolicy::Automatic(Duration::from_secs(604_800))),
        );
        check("", Err("MissingParameter"));
        check("EnableAutomaticRotation=true", Err("MissingParameter"));
        check(
            "EnableAutomaticRotation=true&RotationInterval=soon",
            Err("InvalidParameter"),
        );
    }
}
