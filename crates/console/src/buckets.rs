//! The Buckets page: the list (name, region, created, default encryption), Create bucket (with
//! its "Server-side encryption" choice) and delete.

use coffer_access::Target;
use coffer_core::{Acl, CreateBucket, EncryptionRule, StorageClass};
use coffer_iam::Action;
use coffer_types::BucketName;
use maud::html;

use crate::encryption::{self, KeyChoice};
use crate::error::ConsoleError;
use crate::form::Form;
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};

/// GET /buckets.
pub(crate) async fn list(svc: &ConsoleService, caller: &Caller) -> Result<Reply, ConsoleError> {
    let listed = async {
        let grant = caller
            .authorize(&svc.access, Action::ListBuckets, Target::account())
            .await?;
        Ok::<_, ConsoleError>(
            svc.store
                .list_buckets(&caller.ctx, &grant, "", "", 1000)
                .await?,
        )
    }
    .await;
    let go_to = html! {
        form.inline.goto method="get" action="/buckets/open" {
            label for="open-bucket" { "Open a bucket by name" }
            input #open-bucket name="name" type="text" required;
            button type="submit" { "Open" }
        }
    };
    let listed = match listed {
        Ok(l) => l,
        Err(e) => {
            // A principal that may not list buckets can still open the one it may use.
            return Err(caller.error_page(
                svc,
                Section::Buckets,
                "Buckets",
                e,
                html! { h1 { "Buckets" } (go_to) },
            ));
        }
    };
    // The list shows the buckets the principal may open (list their objects), and each one's
    // default encryption only where it may read it: the same decisions as the API's.
    let mut rows = Vec::new();
    for b in &listed.buckets {
        let target = Target::bucket(&b.name);
        if caller
            .authorize(&svc.access, Action::ListObjects, target)
            .await
            .is_err()
        {
            continue;
        }
        let encryption = match caller
            .authorize(&svc.access, Action::GetBucketEncryption, target)
            .await
        {
            Ok(_) => encryption::summary(b.encryption.as_ref()),
            Err(_) => "(not permitted to read)".to_owned(),
        };
        rows.push((b, encryption));
    }
    let content = html! {
        div.heading {
            h1 { "Buckets" }
            a.button.primary href="/buckets/new" { "Create bucket" }
        }
        @if rows.is_empty() {
            p.empty { "No buckets you may open. Create one, or open one by name." }
        } @else {
            div.table-wrap {
                table.list #buckets {
                    thead { tr { th { "Bucket name" } th { "Region" } th { "Created" } th { "Default encryption" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for (b, enc) in &rows {
                            tr data-bucket=(b.name) {
                                td { a href={"/buckets/" (b.name) "/objects"} { (b.name) } }
                                td { (svc.config.region) }
                                td { (page::time_ms(b.created.0)) }
                                td { (enc) }
                                td.row-actions {
                                    a href={"/buckets/" (b.name) "/encryption"} { "Encryption" }
                                    form.inline method="post" action={"/buckets/" (b.name) "/delete"}
                                        data-confirm={"Delete bucket " (b.name) "? Only an empty bucket can be deleted."} {
                                        (page::csrf_field(&caller.csrf))
                                        button.link.danger type="submit" aria-label={"Delete " (b.name)} { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (go_to)
    };
    Ok(caller.page(svc, Section::Buckets, "Buckets", content))
}

/// GET /buckets/open?name=...: a bucket typed by name.
pub(crate) fn open(req: &Req) -> Result<Reply, ConsoleError> {
    let name = BucketName::parse(req.query.get("name").unwrap_or(""))?;
    Ok(Reply::redirect(&format!("/buckets/{name}/objects")))
}

fn create_form(
    caller: &Caller,
    name: &str,
    rule: Option<&EncryptionRule>,
    keys: &Result<Vec<KeyChoice>, ConsoleError>,
) -> maud::Markup {
    html! {
        h1 { "Create bucket" }
        form.panel method="post" action="/buckets" {
            (page::csrf_field(&caller.csrf))
            div.field {
                label for="bucket-name" { "Bucket name" }
                input #bucket-name name="name" type="text" value=(name) required
                    pattern="[a-z0-9][a-z0-9-]{1,61}[a-z0-9]" autocomplete="off"
                    aria-describedby="bucket-name-hint";
                p.hint #bucket-name-hint { "3 to 63 characters: lower-case letters, digits and hyphens, starting and ending with a letter or digit." }
            }
            (encryption::fields(rule, keys))
            div.actions {
                button.primary type="submit" { "Create bucket" }
                a.button href="/buckets" { "Cancel" }
            }
        }
    }
}

/// GET /buckets/new.
pub(crate) async fn new_form(svc: &ConsoleService, caller: &Caller) -> Result<Reply, ConsoleError> {
    let keys = encryption::key_choices(svc, caller).await;
    Ok(caller.page(
        svc,
        Section::Buckets,
        "Create bucket",
        create_form(caller, "", None, &keys),
    ))
}

/// POST /buckets: PutBucket, with the chosen default encryption (the CMK checked as
/// PutBucketEncryption checks it). A refusal shows the form again, as filled in.
pub(crate) async fn create(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
) -> Result<Reply, ConsoleError> {
    let form = req.form().await?;
    let name = form.get("name").unwrap_or("").to_owned();
    match create_bucket(svc, caller, &form, &name).await {
        Ok(text) => Ok(caller.done(svc, "/buckets", Ok(text))),
        Err(e) => {
            let keys = encryption::key_choices(svc, caller).await;
            let rule = encryption::parse(&form).ok().flatten();
            Err(caller.error_page(
                svc,
                Section::Buckets,
                "Create bucket",
                e,
                create_form(caller, &name, rule.as_ref(), &keys),
            ))
        }
    }
}

async fn create_bucket(
    svc: &ConsoleService,
    caller: &Caller,
    form: &Form,
    name: &str,
) -> Result<String, ConsoleError> {
    let bucket = BucketName::parse(name)?;
    let rule = encryption::parse(form)?;
    let grant = caller
        .authorize(&svc.access, Action::PutBucket, Target::bucket(&bucket))
        .await?;
    if let Some(key) = rule.as_ref().and_then(|r| r.kms_key_id.as_deref()) {
        svc.access.check_bucket_encryption_key(&grant, key).await?;
    }
    let summary = encryption::summary(rule.as_ref());
    svc.store
        .create_bucket(
            &caller.ctx,
            &grant,
            CreateBucket {
                name: bucket.clone(),
                acl: Acl::Private,
                storage_class: StorageClass::Standard,
                encryption: rule,
            },
        )
        .await?;
    Ok(format!(
        "Bucket {bucket} created; server-side encryption: {summary}."
    ))
}

/// POST /buckets/{b}/delete: only an empty bucket, else the API's BucketNotEmpty.
pub(crate) async fn delete(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let outcome = async {
        let grant = caller
            .authorize(&svc.access, Action::DeleteBucket, Target::bucket(bucket))
            .await?;
        svc.store.delete_bucket(&caller.ctx, &grant, bucket).await?;
        Ok(format!("Bucket {bucket} deleted."))
    }
    .await;
    let outcome = outcome.map_err(|mut e: ConsoleError| {
        if e.code == "BucketNotEmpty" {
            e.message = format!(
                "Bucket {bucket} still holds objects or unfinished multipart uploads; delete them first."
            );
        }
        e
    });
    Ok(caller.done(svc, "/buckets", outcome))
}
