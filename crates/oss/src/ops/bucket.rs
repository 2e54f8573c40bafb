//! Bucket endpoints: ListBuckets, PutBucket, DeleteBucket, GetBucketInfo, GetBucketLocation.

use coffer_core::{Acl, CreateBucket, RequestContext, StorageClass};
use http::StatusCode;
use hyper::body::Incoming;

use super::{bucket_of, endpoint_grant, number_param, small_body};
use crate::error::OssError;
use crate::headers::X_OSS_ACL;
use crate::request;
use crate::response::{Reply, storage_class_name, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_create_bucket};

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
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    let prefix = parts.query.get("prefix").unwrap_or("");
    let marker = parts.query.get("marker").unwrap_or("");
    let max_keys = number_param(parts, "max-keys", 100, 1..=1000)?;
    let page = svc
        .store
        .list_buckets(ctx, &grant, prefix, marker, max_keys)
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
            .elem("ExtranetEndpoint", format!("oss-{region}.aliyuncs.com"))
            .elem(
                "IntranetEndpoint",
                format!("oss-{region}-internal.aliyuncs.com"),
            )
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
    body: Incoming,
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
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
            &grant,
            CreateBucket {
                name: name.clone(),
                acl,
                storage_class,
                encryption: None,
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
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    svc.store
        .delete_bucket(ctx, &grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

pub(super) async fn bucket_info(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    let b = svc
        .store
        .bucket_info(ctx, &grant, bucket_of(parts)?)
        .await?;
    let region = &svc.config.region;
    let mut w = XmlWriter::new("BucketInfo");
    w.open("Bucket")
        .elem("AccessMonitor", "Disabled")
        .elem("CreationDate", xml_time(b.created))
        .elem("ExtranetEndpoint", format!("oss-{region}.aliyuncs.com"))
        .elem(
            "IntranetEndpoint",
            format!("oss-{region}-internal.aliyuncs.com"),
        )
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
        .open("ServerSideEncryptionRule")
        .elem("SSEAlgorithm", "None")
        .close("ServerSideEncryptionRule")
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
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    svc.store
        .bucket_info(ctx, &grant, bucket_of(parts)?)
        .await?;
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint>{}</LocationConstraint>",
        location(svc)
    );
    Ok(Reply::xml(doc))
}
