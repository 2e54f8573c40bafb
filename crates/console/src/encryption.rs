//! Server-side encryption in the console: the "Server-side encryption" choice of Create bucket
//! and of the bucket's Data security page (None / OSS-managed / KMS, the encryption algorithm and
//! the KMS key), and that page itself (the rule, Set, Save, remove).

use coffer_access::Target;
use coffer_core::{EncryptionRule, SseAlgorithm, SseRequest};
use coffer_iam::Action;
use coffer_types::BucketName;
use maud::{Markup, html};

use crate::error::ConsoleError;
use crate::form::Form;
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};

/// The account's default key for SSE-KMS, managed by OSS.
pub(crate) const DEFAULT_KMS_KEY: &str = "alias/acs/oss";

/// A CMK the KMS key list offers.
pub(crate) struct KeyChoice {
    pub(crate) id: String,
    pub(crate) label: String,
}

/// The CMKs the principal may list (Enabled ones: the others cannot encrypt), each described;
/// `Err` when the principal may not list keys (the form then asks for a CMK ID).
pub(crate) async fn key_choices(
    svc: &ConsoleService,
    caller: &Caller,
) -> Result<Vec<KeyChoice>, ConsoleError> {
    let rid = caller.ctx.request_id.as_str();
    let listed = svc
        .kms
        .invoke(
            &caller.principal,
            caller.facts.shared_conditions(),
            "ListKeys",
            &[("PageSize", "100")],
            rid,
        )
        .await?;
    let mut out = Vec::new();
    let ids = listed["Keys"]["Key"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k["KeyId"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for id in ids {
        let Ok(d) = svc
            .kms
            .invoke(
                &caller.principal,
                caller.facts.shared_conditions(),
                "DescribeKey",
                &[("KeyId", &id)],
                rid,
            )
            .await
        else {
            continue;
        };
        let m = &d["KeyMetadata"];
        if m["KeyState"].as_str() != Some("Enabled") {
            continue;
        }
        let description = m["Description"].as_str().unwrap_or("");
        let spec = m["KeySpec"].as_str().unwrap_or("");
        let label = if description.is_empty() {
            format!("{id} ({spec})")
        } else {
            format!("{id} — {description} ({spec})")
        };
        out.push(KeyChoice { id, label });
    }
    Ok(out)
}

/// How a rule reads: method, algorithm, key.
pub(crate) fn describe(rule: Option<&EncryptionRule>) -> (&'static str, &'static str, String) {
    match rule {
        None => ("None", "—", "—".to_owned()),
        Some(r) => match r.algorithm {
            SseAlgorithm::Aes256 => ("OSS-managed", "AES256", "—".to_owned()),
            SseAlgorithm::Sm4 => ("OSS-managed", "SM4", "—".to_owned()),
            // A bucket rule never names SSE-C.
            SseAlgorithm::SseC => ("Customer-provided", "AES256", "—".to_owned()),
            SseAlgorithm::Kms => (
                "KMS",
                if r.kms_data_sm4 { "SM4" } else { "AES256" },
                r.kms_key_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_KMS_KEY.to_owned()),
            ),
        },
    }
}

/// A short summary for the bucket list.
pub(crate) fn summary(rule: Option<&EncryptionRule>) -> String {
    match describe(rule) {
        ("None", _, _) => "None".to_owned(),
        ("KMS", alg, key) => format!("KMS ({alg}, {key})"),
        (method, alg, _) => format!("{method} ({alg})"),
    }
}

/// The "Server-side encryption" fields, preset to `current`.
pub(crate) fn fields(
    current: Option<&EncryptionRule>,
    keys: &Result<Vec<KeyChoice>, ConsoleError>,
) -> Markup {
    fields_with(current, keys, ("none", "None"))
}

/// The encryption choice of an upload: the bucket's default, or one the upload asks for.
pub(crate) fn fields_for_upload(keys: &Result<Vec<KeyChoice>, ConsoleError>) -> Markup {
    fields_with(None, keys, ("default", "Bucket default"))
}

fn fields_with(
    current: Option<&EncryptionRule>,
    keys: &Result<Vec<KeyChoice>, ConsoleError>,
    first: (&str, &str),
) -> Markup {
    let (method, alg, key) = describe(current);
    let radio = |value: &str, label: &str, checked: bool| {
        let id = format!("sse-{value}");
        html! {
            span.choice {
                input type="radio" name="sse" id=(id) value=(value) checked[checked];
                label for=(id) { (label) }
            }
        }
    };
    let alg_radio = |value: &str| {
        let id = format!("alg-{value}");
        html! {
            span.choice {
                input type="radio" name="algorithm" id=(id) value=(value) checked[alg == value || (value == "AES256" && alg == "—")];
                label for=(id) { (value) }
            }
        }
    };
    html! {
        fieldset.sse {
            legend { "Server-side encryption" }
            div.choices role="radiogroup" aria-label="Server-side encryption" {
                (radio(first.0, first.1, method == "None"))
                (radio("oss", "OSS-managed", method == "OSS-managed"))
                (radio("kms", "KMS", method == "KMS"))
            }
            div.field data-when="sse=oss,kms" {
                span.label #alg-label { "Encryption algorithm" }
                div.choices role="radiogroup" aria-labelledby="alg-label" {
                    (alg_radio("AES256"))
                    (alg_radio("SM4"))
                }
                p.hint { "With KMS, SM4 encrypts the data with SM4 under a data key from the KMS." }
            }
            div.field data-when="sse=kms" {
                label for="kms_key" { "KMS key" }
                select #kms_key name="kms_key" {
                    option value=(DEFAULT_KMS_KEY) selected[key == DEFAULT_KMS_KEY || key == "—"] {
                        (DEFAULT_KMS_KEY) " (default key managed by OSS)"
                    }
                    @if let Ok(keys) = keys {
                        @for k in keys {
                            option value=(k.id) selected[key == k.id] { (k.label) }
                        }
                    }
                }
                @if let Err(e) = keys {
                    p.hint {
                        "The KMS keys cannot be listed for you (" code { (e.code) } "). Enter a CMK ID to use one:"
                    }
                    label for="kms_key_id" { "CMK ID" }
                    input #kms_key_id name="kms_key_id" type="text" autocomplete="off";
                }
            }
        }
    }
}

/// The rule the fields ask for; `None` for "None".
pub(crate) fn parse(form: &Form) -> Result<Option<EncryptionRule>, ConsoleError> {
    let sm4 = match form.get("algorithm").unwrap_or("AES256") {
        "AES256" => false,
        "SM4" => true,
        other => {
            return Err(ConsoleError::invalid(format!(
                "The encryption algorithm must be AES256 or SM4, not {other:?}."
            )));
        }
    };
    match form.get("sse").unwrap_or("none") {
        "none" | "default" => Ok(None),
        "oss" => Ok(Some(EncryptionRule {
            algorithm: if sm4 {
                SseAlgorithm::Sm4
            } else {
                SseAlgorithm::Aes256
            },
            kms_key_id: None,
            kms_data_sm4: false,
        })),
        "kms" => {
            let key = form
                .get("kms_key_id")
                .or_else(|| form.get("kms_key"))
                .unwrap_or(DEFAULT_KMS_KEY);
            Ok(Some(EncryptionRule {
                algorithm: SseAlgorithm::Kms,
                // The default key is the absence of a named one, as in the API.
                kms_key_id: (key != DEFAULT_KMS_KEY).then(|| key.to_owned()),
                kms_data_sm4: sm4,
            }))
        }
        other => Err(ConsoleError::invalid(format!(
            "Server-side encryption must be None, OSS-managed or KMS, not {other:?}."
        ))),
    }
}

/// The encryption an upload asks for; `None` leaves it to the bucket's default.
pub(crate) fn parse_request(form: &Form) -> Result<Option<SseRequest>, ConsoleError> {
    Ok(parse(form)?.as_ref().map(SseRequest::from_rule))
}

/// The documentation's notice: a rule applies to objects written after it.
fn notice() -> Markup {
    html! {
        div.notice.info role="note" {
            "The default encryption applies to objects uploaded after it is set. "
            strong { "Existing objects keep the encryption they were written with" }
            "; changing or removing the rule does not re-encrypt or decrypt them."
        }
    }
}

fn rule_table(rule: Option<&EncryptionRule>) -> Markup {
    let (method, alg, key) = describe(rule);
    html! {
        dl.facts {
            dt { "Server-side encryption" } dd #rule-method { (method) }
            dt { "Encryption algorithm" } dd #rule-algorithm { (alg) }
            dt { "KMS key" } dd #rule-key { (key) }
        }
    }
}

/// GET /buckets/{b}/encryption: the rule, and with `?edit=1` the form to set it.
pub(crate) async fn show(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let title = format!("Server-side encryption · {bucket}");
    let nav = page::bucket_nav(bucket.as_str(), "encryption");
    let rule = async {
        let grant = caller
            .authorize(
                &svc.access,
                Action::GetBucketEncryption,
                Target::bucket(bucket),
            )
            .await?;
        Ok::<_, ConsoleError>(
            svc.store
                .bucket_encryption(&caller.ctx, &grant, bucket)
                .await?,
        )
    }
    .await;
    let rule = match rule {
        Ok(r) => r,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Buckets,
                &title,
                e,
                html! { div.layout { (nav) section.content { h1 { "Server-side encryption" } } } },
            ));
        }
    };
    let editing = req.query.get("edit").is_some();
    let keys = if editing {
        key_choices(svc, caller).await
    } else {
        Ok(Vec::new())
    };
    let content = html! {
        div.layout {
            (nav)
            section.content {
                p.crumbs { "Data security" }
                h1 { "Server-side encryption" }
                (notice())
                @if editing {
                    form method="post" action={"/buckets/" (bucket) "/encryption"} {
                        (page::csrf_field(&caller.csrf))
                        (fields(rule.as_ref(), &keys))
                        div.actions {
                            button.primary type="submit" { "Save" }
                            a.button href={"/buckets/" (bucket) "/encryption"} { "Cancel" }
                        }
                    }
                } @else {
                    (rule_table(rule.as_ref()))
                    @if rule.is_some() {
                        p.hint { "Re-encrypt existing objects rewrites every object that is not encrypted as the rule says (as the CLI's coffer reencrypt does), as you: you need to read and write the objects and use the key." }
                    }
                    @if rule.as_ref().is_some_and(|r| r.algorithm == SseAlgorithm::Kms) {
                        p.hint { "With “Only change the key where possible”, objects already encrypted by the service (OSS-managed or KMS) with the same data algorithm keep their data: only the key that wraps their data key changes. Unencrypted objects and objects with another data algorithm are still rewritten." }
                    }
                    div.actions {
                        a.button.primary href={"/buckets/" (bucket) "/encryption?edit=1"} { "Set" }
                        @if rule.is_some() {
                            form.inline method="post" action={"/buckets/" (bucket) "/reencrypt"} {
                                (page::csrf_field(&caller.csrf))
                                @if rule.as_ref().is_some_and(|r| r.algorithm == SseAlgorithm::Kms) {
                                    span.choice {
                                        input #reencrypt-rewrap type="checkbox" name="rewrap" value="on";
                                        label for="reencrypt-rewrap" { "Only change the key where possible (no data copied)" }
                                    }
                                }
                                button type="submit" { "Re-encrypt existing objects" }
                            }
                            form.inline method="post" action={"/buckets/" (bucket) "/encryption/delete"}
                                data-confirm="Remove the default encryption? New objects will be stored unencrypted unless their upload asks for encryption." {
                                (page::csrf_field(&caller.csrf))
                                button.danger type="submit" { "Remove encryption" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(caller.page(svc, Section::Buckets, &title, content))
}

/// Sets (or, for "None", removes) the bucket's rule as PutBucketEncryption would, with the named
/// CMK checked as the API checks it.
pub(crate) async fn put_rule(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
    rule: Option<EncryptionRule>,
) -> Result<String, ConsoleError> {
    match rule {
        Some(rule) => {
            let grant = caller
                .authorize(
                    &svc.access,
                    Action::PutBucketEncryption,
                    Target::bucket(bucket),
                )
                .await?;
            if let Some(key) = &rule.kms_key_id {
                svc.access.check_bucket_encryption_key(&grant, key).await?;
            }
            let summary = summary(Some(&rule));
            svc.store
                .put_bucket_encryption(&caller.ctx, &grant, bucket, rule)
                .await?;
            Ok(format!(
                "Server-side encryption of {bucket} is now {summary}. Existing objects keep their encryption."
            ))
        }
        None => remove_rule(svc, caller, bucket).await,
    }
}

/// DeleteBucketEncryption.
pub(crate) async fn remove_rule(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
) -> Result<String, ConsoleError> {
    let grant = caller
        .authorize(
            &svc.access,
            Action::DeleteBucketEncryption,
            Target::bucket(bucket),
        )
        .await?;
    svc.store
        .delete_bucket_encryption(&caller.ctx, &grant, bucket)
        .await?;
    Ok(format!(
        "The default encryption of {bucket} is removed. Existing objects keep their encryption."
    ))
}

/// POST /buckets/{b}/encryption (Save).
pub(crate) async fn save(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let form = req.form().await?;
    let page = format!("/buckets/{bucket}/encryption");
    let outcome = match parse(&form) {
        Ok(rule) => put_rule(svc, caller, bucket, rule).await,
        Err(e) => Err(e),
    };
    let back = if outcome.is_ok() {
        page
    } else {
        format!("{page}?edit=1")
    };
    Ok(caller.done(svc, &back, outcome))
}

/// POST /buckets/{b}/encryption/delete.
pub(crate) async fn delete(
    svc: &ConsoleService,
    caller: &Caller,
    bucket: &BucketName,
) -> Result<Reply, ConsoleError> {
    let outcome = remove_rule(svc, caller, bucket).await;
    Ok(caller.done(svc, &format!("/buckets/{bucket}/encryption"), outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(form: &str) -> Result<Option<EncryptionRule>, ConsoleError> {
        parse(&Form::parse(form.as_bytes()))
    }

    #[test]
    fn the_choices_read_as_the_apis_rules() {
        assert_eq!(rule("sse=none&algorithm=SM4").unwrap(), None);
        let r = rule("sse=oss&algorithm=SM4").unwrap().unwrap();
        assert_eq!(
            (r.algorithm, r.kms_key_id, r.kms_data_sm4),
            (SseAlgorithm::Sm4, None, false)
        );
        let r = rule("sse=oss&algorithm=AES256").unwrap().unwrap();
        assert_eq!(r.algorithm, SseAlgorithm::Aes256);
        let r = rule("sse=kms&algorithm=AES256&kms_key=alias%2Facs%2Foss")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.algorithm, r.kms_key_id, r.kms_data_sm4),
            (SseAlgorithm::Kms, None, false)
        );
        let r = rule("sse=kms&algorithm=SM4&kms_key=key-1")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.kms_key_id.as_deref(), r.kms_data_sm4),
            (Some("key-1"), true)
        );
        let r = rule("sse=kms&kms_key=alias%2Facs%2Foss&kms_key_id=key-2")
            .unwrap()
            .unwrap();
        assert_eq!(r.kms_key_id.as_deref(), Some("key-2"));
        assert_eq!(rule("sse=xts").unwrap_err().code, "InvalidArgument");
        assert_eq!(
            rule("sse=oss&algorithm=DES").unwrap_err().code,
            "InvalidArgument"
        );
    }

    #[test]
    fn rules_read_back_in_the_forms_words() {
        assert_eq!(summary(None), "None");
        let r = rule("sse=kms&algorithm=SM4").unwrap();
        assert_eq!(summary(r.as_ref()), "KMS (SM4, alias/acs/oss)");
        let r = rule("sse=oss&algorithm=AES256").unwrap();
        assert_eq!(summary(r.as_ref()), "OSS-managed (AES256)");
    }
}
