//! Bucket endpoints: ListBuckets, PutBucket, DeleteBucket, GetBucketInfo, GetBucketLocation.

use coffer_core::{
    Acl, CreateBucket, EncryptionRule, RequestContext, SseAlgorithm, SseRequest, StorageClass,
};
use coffer_http::RequestBody;
use http::StatusCode;

use super::{bucket_of, number_param, small_body};
use coffer_iam::Grant;

use crate::error::{OssError, codes};
use crate::headers::X_OSS_ACL;
use crate::request;
use crate::response::{Reply, storage_class_name, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_create_bucket, parse_encryption_rule};

fn location(svc: &OssService) -> String {
    format!("oss-{}", svc.config.region)
}

fn acl_name(acl: Acl) -> &'static str {
    match acl {
        Acl::PublicRead => "public-read",
        Acl::PublicReadWrite => "public-read-write",
        Acl::Private | Acl::Default => "private",
    }
}

fn owner(w: &mut XmlWriter, id: &str) {
    w.open("Owner")
        .elem("ID", id)
        .elem("DisplayName", id)
        .close("Owner");
}

pub(super) async fn list_buckets(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let prefix = parts.query.get("prefix").unwrap_or("");
    let marker = parts.query.get("marker").unwrap_or("");
    let max_keys = number_param(parts, "max-keys", 100, 1..=1000)?;
    let page = svc
        .store
        .list_buckets(ctx, grant, prefix, marker, max_keys)
        .await?;
    let region = &svc.config.region;
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.elem("Prefix", prefix)
        .elem("Marker", marker)
        .elem("MaxKeys", max_keys.to_string())
        .elem("IsTruncated", page.truncated.to_string())
        .elem_opt("NextMarker", page.next_marker.as_deref());
    owner(&mut w, svc.iam.account_id());
    w.open("Buckets");
    for b in &page.buckets {
        w.open("Bucket")
            .elem("CreationDate", xml_time(b.created))
            .elem("ExtranetEndpoint", &svc.config.public_endpoint)
            .elem("IntranetEndpoint", &svc.config.public_endpoint)
            .elem("Location", location(svc))
            .elem("Name", b.name.as_str())
            .elem("Region", region)
            .elem("StorageClass", storage_class_name(b.storage_class))
            .close("Bucket");
    }
    w.close("Buckets");
    Ok(Reply::xml(w.finish("ListAllMyBucketsResult")))
}

pub(super) async fn put_bucket(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let name = bucket_of(parts)?.clone();
    let acl = request::acl(&parts.headers, X_OSS_ACL)?;
    let body = small_body(body, &parts.headers, false).await?;
    let mut storage_class = StorageClass::Standard;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let config = parse_create_bucket(&body)?;
        if let Some(sc) = config.storage_class.as_deref() {
            storage_class = request::parse_storage_class("StorageClass", sc)?;
        }
    }
    svc.store
        .create_bucket(
            ctx,
            grant,
            CreateBucket {
                name: name.clone(),
                acl,
                storage_class,
                encryption: rule_from_headers(parts)?,
            },
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.header("location", format!("/{name}"));
    Ok(reply)
}

pub(super) async fn delete_bucket(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let bucket = bucket_of(parts)?;
    // The bucket's policy is in its record: deleted with it, in the same transaction.
    svc.store.delete_bucket(ctx, grant, bucket).await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

pub(super) async fn bucket_stat(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    use coffer_core::{StorageClass as C, class_index};
    let stat = svc.store.bucket_stat(ctx, grant, bucket_of(parts)?).await?;
    let class = |c: C| stat.by_class[class_index(c)];
    let mut w = XmlWriter::new("BucketStat");
    w.elem("Storage", stat.storage.to_string())
        .elem("ObjectCount", stat.objects.to_string())
        .elem("MultipartUploadCount", stat.multipart_uploads.to_string())
        .elem("LiveChannelCount", "0")
        // Unix seconds, as OSS reports it; 0 for an empty bucket.
        .elem(
            "LastModifiedTime",
            stat.last_modified.map_or(0, |t| t.0 / 1000).to_string(),
        );
    // Every class is stored alike, so "real" storage (OSS's billed minimum) is the storage.
    for (name, c, real) in [
        ("Standard", C::Standard, false),
        ("InfrequentAccess", C::Ia, true),
        ("Archive", C::Archive, true),
        ("ColdArchive", C::ColdArchive, true),
        ("DeepColdArchive", C::DeepColdArchive, true),
    ] {
        w.elem(&format!("{name}Storage"), class(c).storage.to_string());
        if real {
            w.elem(&format!("{name}RealStorage"), class(c).storage.to_string());
        }
        w.elem(&format!("{name}ObjectCount"), class(c).objects.to_string());
    }
    w.elem("MultipartPartCount", stat.multipart_parts.to_string())
        .elem("DeleteMarkerCount", "0");
    Ok(Reply::xml(w.finish("BucketStat")))
}

pub(super) async fn bucket_info(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let b = svc.store.bucket_info(ctx, grant, bucket_of(parts)?).await?;
    let mut w = XmlWriter::new("BucketInfo");
    w.open("Bucket")
        .elem("AccessMonitor", "Disabled")
        .elem("CreationDate", xml_time(b.created))
        .elem("ExtranetEndpoint", &svc.config.public_endpoint)
        .elem("IntranetEndpoint", &svc.config.public_endpoint)
        .elem("Location", location(svc))
        .elem("StorageClass", storage_class_name(b.storage_class))
        .elem("TransferAcceleration", "Disabled")
        .elem("CrossRegionReplication", "Disabled")
        .elem("Name", b.name.as_str())
        .elem("ResourceGroupId", "rg-default");
    owner(&mut w, &b.owner);
    w.open("AccessControlList")
        .elem("Grant", acl_name(b.acl))
        .close("AccessControlList")
        .elem("Comment", "")
        .elem("DataRedundancyType", "LRS")
        .open("ServerSideEncryptionRule");
    match &b.encryption {
        Some(rule) => rule_elements(&mut w, rule),
        None => {
            w.elem("SSEAlgorithm", "None");
        }
    }
    w.close("ServerSideEncryptionRule")
        .open("BucketPolicy")
        .elem("LogBucket", "")
        .elem("LogPrefix", "")
        .close("BucketPolicy")
        .close("Bucket");
    Ok(Reply::xml(w.finish("BucketInfo")))
}

pub(super) async fn bucket_location(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store.bucket_info(ctx, grant, bucket_of(parts)?).await?;
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint>{}</LocationConstraint>",
        location(svc)
    );
    Ok(Reply::xml(doc))
}

fn rule_from_xml(body: &[u8]) -> Result<EncryptionRule, OssError> {
    let xml = parse_encryption_rule(body)?;
    let d = xml
        .default
        .ok_or_else(|| OssError::malformed_xml("ApplyServerSideEncryptionByDefault is missing"))?;
    let algorithm = d
        .algorithm
        .as_deref()
        .map(str::trim)
        .ok_or_else(|| OssError::malformed_xml("SSEAlgorithm is missing"))?;
    let key_id = d
        .kms_master_key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let data = d
        .kms_data_encryption
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let algorithm = match algorithm {
        "AES256" => SseAlgorithm::Aes256,
        "KMS" => SseAlgorithm::Kms,
        "SM4" => SseAlgorithm::Sm4,
        other => {
            return Err(OssError::new(
                codes::INVALID_ENCRYPTION_ALGORITHM,
                "The Encryption request you specified is not valid. Supported value: AES256/KMS/SM4.",
            )
            .detail("ArgumentName", "SSEAlgorithm")
            .detail("ArgumentValue", other));
        }
    };
    if algorithm != SseAlgorithm::Kms
        && let Some(k) = key_id
    {
        return Err(OssError::new(
            codes::KMS_KEY_ID_WITHOUT_KMS,
            "KMSMasterKeyID can only be set when SSEAlgorithm is KMS.",
        )
        .detail("ArgumentName", "KMSMasterKeyID")
        .detail("ArgumentValue", k));
    }
    // OSS accepts KMSDataEncryption beside AES256 or SM4 and drops it: it only chooses the data
    // cipher under KMS.
    let kms_data_sm4 = match data {
        None => false,
        Some(_) if algorithm != SseAlgorithm::Kms => false,
        Some("SM4") => true,
        Some(v) => {
            return Err(OssError::new(
                codes::INVALID_KMS_DATA_ENCRYPTION,
                "KMSDataEncryption must be SM4.",
            )
            .detail("ArgumentName", "KMSDataEncryption")
            .detail("ArgumentValue", v));
        }
    };
    Ok(EncryptionRule {
        algorithm,
        kms_key_id: key_id.map(str::to_owned),
        kms_data_sm4,
    })
}

fn algorithm_name(a: SseAlgorithm) -> &'static str {
    match a {
        SseAlgorithm::Aes256 => "AES256",
        SseAlgorithm::Kms => "KMS",
        SseAlgorithm::Sm4 => "SM4",
        // A bucket rule never names SSE-C.
        SseAlgorithm::SseC => "AES256",
    }
}

/// The rule's elements, as GetBucketEncryption and GetBucketInfo show them.
fn rule_elements(w: &mut XmlWriter, rule: &EncryptionRule) {
    w.elem("SSEAlgorithm", algorithm_name(rule.algorithm));
    if let Some(k) = &rule.kms_key_id {
        w.elem("KMSMasterKeyID", k);
    }
    if rule.kms_data_sm4 {
        w.elem("KMSDataEncryption", "SM4");
    }
}

/// The rule a PutBucket's SSE headers ask for.
pub(super) fn rule_from_headers(parts: &Parts) -> Result<Option<EncryptionRule>, OssError> {
    Ok(request::sse(&parts.headers)?.map(|r| match r {
        SseRequest::Aes256 => EncryptionRule {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            kms_data_sm4: false,
        },
        SseRequest::Sm4 => EncryptionRule {
            algorithm: SseAlgorithm::Sm4,
            kms_key_id: None,
            kms_data_sm4: false,
        },
        SseRequest::Kms { key_id, data_sm4 } => EncryptionRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: key_id,
            kms_data_sm4: data_sm4,
        },
    }))
}

pub(super) async fn put_encryption(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let body = small_body(body, &parts.headers, false).await?;
    let rule = rule_from_xml(&body)?;
    // Choosing a named CMK as the default needs permission to see it, as OSS documents.
    if let Some(key_id) = &rule.kms_key_id {
        svc.access
            .check_bucket_encryption_key(grant, key_id)
            .await?;
    }
    svc.store
        .put_bucket_encryption(ctx, grant, bucket_of(parts)?, rule)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_encryption(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let rule = svc
        .store
        .bucket_encryption(ctx, grant, bucket_of(parts)?)
        .await?
        .ok_or_else(|| {
            OssError::new(
                codes::NO_SUCH_SSE_RULE,
                "The server side encryption configuration was not found.",
            )
            .detail(
                "BucketName",
                bucket_of(parts).map(|b| b.to_string()).unwrap_or_default(),
            )
        })?;
    let mut w = XmlWriter::new("ServerSideEncryptionRule");
    w.open("ApplyServerSideEncryptionByDefault");
    rule_elements(&mut w, &rule);
    w.close("ApplyServerSideEncryptionByDefault");
    Ok(Reply::xml(w.finish("ServerSideEncryptionRule")))
}

pub(super) async fn delete_encryption(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store
        .delete_bucket_encryption(ctx, grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}
