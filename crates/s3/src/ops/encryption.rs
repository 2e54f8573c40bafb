//! Put/Get/DeleteBucketEncryption in the S3 shape (`ServerSideEncryptionConfiguration`), on the
//! same bucket rule the OSS API's PutBucketEncryption sets: a rule put through either dialect is
//! read through the other. The rule's `BlockedEncryptionTypes` (Amazon S3 user guide, "Blocking or
//! unblocking SSE-C for a general purpose bucket") is kept apart from it, in the bucket's
//! sub-resources: the OSS API, which has no SSE-C, neither shows nor drops it.

use coffer_core::{EncryptionRule, RequestContext, SseAlgorithm};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;
use serde::Deserialize;

use super::{bucket, read_xml};
use crate::error::{S3Error, codes};
use crate::server::{Parts, Reply, S3Service};
use crate::xml::Doc;

/// Largest configuration document read.
const MAX_XML: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigurationDoc {
    #[serde(default)]
    rule: Vec<RuleDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleDoc {
    apply_server_side_encryption_by_default: Option<DefaultDoc>,
    /// Accepted: every object's data key is wrapped on its own, so there is nothing to cache.
    #[serde(default)]
    #[allow(dead_code)]
    bucket_key_enabled: Option<bool>,
    blocked_encryption_types: Option<BlockedDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BlockedDoc {
    #[serde(default)]
    encryption_type: Vec<String>,
}

/// What a PutBucketEncryption document asks for: the default rule, and whether SSE-C is blocked
/// (`None`: the document does not say, the setting stays).
#[derive(Debug)]
struct Configuration {
    rule: Option<EncryptionRule>,
    sse_c_blocked: Option<bool>,
}

#[derive(Deserialize)]
struct DefaultDoc {
    #[serde(rename = "SSEAlgorithm")]
    sse_algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    kms_master_key_id: Option<String>,
}

fn malformed(detail: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        codes::MALFORMED_XML,
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {detail}"
        ),
    )
}

/// What a `ServerSideEncryptionConfiguration` document asks for: a Rule with the default
/// encryption, `BlockedEncryptionTypes` (`SSE-C` blocks, `NONE` unblocks), or both.
fn configuration_from_xml(text: &str) -> Result<Configuration, S3Error> {
    let doc: ConfigurationDoc = quick_xml::de::from_str(text).map_err(malformed)?;
    let [rule] = doc.rule.as_slice() else {
        return Err(malformed("exactly one Rule is required"));
    };
    let sse_c_blocked = match &rule.blocked_encryption_types {
        None => None,
        Some(blocked) => {
            let mut sse_c = false;
            for t in &blocked.encryption_type {
                match t.trim() {
                    "SSE-C" => sse_c = true,
                    "NONE" => {}
                    other => {
                        return Err(S3Error::invalid_argument(format!(
                            "The encryption type {other} is not valid: use SSE-C or NONE."
                        )));
                    }
                }
            }
            Some(sse_c)
        }
    };
    let rule = match &rule.apply_server_side_encryption_by_default {
        Some(default) => Some(rule_from_default(default)?),
        None if sse_c_blocked.is_some() => None,
        None => return Err(malformed("ApplyServerSideEncryptionByDefault is required")),
    };
    Ok(Configuration {
        rule,
        sse_c_blocked,
    })
}

fn rule_from_default(default: &DefaultDoc) -> Result<EncryptionRule, S3Error> {
    let key_id = default
        .kms_master_key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match default.sse_algorithm.trim() {
        "AES256" if key_id.is_none() => Ok(EncryptionRule {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            kms_data_sm4: false,
        }),
        "AES256" => Err(S3Error::invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
        )),
        "aws:kms" => Ok(EncryptionRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: key_id.map(str::to_owned),
            kms_data_sm4: false,
        }),
        "aws:kms:dsse" => Err(S3Error::not_implemented(
            "DSSE-KMS (dual-layer encryption) as a bucket default; use aws:kms",
        )),
        _ => Err(malformed("SSEAlgorithm must be AES256 or aws:kms")),
    }
}

pub(super) async fn put(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let text = read_xml(p, body, MAX_XML).await?;
    let config = configuration_from_xml(&text)?;
    if let Some(rule) = config.rule {
        // Choosing a named CMK as the default needs permission to see it, as through the OSS
        // API.
        if let Some(key_id) = &rule.kms_key_id {
            svc.access.check_bucket_encryption_key(g, key_id).await?;
        }
        svc.store
            .put_bucket_encryption(ctx, g, bucket(p)?, rule)
            .await?;
    }
    if let Some(blocked) = config.sse_c_blocked {
        svc.store
            .put_bucket_sse_c_blocked(ctx, g, bucket(p)?, blocked)
            .await?;
    }
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let name = bucket(p)?;
    let rule = svc
        .store
        .bucket_encryption(ctx, g, name)
        .await?
        .ok_or_else(|| {
            S3Error::new(
                codes::SSE_CONFIGURATION_NOT_FOUND,
                "The server side encryption configuration was not found",
            )
            .naming("BucketName", name.as_str())
        })?;
    let mut doc = Doc::new("ServerSideEncryptionConfiguration");
    doc.open("Rule").open("ApplyServerSideEncryptionByDefault");
    match rule.algorithm {
        SseAlgorithm::Aes256 => {
            doc.text("SSEAlgorithm", "AES256");
        }
        // A rule set through the OSS API: service-managed like AES256, under a cipher S3 has no
        // name for (the same name the object headers use).
        SseAlgorithm::Sm4 => {
            doc.text("SSEAlgorithm", "SM4");
        }
        // A rule never names SSE-C (no API sets one); were one to, objects get service keys.
        SseAlgorithm::SseC => {
            doc.text("SSEAlgorithm", "AES256");
        }
        SseAlgorithm::Kms => {
            doc.text("SSEAlgorithm", "aws:kms");
            if let Some(k) = &rule.kms_key_id {
                doc.text("KMSMasterKeyID", k);
            }
        }
    }
    let blocked = svc.store.bucket_sse_c_blocked(ctx, g, name).await?;
    doc.close("ApplyServerSideEncryptionByDefault")
        .text("BucketKeyEnabled", "false")
        .open("BlockedEncryptionTypes")
        .text("EncryptionType", if blocked { "SSE-C" } else { "NONE" })
        .close("BlockedEncryptionTypes")
        .close("Rule");
    Ok(Reply::xml(doc.finish("ServerSideEncryptionConfiguration")))
}

pub(super) async fn delete(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    svc.store
        .delete_bucket_encryption(ctx, g, bucket(p)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(xml: &str, expected: Result<(SseAlgorithm, Option<&str>), &str>) {
        let got = configuration_from_xml(xml)
            .map(|c| c.rule.expect("a rule"))
            .map(|r| (r.algorithm, r.kms_key_id))
            .map_err(|e| e.code.code);
        let expected = expected.map(|(a, k)| (a, k.map(str::to_owned)));
        assert_eq!(got, expected, "{xml}");
    }

    fn doc(inner: &str) -> String {
        format!(
            "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</ServerSideEncryptionConfiguration>"
        )
    }

    #[test]
    fn configuration_documents_map_onto_the_bucket_rule() {
        let rule = |alg: &str, key: &str| {
            doc(&format!(
                "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm>{key}</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
            ))
        };
        check(&rule("AES256", ""), Ok((SseAlgorithm::Aes256, None)));
        check(&rule("aws:kms", ""), Ok((SseAlgorithm::Kms, None)));
        check(
            &rule("aws:kms", "<KMSMasterKeyID>alias/k</KMSMasterKeyID>"),
            Ok((SseAlgorithm::Kms, Some("alias/k"))),
        );
        check(
            &rule("AES256", "<KMSMasterKeyID>k</KMSMasterKeyID>"),
            Err("InvalidArgument"),
        );
        check(&rule("aws:kms:dsse", ""), Err("NotImplemented"));
        check(&rule("SM4", ""), Err("MalformedXML"));
        check(&doc(""), Err("MalformedXML"));
        check(&doc("<Rule></Rule>"), Err("MalformedXML"));
        check("<ServerSideEncryptionConfiguration>", Err("MalformedXML"));
    }

    #[test]
    fn blocked_encryption_types_block_or_unblock_sse_c_or_say_nothing() {
        let blocked = |inner: &str| {
            configuration_from_xml(&doc(&format!("<Rule>{inner}</Rule>")))
                .map(|c| (c.rule.is_some(), c.sse_c_blocked))
                .map_err(|e| e.code.code)
        };
        let default = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>";
        let types = |t: &str| format!("<BlockedEncryptionTypes>{t}</BlockedEncryptionTypes>");
        assert_eq!(blocked(default), Ok((true, None)));
        assert_eq!(
            blocked(&format!(
                "{default}{}",
                types("<EncryptionType>SSE-C</EncryptionType>")
            )),
            Ok((true, Some(true)))
        );
        assert_eq!(
            blocked(&types("<EncryptionType>NONE</EncryptionType>")),
            Ok((false, Some(false)))
        );
        assert_eq!(
            blocked(&types("<EncryptionType>SSE-KMS</EncryptionType>")),
            Err("InvalidArgument")
        );
    }
}
