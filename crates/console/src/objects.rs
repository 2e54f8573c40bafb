//! The Objects page of a bucket: browse by prefix (folders), upload (streamed, multipart for big
//! files, with an encryption choice), download, delete, and an object's detail (size, ETag,
//! CRC-64, content type, user metadata, encryption method and CMK id).
//!
//! Uploads are sent by the page's script straight to the endpoints below, which stream the body
//! into `Store::put_object` / `upload_part`: the console never holds a whole file in memory.

use coffer_access::{RequestFacts, Target};
use coffer_core::{
    Acl, CompleteUpload, GetOptions, InitiateUpload, ListEntry, ListQuery, ObjectMetadata,
    ObjectRecord, PutObject, SseAlgorithm, SseRequest,
};
use coffer_iam::Action;
use coffer_types::{BucketName, ObjectKey, UploadId};
use futures::TryStreamExt;
use http::StatusCode;
use http_body_util::{BodyExt, StreamBody};
use maud::{Markup, html};

use crate::encryption::{self, KeyChoice};
use crate::error::ConsoleError;
use crate::form::{Form, encode};
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};

/// Objects per listing page.
const PAGE_LEN: usize = 200;

fn key_param(form: &Form) -> Result<ObjectKey, ConsoleError> {
    let key = form
        .raw("key")
        .ok_or_else(|| ConsoleError::invalid("The object key is missing."))?;
    Ok(ObjectKey::parse(key)?)
}

fn objects_url(bucket: &BucketName, prefix: &str) -> String {
    if prefix.is_empty() {
        format!("/buckets/{bucket}/objects")
    } else {
        format!("/buckets/{bucket}/objects?prefix={}", encode(prefix))
    }
}

/// The folder an object key is in (`a/b/c.txt` → `a/b/`).
fn parent_of(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..=i])
}

/// How an object's encryption reads.
pub(crate) fn method_of(o: &ObjectRecord) -> String {
    match &o.encryption {
        None => "None".to_owned(),
        Some(e) => match e.algorithm {
            SseAlgorithm::Aes256 => "OSS-managed (AES256)".to_owned(),
            SseAlgorithm::Sm4 => "OSS-managed (SM4)".to_owned(),
            SseAlgorithm::SseC => "Customer-provided key (SSE-C)".to_owned(),
            SseAlgorithm::Kms => {
                format!("KMS ({})", if e.kms_data_sm4 { "SM4" } else { "AES256" })
            }
        },
    }
}

fn breadcrumbs(bucket: &BucketName, prefix: &str) -> Markup {
    let mut acc = String::new();
    html! {
        nav.crumbs aria-label="Folder" {
            a href=(objects_url(bucket, "")) { (bucket) }
            @for part in prefix.split_terminator('/') {
                ({ acc.push_str(part); acc.push('/'); "" })
                " / "
                a href=(objects_url(bucket, &acc)) { (part) }
            }
        }
    }
}

fn upload_panel(
    caller: &Caller,
    bucket: &BucketName,
    prefix: &str,
    keys: &Result<Vec<KeyChoice>, ConsoleError>,
) -> Markup {
    html! {
        details.upload open[false] {
            summary { "Upload" }
            form #upload-form.panel data-bucket=(bucket) data-prefix=(prefix) data-csrf=(caller.csrf) {
                div.dropzone #dropzone {
                    label for="upload-files" { "Files to upload" }
                    input #upload-files type="file" multiple;
                    p.hint { "Or drop files here. Files over 16 MiB are sent in parts of 8 MiB (multipart upload)." }
                }
                (encryption::fields_for_upload(keys))
                div.field {
                    label for="upload-meta" { "User metadata" }
                    textarea #upload-meta.short name="meta" rows="3" placeholder="name: value (one per line)" {}
                    p.hint { "Stored as x-oss-meta-name headers on every file of this upload." }
                }
                div.actions {
                    button.primary #upload-start type="submit" { "Upload" }
                }
                div #upload-status aria-live="polite" {}
            }
        }
    }
}

/// GET /buckets/{b}/objects?prefix=&marker=.
pub(crate) async fn list(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let prefix = req.query.raw("prefix").unwrap_or("").to_owned();
    let marker = req.query.raw("marker").unwrap_or("").to_owned();
    let title = format!("Objects · {bucket}");
    let nav = page::bucket_nav(bucket.as_str(), "objects");
    let listed = async {
        let facts = RequestFacts {
            list_prefix: Some(prefix.clone()),
            list_delimiter: Some("/".to_owned()),
            ..caller.facts.clone()
        };
        let grant = svc
            .access
            .authorize(
                &caller.principal,
                Action::ListObjects,
                Target::bucket(bucket),
                &facts,
            )
            .await?;
        Ok::<_, ConsoleError>(
            svc.store
                .list_objects(
                    &caller.ctx,
                    &grant,
                    bucket,
                    &ListQuery {
                        prefix: prefix.clone(),
                        delimiter: Some("/".to_owned()),
                        marker: marker.clone(),
                        max_keys: PAGE_LEN,
                    },
                )
                .await?,
        )
    }
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Buckets,
                &title,
                e,
                html! { div.layout { (nav) section.content { h1 { "Objects" } } } },
            ));
        }
    };
    let keys = encryption::key_choices(svc, caller).await;
    let content = html! {
        div.layout {
            (nav)
            section.content {
                h1 { "Objects" }
                (breadcrumbs(bucket, &prefix))
                (upload_panel(caller, bucket, &prefix, &keys))
                @if listed.entries.is_empty() {
                    p.empty { "No objects here." }
                } @else {
                    div.table-wrap {
                        table.list #objects {
                            thead { tr { th { "Name" } th { "Size" } th { "Last modified" } th { "Encryption" } th { span.sr { "Actions" } } } }
                            tbody {
                                @for entry in &listed.entries {
                                    @match entry {
                                        ListEntry::Prefix(p) => {
                                            tr.folder data-key=(p) {
                                                td { a href=(objects_url(bucket, p)) { span.tag { "Folder" } " " (p.strip_prefix(prefix.as_str()).unwrap_or(p)) } }
                                                td {} td {} td {} td {}
                                            }
                                        }
                                        ListEntry::Object(o) => {
                                            tr data-key=(o.key) {
                                                td { a href={"/buckets/" (bucket) "/objects/detail?key=" (encode(o.key.as_str()))} { (o.key.as_str().strip_prefix(prefix.as_str()).unwrap_or(o.key.as_str())) } }
                                                td.num { (page::size(o.size)) }
                                                td { (page::time_ms(o.last_modified.0)) }
                                                td { (method_of(o)) }
                                                td.row-actions {
                                                    a href={"/buckets/" (bucket) "/objects/download?key=" (encode(o.key.as_str()))} download { "Download" }
                                                    (delete_form(caller, bucket, o.key.as_str()))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(next) = listed.next_marker() {
                        p { a href={(objects_url(bucket, &prefix)) (if prefix.is_empty() { "?" } else { "&" }) "marker=" (encode(next))} { "Next page" } }
                    }
                }
            }
        }
    };
    Ok(caller.page(svc, Section::Buckets, &title, content))
}

fn delete_form(caller: &Caller, bucket: &BucketName, key: &str) -> Markup {
    html! {
        form.inline method="post" action={"/buckets/" (bucket) "/objects/delete"}
            data-confirm={"Delete " (key) "?"} {
            (page::csrf_field(&caller.csrf))
            input type="hidden" name="key" value=(key);
            button.link.danger type="submit" aria-label={"Delete " (key)} { "Delete" }
        }
    }
}

/// GET /buckets/{b}/objects/detail?key=: the object's facts (HeadObject).
pub(crate) async fn detail(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let key = key_param(&req.query)?;
    let title = format!("{key} · {bucket}");
    let nav = page::bucket_nav(bucket.as_str(), "objects");
    let record = async {
        let grant = caller
            .authorize(&svc.access, Action::GetObject, Target::object(bucket, &key))
            .await?;
        Ok::<_, ConsoleError>(
            svc.store
                .head_object(&caller.ctx, &grant, bucket, &key, &Default::default())
                .await?,
        )
    }
    .await;
    let o = match record {
        Ok(o) => o,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Buckets,
                &title,
                e,
                html! { div.layout { (nav) section.content { h1 { (key) } } } },
            ));
        }
    };
    let cmk = o
        .encryption
        .as_ref()
        .filter(|e| e.algorithm == SseAlgorithm::Kms)
        .map(|e| {
            e.kms_key_id
                .clone()
                .unwrap_or_else(|| encryption::DEFAULT_KMS_KEY.to_owned())
        });
    let content_type = if o.content_type.is_empty() {
        "application/octet-stream"
    } else {
        o.content_type.as_str()
    };
    let content = html! {
        div.layout {
            (nav)
            section.content {
                (breadcrumbs(bucket, parent_of(key.as_str())))
                h1 { (key.as_str().rsplit('/').next().unwrap_or(key.as_str())) }
                dl.facts #object-detail {
                    dt { "Key" } dd { (key) }
                    dt { "Size" } dd #detail-size { (o.size) " bytes (" (page::size(o.size)) ")" }
                    dt { "ETag" } dd #detail-etag { code { (o.etag) } }
                    dt { "CRC-64" } dd #detail-crc64 { code { (o.crc64) } }
                    dt { "Content type" } dd #detail-content-type { (content_type) }
                    dt { "Last modified" } dd { (page::time_ms(o.last_modified.0)) }
                    dt { "Encryption method" } dd #detail-encryption { (method_of(&o)) }
                    dt { "CMK id" } dd #detail-cmk { (cmk.as_deref().unwrap_or("—")) }
                    dt { "User metadata" }
                    dd #detail-meta {
                        @if o.user_meta.is_empty() { "—" }
                        @for (k, v) in &o.user_meta { div { code { "x-oss-meta-" (k) } ": " (v) } }
                    }
                }
                div.actions {
                    a.button.primary href={"/buckets/" (bucket) "/objects/download?key=" (encode(key.as_str()))} download { "Download" }
                    form.inline method="post" action={"/buckets/" (bucket) "/objects/delete"}
                        data-confirm={"Delete " (key) "?"} {
                        (page::csrf_field(&caller.csrf))
                        input type="hidden" name="key" value=(key);
                        button.danger type="submit" { "Delete" }
                    }
                    a.button href=(objects_url(bucket, parent_of(key.as_str()))) { "Back to the folder" }
                }
            }
        }
    };
    Ok(caller.page(svc, Section::Buckets, &title, content))
}

/// GET /buckets/{b}/objects/download?key=: the object's bytes, streamed (GetObject).
pub(crate) async fn download(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let key = key_param(&req.query)?;
    let grant = caller
        .authorize(&svc.access, Action::GetObject, Target::object(bucket, &key))
        .await?;
    let out = svc
        .store
        .get_object(&caller.ctx, &grant, bucket, &key, GetOptions::default())
        .await?;
    let body = StreamBody::new(out.body.map_ok(http_body::Frame::data)).boxed_unsync();
    let name = key.as_str().rsplit('/').next().unwrap_or("download");
    let content_type = if out.record.content_type.is_empty() {
        "application/octet-stream"
    } else {
        out.record.content_type.as_str()
    };
    Ok(Reply::download(body, out.record.size, name, content_type))
}

/// POST /buckets/{b}/objects/delete (form field `key`).
pub(crate) async fn delete(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let form = req.form().await?;
    let key = key_param(&form)?;
    let outcome = async {
        let grant = caller
            .authorize(
                &svc.access,
                Action::DeleteObject,
                Target::object(bucket, &key),
            )
            .await?;
        svc.store
            .delete_object(&caller.ctx, &grant, bucket, &key)
            .await?;
        Ok(format!("{key} deleted."))
    }
    .await;
    Ok(caller.done(svc, &objects_url(bucket, parent_of(key.as_str())), outcome))
}

/// The facts of an upload: what a policy may test (the encryption asked for, as the header the
/// API would carry).
fn upload_facts(caller: &Caller, sse: Option<&SseRequest>) -> RequestFacts {
    let mut write_headers = Vec::new();
    match sse {
        Some(SseRequest::Aes256) => write_headers.push((
            "x-oss-server-side-encryption".to_owned(),
            "AES256".to_owned(),
        )),
        Some(SseRequest::Sm4) => {
            write_headers.push(("x-oss-server-side-encryption".to_owned(), "SM4".to_owned()))
        }
        Some(SseRequest::Kms { key_id, .. }) => {
            write_headers.push(("x-oss-server-side-encryption".to_owned(), "KMS".to_owned()));
            if let Some(k) = key_id {
                write_headers.push(("x-oss-server-side-encryption-key-id".to_owned(), k.clone()));
            }
        }
        None => {}
    }
    RequestFacts {
        write_headers,
        ..caller.facts.clone()
    }
}

/// Most bytes of user metadata (names and values) an object may carry: OSS's limit ("PutObject":
/// the `x-oss-meta-*` headers together at most 8 KB).
const MAX_USER_META: usize = 8 * 1024;

/// The upload form's "User metadata": one `name: value` per line, stored as `x-oss-meta-name`.
/// Names are lower-cased and must be header-name characters, as an SDK would send them.
fn user_meta_of(req: &Req) -> Result<Vec<(String, String)>, ConsoleError> {
    req.query
        .raw("meta")
        .map_or(Ok(Vec::new()), parse_user_meta)
}

fn parse_user_meta(text: &str) -> Result<Vec<(String, String)>, ConsoleError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad =
            |why: &str| ConsoleError::invalid(format!("User metadata, line {}: {why}", n + 1));
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("write it as name: value."))?;
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("x-oss-meta-").unwrap_or(&name).to_owned();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("a name may hold only letters, digits, - and _."));
        }
        let value = value.trim();
        if value.chars().any(char::is_control) {
            return Err(bad("a value may not hold control characters."));
        }
        if out.iter().any(|(k, _)| *k == name) {
            return Err(bad("this name is given twice."));
        }
        out.push((name, value.to_owned()));
    }
    let total: usize = out.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_USER_META {
        return Err(ConsoleError::invalid(format!(
            "User metadata: {total} bytes, at most {MAX_USER_META} are allowed."
        )));
    }
    Ok(out)
}

fn content_type_of(req: &Req) -> String {
    req.query
        .get("type")
        .filter(|t| t.len() < 256 && t.is_ascii())
        .unwrap_or("")
        .to_owned()
}

fn stream_of(req: &mut Req) -> coffer_core::BodyStream {
    match req.take_body() {
        Some(body) => Box::pin(body.into_data_stream().map_err(std::io::Error::other)),
        None => Box::pin(futures::stream::empty()),
    }
}

fn json_error(e: ConsoleError) -> Reply {
    if e.status.is_server_error() {
        tracing::error!(code = %e.code, cause = ?e.cause, "console upload failed");
    }
    Reply::json(
        e.status,
        &serde_json::json!({ "Code": e.code, "Message": e.message, "Words": page::words(&e.code) }),
    )
}

/// The key and encryption an upload asks for, and the grant to write it: the same
/// `oss:PutObject` decision, with the SSE condition keys, as the API makes.
async fn authorize_upload(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
) -> Result<(ObjectKey, Option<SseRequest>, coffer_iam::Grant), ConsoleError> {
    let key = key_param(&req.query)?;
    let sse = encryption::parse_request(&req.query)?;
    let facts = upload_facts(caller, sse.as_ref());
    let grant = svc
        .access
        .authorize(
            &caller.principal,
            Action::PutObject,
            Target::object(bucket, &key),
            &facts,
        )
        .await?;
    Ok((key, sse, grant))
}

/// PUT /buckets/{b}/objects/upload?key=&type=&sse=...: one PutObject, the body streamed.
pub(crate) async fn upload(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let (key, sse, grant) = authorize_upload(svc, caller, req, bucket).await?;
        let out = svc
            .store
            .put_object(
                &caller.ctx,
                &grant,
                PutObject {
                    bucket: bucket.clone(),
                    key,
                    body: stream_of(req),
                    content_md5: None,
                    metadata: ObjectMetadata {
                        content_type: content_type_of(req),
                        user_meta: user_meta_of(req)?,
                        ..Default::default()
                    },
                    acl: Acl::Default,
                    storage_class: None,
                    forbid_overwrite: false,
                    sse,
                    tags: Vec::new(),
                    checksum: Default::default(),
                },
            )
            .await?;
        Ok::<_, ConsoleError>(serde_json::json!({
            "ETag": out.etag,
            "Encryption": method_of(&out.record),
        }))
    }
    .await;
    Ok(match outcome {
        Ok(v) => Reply::json(StatusCode::OK, &v),
        Err(e) => json_error(e),
    })
}

/// POST /buckets/{b}/objects/uploads?key=&type=&sse=...: InitiateMultipartUpload.
pub(crate) async fn initiate(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let (key, sse, grant) = authorize_upload(svc, caller, req, bucket).await?;
        let upload = svc
            .store
            .initiate_upload(
                &caller.ctx,
                &grant,
                InitiateUpload {
                    bucket: bucket.clone(),
                    key,
                    metadata: ObjectMetadata {
                        content_type: content_type_of(req),
                        user_meta: user_meta_of(req)?,
                        ..Default::default()
                    },
                    acl: Acl::Default,
                    storage_class: None,
                    sse,
                    tags: Vec::new(),
                    checksum: None,
                },
            )
            .await?;
        Ok::<_, ConsoleError>(serde_json::json!({ "UploadId": upload.upload_id.as_str() }))
    }
    .await;
    Ok(match outcome {
        Ok(v) => Reply::json(StatusCode::OK, &v),
        Err(e) => json_error(e),
    })
}

fn upload_id(id: &str) -> Result<UploadId, ConsoleError> {
    UploadId::parse(id).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist.",
        )
    })
}

/// PUT /buckets/{b}/objects/uploads/{id}/{part}?key=: UploadPart, streamed.
pub(crate) async fn upload_part(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
    id: &str,
    part: &str,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let key = key_param(&req.query)?;
        let id = upload_id(id)?;
        let number: u32 = part
            .parse()
            .map_err(|_| ConsoleError::invalid("The part number must be a number."))?;
        let grant = caller
            .authorize(&svc.access, Action::PutObject, Target::object(bucket, &key))
            .await?;
        let out = svc
            .store
            .upload_part(
                &caller.ctx,
                &grant,
                bucket,
                &key,
                &id,
                number,
                stream_of(req),
                None,
                &Default::default(),
            )
            .await?;
        Ok::<_, ConsoleError>(serde_json::json!({ "ETag": out.etag }))
    }
    .await;
    Ok(match outcome {
        Ok(v) => Reply::json(StatusCode::OK, &v),
        Err(e) => json_error(e),
    })
}

/// POST /buckets/{b}/objects/uploads/{id}/complete?key=: every uploaded part, in order.
pub(crate) async fn complete(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
    id: &str,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let key = key_param(&req.query)?;
        let id = upload_id(id)?;
        let grant = caller
            .authorize(&svc.access, Action::PutObject, Target::object(bucket, &key))
            .await?;
        let out = svc
            .store
            .complete_upload(
                &caller.ctx,
                &grant,
                CompleteUpload {
                    bucket: bucket.clone(),
                    key,
                    upload_id: id,
                    parts: None,
                    forbid_overwrite: false,
                },
            )
            .await?;
        Ok::<_, ConsoleError>(serde_json::json!({
            "ETag": out.etag,
            "Encryption": method_of(&out.record),
        }))
    }
    .await;
    Ok(match outcome {
        Ok(v) => Reply::json(StatusCode::OK, &v),
        Err(e) => json_error(e),
    })
}

/// POST /buckets/{b}/objects/uploads/{id}/abort?key=: AbortMultipartUpload.
pub(crate) async fn abort(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
    id: &str,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let key = key_param(&req.query)?;
        let id = upload_id(id)?;
        let grant = caller
            .authorize(
                &svc.access,
                Action::AbortMultipartUpload,
                Target::object(bucket, &key),
            )
            .await?;
        svc.store
            .abort_upload(&caller.ctx, &grant, bucket, &key, &id)
            .await?;
        Ok::<_, ConsoleError>(serde_json::json!({}))
    }
    .await;
    Ok(match outcome {
        Ok(v) => Reply::json(StatusCode::OK, &v),
        Err(e) => json_error(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_keys() {
        assert_eq!(parent_of("a/b/c.txt"), "a/b/");
        assert_eq!(parent_of("c.txt"), "");
        assert_eq!(parent_of("a/"), "a/");
    }

    #[test]
    fn user_metadata_lines() {
        assert_eq!(
            parse_user_meta("Owner: team-a\n\n x-oss-meta-Tier : gold:1 \n").unwrap(),
            vec![
                ("owner".to_owned(), "team-a".to_owned()),
                ("tier".to_owned(), "gold:1".to_owned())
            ]
        );
        for (bad, why) in [
            ("no colon", "line 1: write it as name: value."),
            ("a b: c", "line 1: a name may hold only"),
            ("a: 1\na: 2", "line 2: this name is given twice."),
            ("a: x\u{7}", "line 1: a value may not hold control"),
        ] {
            let e = parse_user_meta(bad).unwrap_err();
            assert!(e.message.contains(why), "{bad:?}: {}", e.message);
        }
        let big = format!("a: {}", "x".repeat(MAX_USER_META));
        assert!(
            parse_user_meta(&big)
                .unwrap_err()
                .message
                .contains("at most")
        );
    }
}
