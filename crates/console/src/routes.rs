//! The console's routing table: method and path → page. Every page runs as the session's
//! principal (`Caller`); the session and CSRF checks ran before this.

use coffer_types::BucketName;
use http::Method;

use crate::error::ConsoleError;
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};
use crate::{buckets, encryption, identities, keys, objects, reencrypt, usage};

type Exchange = coffer_http::Exchange<coffer_types::RequestId>;

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) async fn route(
    svc: &ConsoleService,
    caller: &Caller,
    mut req: Req,
    ex: &Exchange,
) -> Result<Reply, ConsoleError> {
    let path = req.path.clone();
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    let put = req.method == Method::PUT;
    let bucket = |name: &str| BucketName::parse(name).map_err(ConsoleError::from);
    match segments.as_slice() {
        [] if get => {
            ex.set_op("Home");
            Ok(Reply::redirect("/buckets"))
        }
        ["buckets"] if get => {
            ex.set_op("ListBuckets");
            buckets::list(svc, caller).await
        }
        ["buckets"] if post => {
            ex.set_op("PutBucket");
            buckets::create(svc, caller, &mut req).await
        }
        ["buckets", "new"] if get => {
            ex.set_op("CreateBucketForm");
            buckets::new_form(svc, caller).await
        }
        ["buckets", "open"] if get => {
            ex.set_op("OpenBucket");
            buckets::open(&req)
        }
        ["buckets", b] if get => {
            ex.set_op("Bucket");
            Ok(Reply::redirect(&format!("/buckets/{}/objects", bucket(b)?)))
        }
        ["buckets", b, "delete"] if post => {
            ex.set_op("DeleteBucket");
            buckets::delete(svc, caller, &bucket(b)?).await
        }
        ["buckets", b, "objects"] if get => {
            ex.set_op("ListObjects");
            objects::list(svc, caller, &req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "detail"] if get => {
            ex.set_op("HeadObject");
            objects::detail(svc, caller, &req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "download"] if get => {
            ex.set_op("GetObject");
            objects::download(svc, caller, &req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "delete"] if post => {
            ex.set_op("DeleteObject");
            objects::delete(svc, caller, &mut req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "upload"] if put => {
            ex.set_op("PutObject");
            objects::upload(svc, caller, &mut req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "uploads"] if post => {
            ex.set_op("InitiateMultipartUpload");
            objects::initiate(svc, caller, &mut req, &bucket(b)?).await
        }
        ["buckets", b, "objects", "uploads", id, "complete"] if post => {
            ex.set_op("CompleteMultipartUpload");
            objects::complete(svc, caller, &req, &bucket(b)?, id).await
        }
        ["buckets", b, "objects", "uploads", id, "abort"] if post => {
            ex.set_op("AbortMultipartUpload");
            objects::abort(svc, caller, &req, &bucket(b)?, id).await
        }
        ["buckets", b, "objects", "uploads", id, part] if put => {
            ex.set_op("UploadPart");
            objects::upload_part(svc, caller, &mut req, &bucket(b)?, id, part).await
        }
        ["buckets", b, "encryption"] if get => {
            ex.set_op("GetBucketEncryption");
            encryption::show(svc, caller, &req, &bucket(b)?).await
        }
        ["buckets", b, "encryption"] if post => {
            ex.set_op("PutBucketEncryption");
            encryption::save(svc, caller, &mut req, &bucket(b)?).await
        }
        ["buckets", b, "encryption", "delete"] if post => {
            ex.set_op("DeleteBucketEncryption");
            encryption::delete(svc, caller, &bucket(b)?).await
        }
        ["buckets", b, "reencrypt"] if post => {
            ex.set_op("ReencryptObjects");
            reencrypt::start(svc, caller, &mut req, &bucket(b)?).await
        }
        ["buckets", b, "reencrypt", id] if get => {
            ex.set_op("ReencryptJob");
            reencrypt::show(svc, caller, &bucket(b)?, id, false)
        }
        ["buckets", b, "reencrypt", id, "status"] if get => {
            ex.set_op("ReencryptJobStatus");
            reencrypt::show(svc, caller, &bucket(b)?, id, true)
        }
        ["identities"] if get => {
            ex.set_op("Identities");
            identities::overview(svc, caller).await
        }
        ["identities", "users", name] if get => {
            ex.set_op("GetUser");
            identities::user(svc, caller, &decode(name)).await
        }
        ["identities", "policies", name] if get => {
            ex.set_op("GetPolicy");
            identities::policy(svc, caller, &decode(name)).await
        }
        ["identities", op] if post => {
            ex.set_op("IdentityAction");
            identities::act(svc, caller, &mut req, op).await
        }
        ["kms", "keys"] if get => {
            ex.set_op("ListKeys");
            keys::list(svc, caller).await
        }
        ["kms", "keys"] if post => {
            ex.set_op("CreateKey");
            keys::create(svc, caller, &mut req).await
        }
        ["kms", "usage"] if get => {
            ex.set_op("GetUsage");
            usage::usage(svc, caller, &req).await
        }
        ["kms", "audit"] if get => {
            ex.set_op("ListAuditRecords");
            usage::audit(svc, caller, &req).await
        }
        ["kms", "keys", id] if get => {
            ex.set_op("DescribeKey");
            keys::show(svc, caller, id).await
        }
        ["kms", "keys", id, op] if post => {
            ex.set_op("KeyAction");
            keys::act(svc, caller, &mut req, id, op).await
        }
        _ => {
            ex.set_op("NotFound");
            Err(ConsoleError::not_found())
        }
    }
}
