//! UpdateObjectEncryption (Amazon S3 API reference, "UpdateObjectEncryption"): the key that wraps
//! an object's data key changes in place, to SSE-KMS under the named CMK, without the data moving
//! (core's `Store::update_object_encryption`). SSE-S3 and SSE-OSS objects (AES256, SM4) and
//! SSE-KMS objects qualify; unencrypted and SSE-C objects are `InvalidRequest`, as on S3.

use coffer_core::RequestContext;
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;
use serde::Deserialize;

use super::{bucket, encryption_headers, key, read_xml};
use crate::error::{S3Error, codes};
use crate::server::{Parts, Reply, S3Service};

/// Largest request document read.
const MAX_XML: usize = 16 * 1024;

#[derive(Deserialize)]
struct ObjectEncryptionDoc {
    #[serde(rename = "SSE-KMS")]
    sse_kms: Option<SseKmsDoc>,
}

#[derive(Deserialize)]
struct SseKmsDoc {
    #[serde(rename = "KMSKeyArn")]
    kms_key_arn: Option<String>,
    /// Accepted: every object's data key is wrapped on its own, there is no bucket key to use.
    #[serde(rename = "BucketKeyEnabled")]
    #[allow(dead_code)]
    bucket_key_enabled: Option<String>,
}

/// The CMK a KMSKeyArn names, as the built-in KMS resolves names: an AWS-form key ARN
/// (`arn:aws:kms:REGION:ACCOUNT:key/ID`) names the key `ID` of this account; the KMS's own forms
/// (key id, `alias/…`, `acs:kms:…` ARN) pass as they are.
fn key_of(arn: &str) -> Result<String, S3Error> {
    let arn = arn.trim();
    if arn.is_empty() {
        return Err(S3Error::new(
            codes::INVALID_REQUEST,
            "Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon Resource Name (ARN).",
        ));
    }
    if let Some(rest) = arn.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        return match parts.as_slice() {
            [_partition, "kms", _region, _account, resource] => resource
                .strip_prefix("key/")
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(invalid_arn),
            _ => Err(invalid_arn()),
        };
    }
    Ok(arn.to_owned())
}

fn invalid_arn() -> S3Error {
    S3Error::new(
        codes::INVALID_REQUEST,
        "Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS key Amazon Resource Name (ARN).",
    )
}

/// Parses the `ObjectEncryption` document: exactly the SSE-KMS member with a key ARN.
fn parse(text: &str) -> Result<String, S3Error> {
    let doc: ObjectEncryptionDoc = quick_xml::de::from_str(text).map_err(|_| {
        S3Error::new(
            codes::MALFORMED_XML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    })?;
    let Some(kms) = doc.sse_kms else {
        return Err(S3Error::new(
            codes::INVALID_REQUEST,
            "Requests that modify an object encryption configuration require a valid new encryption type. Valid values are SSEKMS.",
        ));
    };
    if let Some(v) = kms.bucket_key_enabled.as_deref()
        && !matches!(v.trim(), "true" | "false")
    {
        return Err(S3Error::new(
            codes::INVALID_REQUEST,
            "The BucketKeyEnabled value isn't valid. Valid values are true or false.",
        ));
    }
    key_of(kms.kms_key_arn.as_deref().unwrap_or_default())
}

pub(super) async fn put(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let text = read_xml(p, body, MAX_XML).await?;
    let kms_key = parse(&text)?;
    let record = svc
        .store
        .update_object_encryption(
            ctx,
            g,
            bucket(p)?,
            key(p)?,
            Some(&kms_key),
            p.header("if-match"),
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    encryption_headers(&mut reply, &record);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(inner: &str) -> String {
        format!(
            r#"<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</ObjectEncryption>"#
        )
    }

    #[test]
    fn the_key_arn_names_the_cmk() {
        let got = parse(&doc(
            "<SSE-KMS><KMSKeyArn>arn:aws:kms:us-east-1:123456789012:key/abc-1</KMSKeyArn><BucketKeyEnabled>false</BucketKeyEnabled></SSE-KMS>",
        ));
        assert_eq!(got.unwrap(), "abc-1");
        let got = parse(&doc("<SSE-KMS><KMSKeyArn>alias/app</KMSKeyArn></SSE-KMS>"));
        assert_eq!(got.unwrap(), "alias/app");
    }

    #[test]
    fn other_documents_are_refused_with_s3_codes() {
        let code = |xml: &str| parse(xml).unwrap_err().code.code;
        assert_eq!(code(&doc("")), "InvalidRequest");
        assert_eq!(code(&doc("<SSE-KMS></SSE-KMS>")), "InvalidRequest");
        assert_eq!(
            code(&doc(
                "<SSE-KMS><KMSKeyArn>arn:aws:s3:::b</KMSKeyArn></SSE-KMS>"
            )),
            "InvalidRequest"
        );
        assert_eq!(
            code(&doc(
                "<SSE-KMS><KMSKeyArn>k</KMSKeyArn><BucketKeyEnabled>maybe</BucketKeyEnabled></SSE-KMS>"
            )),
            "InvalidRequest"
        );
        assert_eq!(code("<ObjectEncryption>"), "MalformedXML");
    }
}
