//! The actions: for each, parse its parameters into the engine's typed request, call the engine
//! off the async runtime (its methods block on the store's fsync), and render the JSON body with
//! the field names of the Alibaba Cloud KMS API reference (the ones the Tea SDK's models map).
//!
//! Families follow the engine's: `lifecycle` (keys, tags, account), `alias`, `cryptography`,
//! `rotation`, `byok`.

mod alias;
mod byok;
mod cryptography;
mod lifecycle;
mod rotation;

use std::sync::Arc;
use std::time::SystemTime;

use coffer_kms::{Caller, KeyMetadata, KeyVersion, Kms, Paged};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::action::Action;
use crate::error::ApiError;
use crate::params::Params;

/// What an action runs with.
pub(crate) struct Ctx<'a> {
    pub(crate) kms: &'a Arc<Kms>,
    pub(crate) caller: Caller,
    pub(crate) region: &'a str,
    pub(crate) request_id: &'a str,
}

/// Runs `action` and returns the response body.
pub(crate) async fn run(ctx: Ctx<'_>, action: Action, p: &Params) -> Result<Vec<u8>, ApiError> {
    use Action as A;
    match action {
        A::CreateKey => lifecycle::create_key(ctx, p).await,
        A::DescribeKey => lifecycle::describe_key(ctx, p).await,
        A::ListKeys => lifecycle::list_keys(ctx, p).await,
        A::UpdateKeyDescription => lifecycle::update_key_description(ctx, p).await,
        A::EnableKey => lifecycle::enable_key(ctx, p).await,
        A::DisableKey => lifecycle::disable_key(ctx, p).await,
        A::ScheduleKeyDeletion => lifecycle::schedule_key_deletion(ctx, p).await,
        A::CancelKeyDeletion => lifecycle::cancel_key_deletion(ctx, p).await,
        A::TagResource => lifecycle::tag_resource(ctx, p).await,
        A::UntagResource => lifecycle::untag_resource(ctx, p).await,
        A::ListResourceTags => lifecycle::list_resource_tags(ctx, p).await,
        A::DescribeRegions => lifecycle::describe_regions(ctx),
        A::DescribeAccountKmsStatus => lifecycle::describe_account_kms_status(ctx),
        A::CreateAlias => alias::create_alias(ctx, p).await,
        A::UpdateAlias => alias::update_alias(ctx, p).await,
        A::DeleteAlias => alias::delete_alias(ctx, p).await,
        A::ListAliases => alias::list_aliases(ctx, p).await,
        A::ListAliasesByKeyId => alias::list_aliases_by_key_id(ctx, p).await,
        A::GenerateDataKey => cryptography::generate_data_key(ctx, p).await,
        A::GenerateDataKeyWithoutPlaintext => {
            cryptography::generate_data_key_without_plaintext(ctx, p).await
        }
        A::Encrypt => cryptography::encrypt(ctx, p).await,
        A::Decrypt => cryptography::decrypt(ctx, p).await,
        A::ReEncrypt => cryptography::re_encrypt(ctx, p).await,
        A::CreateKeyVersion => rotation::create_key_version(ctx, p).await,
        A::ListKeyVersions => rotation::list_key_versions(ctx, p).await,
        A::DescribeKeyVersion => rotation::describe_key_version(ctx, p).await,
        A::UpdateRotationPolicy => rotation::update_rotation_policy(ctx, p).await,
        A::GetParametersForImport => byok::get_parameters_for_import(ctx, p).await,
        A::ImportKeyMaterial => byok::import_key_material(ctx, p).await,
        A::DeleteKeyMaterial => byok::delete_key_material(ctx, p).await,
    }
}

impl Ctx<'_> {
    /// Runs `f` on the engine in a blocking thread. A panic in it resumes here, so the server's
    /// panic handler answers `InternalFailure` and logs it.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Kms, &Caller) -> coffer_kms::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let kms = self.kms.clone();
        let caller = self.caller.clone();
        match tokio::task::spawn_blocking(move || f(&kms, &caller)).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    /// The response body: `body`'s fields and `RequestId`.
    fn reply(&self, body: impl Serialize) -> Result<Vec<u8>, ApiError> {
        #[derive(Serialize)]
        struct WithRequestId<'a, T> {
            #[serde(flatten)]
            body: T,
            #[serde(rename = "RequestId")]
            request_id: &'a str,
        }
        serde_json::to_vec(&WithRequestId {
            body,
            request_id: self.request_id,
        })
        .map_err(ApiError::internal)
    }

    /// A body of only `RequestId`.
    fn done(&self) -> Result<Vec<u8>, ApiError> {
        #[derive(Serialize)]
        struct Nothing {}
        self.reply(Nothing {})
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` in UTC, the API's only time format.
fn wire_time(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("a UTC time formats")
}

/// An optional time: absent is `""`, as the API shows empty times.
fn wire_time_or_empty(t: Option<SystemTime>) -> String {
    t.map(wire_time).unwrap_or_default()
}

/// DescribeKey's `KeyMetadata` (and CreateKey's): the fields the Tea SDK's model maps.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadataJson {
    key_id: String,
    arn: String,
    key_state: &'static str,
    key_spec: &'static str,
    key_usage: &'static str,
    origin: &'static str,
    protection_level: &'static str,
    creation_date: String,
    creator: String,
    description: String,
    primary_key_version: String,
    last_rotation_date: String,
    automatic_rotation: &'static str,
    /// Seconds with an `s` suffix (`604800s`); only when automatic rotation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<String>,
    material_expire_time: String,
    delete_date: String,
    /// coffer has no deletion protection.
    deletion_protection: &'static str,
}

impl From<KeyMetadata> for KeyMetadataJson {
    fn from(m: KeyMetadata) -> Self {
        Self {
            key_id: m.key_id.to_string(),
            arn: m.arn,
            key_state: m.key_state.as_str(),
            key_spec: m.key_spec.as_str(),
            key_usage: m.key_usage.as_str(),
            origin: m.origin.as_str(),
            protection_level: m.protection_level.as_str(),
            creation_date: wire_time(m.creation_date),
            creator: m.creator,
            description: m.description,
            primary_key_version: m
                .primary_key_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            last_rotation_date: wire_time_or_empty(m.last_rotation_date),
            automatic_rotation: m.automatic_rotation.as_str(),
            rotation_interval: m.rotation_interval.map(|d| format!("{}s", d.as_secs())),
            next_rotation_date: m.next_rotation_date.map(wire_time),
            material_expire_time: wire_time_or_empty(m.material_expire_time),
            delete_date: wire_time_or_empty(m.delete_date),
            deletion_protection: "Disabled",
        }
    }
}

/// `{"KeyMetadata": …}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadataBody {
    key_metadata: KeyMetadataJson,
}

/// One key version, in CreateKeyVersion, DescribeKeyVersion and ListKeyVersions.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyVersionJson {
    key_id: String,
    key_version_id: String,
    creation_date: String,
}

impl From<KeyVersion> for KeyVersionJson {
    fn from(v: KeyVersion) -> Self {
        Self {
            key_id: v.key_id.to_string(),
            key_version_id: v.key_version_id.to_string(),
            creation_date: wire_time(v.creation_date),
        }
    }
}

/// A page of a list, in Alibaba's wrapper shape: `{"<Outer>": {"<Inner>": [...]}, "TotalCount",
/// "PageNumber", "PageSize"}`; the wrapper names come from `W`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PageJson<W> {
    #[serde(flatten)]
    items: W,
    total_count: u64,
    page_number: u32,
    page_size: u32,
}

impl<W> PageJson<W> {
    fn new<T>(page: &Paged<T>, items: W) -> Self {
        Self {
            items,
            total_count: page.total_count,
            page_number: page.page_number,
            page_size: page.page_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_are_utc_seconds_with_z() {
        let t = UNIX_EPOCH + Duration::from_millis(1_704_067_200_999);
        assert_eq!(wire_time(t), "2024-01-01T00:00:00Z");
        assert_eq!(wire_time_or_empty(None), "");
    }
}
