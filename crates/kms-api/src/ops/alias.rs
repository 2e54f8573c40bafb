//! Aliases (Alibaba Cloud KMS API reference, "CreateAlias", "UpdateAlias", "DeleteAlias",
//! "ListAliases", "ListAliasesByKeyId").

use coffer_kms::{AliasEntry, AliasName, Paged};
use serde::Serialize;

use super::{Ctx, PageJson};
use crate::error::ApiError;
use crate::params::Params;

fn alias_name(p: &Params) -> Result<AliasName, ApiError> {
    Ok(AliasName::parse(p.required("AliasName")?)?)
}

pub(super) async fn create_alias(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let alias = alias_name(p)?;
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.create_alias(c, &alias, &key))
        .await?;
    ctx.done()
}

pub(super) async fn update_alias(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let alias = alias_name(p)?;
    let key = p.key_ref("KeyId")?;
    ctx.blocking(move |kms, c| kms.update_alias(c, &alias, &key))
        .await?;
    ctx.done()
}

pub(super) async fn delete_alias(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let alias = alias_name(p)?;
    ctx.blocking(move |kms, c| kms.delete_alias(c, &alias))
        .await?;
    ctx.done()
}

pub(super) async fn list_aliases(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let page = p.page()?;
    let aliases = ctx
        .blocking(move |kms, c| kms.list_aliases(c, page))
        .await?;
    ctx.reply(aliases_body(&aliases))
}

pub(super) async fn list_aliases_by_key_id(ctx: Ctx<'_>, p: &Params) -> Result<Vec<u8>, ApiError> {
    let key = p.key_ref("KeyId")?;
    let page = p.page()?;
    let aliases = ctx
        .blocking(move |kms, c| kms.list_aliases_by_key_id(c, &key, page))
        .await?;
    ctx.reply(aliases_body(&aliases))
}

/// `{"Aliases":{"Alias":[{"AliasName","AliasArn","KeyId"}]}, paging}`.
fn aliases_body(page: &Paged<AliasEntry>) -> impl Serialize + use<> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        alias_name: String,
        alias_arn: String,
        key_id: String,
    }
    #[derive(Serialize)]
    struct Aliases {
        #[serde(rename = "Aliases")]
        aliases: Wrapper,
    }
    #[derive(Serialize)]
    struct Wrapper {
        #[serde(rename = "Alias")]
        alias: Vec<Entry>,
    }
    PageJson::new(
        page,
        Aliases {
            aliases: Wrapper {
                alias: page
                    .items
                    .iter()
                    .map(|a| Entry {
                        alias_name: a.alias_name.to_string(),
                        alias_arn: a.alias_arn.clone(),
                        key_id: a.key_id.to_string(),
                    })
                    .collect(),
            },
        },
    )
}
