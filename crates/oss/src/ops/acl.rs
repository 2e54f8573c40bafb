//! ACL endpoints: PutBucketAcl, GetBucketAcl (`?acl` on a bucket), PutObjectAcl, GetObjectAcl
//! (`?acl` on an object). The ACL is set by header (`x-oss-acl`, `x-oss-object-acl`) and read
//! back as an `AccessControlPolicy` document; the access layer enforces it for callers no policy
//! decides for (anonymous ones included).

use coffer_core::{Acl, RequestContext};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;

use super::{bucket_of, key_of};
use crate::error::OssError;
use crate::headers::{X_OSS_ACL, X_OSS_OBJECT_ACL};
use crate::request;
use crate::response::Reply;
use crate::server::{OssService, Parts};
use crate::xml::XmlWriter;

/// The wire name of a canned ACL.
fn acl_name(acl: Acl) -> &'static str {
    match acl {
        Acl::Default => "default",
        Acl::Private => "private",
        Acl::PublicRead => "public-read",
        Acl::PublicReadWrite => "public-read-write",
    }
}

/// The ACL a Put*Acl request names in `header`: required, and one of the canned values.
fn required_acl(parts: &Parts, header: &str) -> Result<Acl, OssError> {
    if !parts.headers.contains_key(header) {
        return Err(OssError::invalid_argument(
            header,
            "",
            format!("The {header} header is required."),
        ));
    }
    request::acl(&parts.headers, header)
}

fn policy_document(owner: &str, acl: Acl) -> Reply {
    let mut w = XmlWriter::new("AccessControlPolicy");
    w.open("Owner")
        .elem("ID", owner)
        .elem("DisplayName", owner)
        .close("Owner")
        .open("AccessControlList")
        .elem("Grant", acl_name(acl))
        .close("AccessControlList");
    Reply::xml(w.finish("AccessControlPolicy"))
}

pub(super) async fn put_bucket_acl(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    crate::server::drain(body).await;
    let acl = required_acl(parts, X_OSS_ACL)?;
    if acl == Acl::Default {
        return Err(OssError::invalid_argument(
            X_OSS_ACL,
            "default",
            "The bucket ACL must be private, public-read or public-read-write.",
        ));
    }
    svc.store
        .put_bucket_acl(ctx, grant, bucket_of(parts)?, acl)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_bucket_acl(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let acl = svc
        .store
        .get_bucket_acl(ctx, grant, bucket_of(parts)?)
        .await?;
    Ok(policy_document(svc.iam.account_id(), acl))
}

pub(super) async fn put_object_acl(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    crate::server::drain(body).await;
    let acl = required_acl(parts, X_OSS_OBJECT_ACL)?;
    svc.store
        .put_object_acl(ctx, grant, bucket_of(parts)?, key_of(parts)?, acl)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_object_acl(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let acl = svc
        .store
        .get_object_acl(ctx, grant, bucket_of(parts)?, key_of(parts)?)
        .await?;
    Ok(policy_document(svc.iam.account_id(), acl))
}
