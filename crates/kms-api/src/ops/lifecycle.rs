//! Key lifecycle, tags and the account actions, each as its page of the Alibaba Cloud KMS API
//! reference describes it ("CreateKey", "DescribeKey", "ListKeys", "ScheduleKeyDeletion", …,
//! "TagResource", "ListResourceTags", "DescribeRegions", "DescribeAccountKmsStatus").

use coffer_kms::{
    CreateKey, KeyFilter, KeyRef, KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel,
    RotationPolicy, Tag,
};
use serde::{Deserialize, Serialize};

use super::{Ctx, KeyMetadataBody, PageJson};
use crate::error::ApiError;
use crate::params::Params;

pub(super) async fn create_key(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let request = create_request(p)?;
    let metadata = ctx
        .blocking(move |kms, c| kms.create_key(c, request))
        .await?;
    ctx.reply(KeyMetadataBody {
        key_metadata: metadata.into(),
    })
}

/// CreateKey's parameters; `DKMSInstanceId`, `Policy` and `KeyStorageMechanism` are ignored.
fn create_request(p: &Params) -> Result<CreateKey, ApiError> {
    let mut request = CreateKey::default();
    if let Some(v) = p.optional("KeySpec") {
        request.key_spec = KeySpec::parse(v)?;
    }
    if let Some(v) = p.optional("KeyUsage") {
        request.key_usage = KeyUsage::parse(v)?;
    }
    if let Some(v) = p.optional("Origin") {
        request.origin = Origin::parse(v)?;
    }
    if let Some(v) = p.optional("ProtectionLevel") {
        request.protection_level = ProtectionLevel::parse(v)?;
    }
    if let Some(v) = p.get("Description") {
        request.description = v.to_owned();
    }
    if p.bool("EnableAutomaticRotation")? == Some(true) {
        let interval = p.required("RotationInterval")?;
        request.rotation = RotationPolicy::Automatic(RotationPolicy::parse_interval(interval)?);
    }
    if let Some(v) = p.optional("Tags") {
        request.tags = parse_tags(v)?;
    }
    Ok(request)
}

pub(super) async fn describe_key(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let metadata = ctx
        .blocking(move |kms, c| kms.describe_key(c, &key))
        .await?;
    ctx.reply(KeyMetadataBody {
        key_metadata: metadata.into(),
    })
}

pub(super) async fn list_keys(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let page = p.page()?;
    let filter = match p.optional("Filters") {
        Some(json) => parse_filters(json)?,
        None => KeyFilter::default(),
    };
    let keys = ctx
        .blocking(move |kms, c| kms.list_keys(c, &filter, page))
        .await?;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        key_id: String,
        key_arn: String,
    }
    #[derive(Serialize)]
    struct Keys {
        #[serde(rename = "Keys")]
        keys: Wrapper,
    }
    #[derive(Serialize)]
    struct Wrapper {
        #[serde(rename = "Key")]
        key: Vec<Entry>,
    }
    let items = Keys {
        keys: Wrapper {
            key: keys
                .items
                .iter()
                .map(|k| Entry {
                    key_id: k.key_id.to_string(),
                    key_arn: k.key_arn.clone(),
                })
                .collect(),
        },
    };
    ctx.reply(PageJson::new(&keys, items))
}

/// ListKeys' `Filters`: a JSON array of `{"Key": …, "Values": [...]}`; of the filter keys the KMS
/// API reference ("ListKeys") names, coffer supports `KeyState` and `KeySpec` and refuses the
/// others rather than ignore them.
fn parse_filters(json: &str) -> Result<KeyFilter, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Filter {
        key: String,
        values: Vec<String>,
    }
    let filters: Vec<Filter> = serde_json::from_str(json).map_err(|_| {
        ApiError::invalid(
            "Filters",
            "it must be a JSON array of {\"Key\": name, \"Values\": [strings]}",
        )
    })?;
    let mut filter = KeyFilter::default();
    for f in filters {
        match f.key.as_str() {
            "KeyState" => {
                for v in &f.values {
                    filter.key_states.push(KeyState::parse(v)?);
                }
            }
            "KeySpec" => {
                for v in &f.values {
                    filter.key_specs.push(KeySpec::parse(v)?);
                }
            }
            other => {
                return Err(ApiError::invalid(
                    "Filters",
                    format!("the filter key {other:?} is not supported; use KeyState or KeySpec"),
                ));
            }
        }
    }
    Ok(filter)
}

pub(super) async fn update_key_description(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let description = p
        .get("Description")
        .ok_or_else(|| ApiError::missing("Description"))?
        .to_owned();
    ctx.blocking(move |kms, c| kms.update_key_description(c, &key, &description))
        .await?;
    ctx.done()
}

pub(super) async fn enable_key(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.enable_key(c, &key)).await?;
    ctx.done()
}

pub(super) async fn disable_key(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.disable_key(c, &key)).await?;
    ctx.done()
}

pub(super) async fn schedule_key_deletion(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let days = p
        .u32("PendingWindowInDays")?
        .ok_or_else(|| ApiError::missing("PendingWindowInDays"))?;
    ctx.blocking(move |kms, c| kms.schedule_key_deletion(c, &key, days))
        .await?;
    ctx.done()
}

pub(super) async fn cancel_key_deletion(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.cancel_key_deletion(c, &key))
        .await?;
    ctx.done()
}

pub(super) async fn tag_resource(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let tags = parse_tags(p.required("Tags")?)?;
    ctx.blocking(move |kms, c| kms.tag_resource(c, &key, tags))
        .await?;
    ctx.done()
}

pub(super) async fn untag_resource(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let tag_keys = parse_tag_keys(p.required("TagKeys")?)?;
    ctx.blocking(move |kms, c| kms.untag_resource(c, &key, &tag_keys))
        .await?;
    ctx.done()
}

pub(super) async fn list_resource_tags(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let (key_id, tags) = ctx
        .blocking(move |kms, c| {
            let key_id = match &key {
                KeyRef::Id(id) | KeyRef::KeyArn { key_id: id, .. } => *id,
                // The response names the key; an alias needs resolving.
                KeyRef::Alias(_) | KeyRef::AliasArn { .. } => kms.describe_key(c, &key)?.key_id,
            };
            Ok((key_id, kms.list_resource_tags(c, &key)?))
        })
        .await?;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        key_id: String,
        tag_key: String,
        tag_value: String,
    }
    #[derive(Serialize)]
    struct Body {
        #[serde(rename = "Tags")]
        tags: Wrapper,
    }
    #[derive(Serialize)]
    struct Wrapper {
        #[serde(rename = "Tag")]
        tag: Vec<Entry>,
    }
    let key_id = key_id.to_string();
    ctx.reply(Body {
        tags: Wrapper {
            tag: tags
                .into_iter()
                .map(|t| Entry {
                    key_id: key_id.clone(),
                    tag_key: t.key,
                    tag_value: t.value,
                })
                .collect(),
        },
    })
}

/// `Tags`: a JSON array of `{"TagKey": …, "TagValue": …}` (a missing value is empty).
fn parse_tags(json: &str) -> Result<Vec<Tag>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Wire {
        tag_key: String,
        #[serde(default)]
        tag_value: String,
    }
    let wire: Vec<Wire> = serde_json::from_str(json).map_err(|_| {
        ApiError::invalid(
            "Tags",
            "it must be a JSON array of {\"TagKey\": string, \"TagValue\": string}",
        )
    })?;
    wire.into_iter()
        .map(|t| Tag::new(t.tag_key, t.tag_value).map_err(ApiError::from))
        .collect()
}

/// `TagKeys`: a JSON array of strings, or (as one Alibaba page says) a comma-separated list.
fn parse_tag_keys(value: &str) -> Result<Vec<String>, ApiError> {
    if value.trim_start().starts_with('[') {
        return serde_json::from_str(value)
            .map_err(|_| ApiError::invalid("TagKeys", "it must be a JSON array of strings"));
    }
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect())
}

/// DescribeRegions: the one region this KMS serves. Alibaba needs no permission for it beyond a
/// valid signature; coffer's interim rule (root only, see `server::authorize`) still applies.
pub(super) fn describe_regions(ctx: Ctx<'_>) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "Regions")]
        regions: Wrapper<'a>,
    }
    #[derive(Serialize)]
    struct Wrapper<'a> {
        #[serde(rename = "Region")]
        region: [Region<'a>; 1],
    }
    #[derive(Serialize)]
    struct Region<'a> {
        #[serde(rename = "RegionId")]
        region_id: &'a str,
    }
    ctx.reply(Body {
        regions: Wrapper {
            region: [Region {
                region_id: ctx.region,
            }],
        },
    })
}

/// DescribeAccountKmsStatus: the built-in KMS is always enabled.
pub(super) fn describe_account_kms_status(ctx: Ctx<'_>) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Body {
        #[serde(rename = "AccountStatus")]
        account_status: &'static str,
    }
    ctx.reply(Body {
        account_status: "Enabled",
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(query, None).unwrap()
    }

    #[test]
    fn create_key_parameters_parse_with_defaults() {
        let r = create_request(&params("")).unwrap();
        assert_eq!(r, CreateKey::default());
        let r = create_request(&params(
            "KeySpec=Aliyun_SM4&Origin=EXTERNAL&ProtectionLevel=HSM&Description=a+b\
             &EnableAutomaticRotation=False&RotationInterval=bogus&DKMSInstanceId=x\
             &Tags=%5B%7B%22TagKey%22%3A%22env%22%2C%22TagValue%22%3A%22prod%22%7D%5D",
        ))
        .unwrap();
        assert_eq!(r.key_spec, KeySpec::Sm4);
        assert_eq!(r.origin, Origin::External);
        assert_eq!(r.protection_level, ProtectionLevel::Hsm);
        assert_eq!(r.description, "a b");
        assert_eq!(r.rotation, RotationPolicy::Disabled);
        assert_eq!(r.tags, vec![Tag::new("env", "prod").unwrap()]);
        let r =
            create_request(&params("EnableAutomaticRotation=True&RotationInterval=30d")).unwrap();
        assert_eq!(
            r.rotation,
            RotationPolicy::Automatic(Duration::from_secs(30 * 86_400))
        );
    }

    #[test]
    fn malformed_create_key_parameters_have_the_spec_codes() {
        let check = |q: &str, code: &str| {
            assert_eq!(create_request(&params(q)).unwrap_err().code, code, "{q}");
        };
        check("KeySpec=RSA_2048", "InvalidParameter");
        check("Origin=external", "InvalidParameter");
        check("KeyUsage=SIGN%2FVERIFY", "InvalidParameter");
        check("EnableAutomaticRotation=true", "MissingParameter");
        check("EnableAutomaticRotation=yes", "InvalidParameter");
        check(
            "EnableAutomaticRotation=true&RotationInterval=7w",
            "InvalidParameter",
        );
        check("Tags=%7B%7D", "InvalidParameter");
        check(
            "Tags=%5B%7B%22TagKey%22%3A%22acs%3Ax%22%7D%5D",
            "InvalidParameter",
        );
    }

    #[test]
    fn filters_and_tag_keys_parse() {
        let f = parse_filters(r#"[{"Key":"KeyState","Values":["Enabled","Disabled"]},{"Key":"KeySpec","Values":["Aliyun_AES_256"]}]"#).unwrap();
        assert_eq!(f.key_states, vec![KeyState::Enabled, KeyState::Disabled]);
        assert_eq!(f.key_specs, vec![KeySpec::Aes256]);
        assert_eq!(parse_filters("[]").unwrap(), KeyFilter::default());
        for bad in [
            "x",
            r#"[{"Key":"CreatorType","Values":["User"]}]"#,
            r#"[{"Key":"KeyState","Values":["Gone"]}]"#,
        ] {
            assert_eq!(
                parse_filters(bad).unwrap_err().code,
                "InvalidParameter",
                "{bad}"
            );
        }
        assert_eq!(parse_tag_keys(r#"["a","b"]"#).unwrap(), ["a", "b"]);
        assert_eq!(parse_tag_keys("a, b,").unwrap(), ["a", "b"]);
        assert_eq!(parse_tag_keys("[1]").unwrap_err().code, "InvalidParameter");
    }
}
