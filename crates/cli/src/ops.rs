//! The OSS operations the commands use, typed: request building and XML answers.

use anyhow::{Context, Result};
use bytes::Bytes;
use coffer_reencrypt::{Algorithm, Encryption};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{OssClient, Req, header};

/// Server-side encryption asked of a write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sse {
    /// `AES256`, `SM4` or `KMS`.
    pub algorithm: String,
    /// The CMK, for KMS.
    pub kms_key_id: Option<String>,
    /// `SM4` to encrypt the data with SM4 under a KMS key.
    pub data_encryption: Option<String>,
}

impl Sse {
    /// The `x-oss-server-side-*` headers.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![(
            "x-oss-server-side-encryption".to_owned(),
            self.algorithm.clone(),
        )];
        if let Some(k) = &self.kms_key_id {
            h.push(("x-oss-server-side-encryption-key-id".to_owned(), k.clone()));
        }
        if let Some(d) = &self.data_encryption {
            h.push(("x-oss-server-side-data-encryption".to_owned(), d.clone()));
        }
        h
    }

    /// What this asks, in the re-encryption engine's terms.
    pub fn encryption(&self) -> Encryption {
        Encryption {
            algorithm: Algorithm::from_header(Some(&self.algorithm)),
            kms_key_id: self.kms_key_id.clone(),
            kms_data_sm4: self.data_encryption.as_deref() == Some("SM4"),
        }
    }
}

/// What HEAD tells about an object.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// ETag, without quotes.
    pub etag: String,
    /// Last-Modified.
    pub last_modified: String,
    /// CRC-64/ECMA of the content, as the server computed it.
    pub crc64: Option<u64>,
    /// Encryption method.
    pub sse: Option<String>,
    /// CMK id, for KMS.
    pub kms_key_id: Option<String>,
    /// `SM4` when the data is SM4 under KMS.
    pub sse_data: Option<String>,
    /// Content-Type.
    pub content_type: Option<String>,
    /// Every response header, lower-case name order.
    pub headers: std::collections::BTreeMap<String, String>,
}

impl ObjectInfo {
    /// How the object is encrypted, from its `x-oss-server-side-*` headers.
    pub fn encryption(&self) -> Encryption {
        Encryption {
            algorithm: Algorithm::from_header(self.sse.as_deref()),
            kms_key_id: self.kms_key_id.clone(),
            kms_data_sm4: self.sse_data.as_deref() == Some("SM4"),
        }
    }
}

/// One listed object.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listed {
    /// Key.
    pub key: String,
    /// Size.
    pub size: u64,
    /// Last modified.
    pub last_modified: String,
    /// ETag.
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListV2 {
    contents: Vec<Listed>,
    common_prefixes: Vec<Prefix>,
    is_truncated: bool,
    next_continuation_token: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
struct Prefix {
    prefix: String,
}

/// A page of a listing.
pub struct Page {
    /// Objects.
    pub objects: Vec<Listed>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
    /// Token of the next page.
    pub next: Option<String>,
}

/// One bucket of ListBuckets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInfo {
    /// Name.
    pub name: String,
    /// Creation date.
    #[serde(default)]
    pub creation_date: String,
    /// Region.
    #[serde(default)]
    pub location: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListAllMyBuckets {
    buckets: BucketList,
    is_truncated: bool,
    next_marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct BucketList {
    bucket: Vec<BucketInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Initiate {
    upload_id: String,
}

/// A bucket's default encryption.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionRule {
    /// `AES256`, `KMS` or `SM4`.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    /// CMK for KMS.
    #[serde(
        rename = "KMSMasterKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
    /// `SM4` for SM4 data under KMS.
    #[serde(
        rename = "KMSDataEncryption",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_data_encryption: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename = "ServerSideEncryptionRule", rename_all = "PascalCase")]
struct EncryptionXml {
    apply_server_side_encryption_by_default: EncryptionRule,
}

fn xml<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T> {
    quick_xml::de::from_str(text).with_context(|| format!("parse the {what} answer"))
}

impl OssClient {
    /// All buckets of the account.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut req = Req::new(Method::GET, None, None);
            if let Some(m) = &marker {
                req = req.q("marker", m);
            }
            let page: ListAllMyBuckets = xml(&self.text(req, None).await?, "ListBuckets")?;
            out.extend(page.buckets.bucket);
            match (page.is_truncated, page.next_marker) {
                (true, Some(m)) => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }

    /// One page of ListObjectsV2.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<Page> {
        let mut req = Req::new(Method::GET, Some(bucket), None)
            .q("list-type", "2")
            .q("max-keys", "1000")
            .q("prefix", prefix);
        if let Some(d) = delimiter {
            req = req.q("delimiter", d);
        }
        if let Some(t) = token {
            req = req.q("continuation-token", t);
        }
        let page: ListV2 = xml(&self.text(req, None).await?, "ListObjectsV2")?;
        Ok(Page {
            objects: page.contents,
            prefixes: page.common_prefixes.into_iter().map(|p| p.prefix).collect(),
            next: page.next_continuation_token.filter(|_| page.is_truncated),
        })
    }

    /// Every object under `prefix`.
    pub async fn list_all(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .list_page(bucket, prefix, None, token.as_deref())
                .await?;
            out.extend(page.objects);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// HEAD of an object.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo> {
        let resp = self
            .send(Req::new(Method::HEAD, Some(bucket), Some(key)), None)
            .await?;
        Ok(object_info(&resp))
    }

    /// Changes the key that wraps an object's data key in place, to KMS under `kms_key_id`
    /// (the default OSS key without one), if the object still has `etag`: coffer's
    /// UpdateObjectEncryption (`PUT /bucket/key?encryption`). Nothing of the data is copied.
    pub async fn update_object_encryption(
        &self,
        bucket: &str,
        key: &str,
        kms_key_id: Option<&str>,
        etag: &str,
    ) -> Result<()> {
        let mut req = Req::new(Method::PUT, Some(bucket), Some(key))
            .q("encryption", "")
            .h("x-oss-server-side-encryption", "KMS")
            .h("if-match", &format!("\"{etag}\""));
        if let Some(k) = kms_key_id {
            req = req.h("x-oss-server-side-encryption-key-id", k);
        }
        self.text(req, None).await?;
        Ok(())
    }

    /// Deletes up to 1000 keys in one DeleteMultipleObjects; returns the keys that failed
    /// with their codes.
    pub async fn delete_many(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>> {
        let mut body =
            String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
        for k in keys {
            body.push_str("<Object><Key>");
            body.push_str(&quick_xml::escape::escape(k.as_str()));
            body.push_str("</Key></Object>");
        }
        body.push_str("</Delete>");
        let body = Bytes::from(body);
        let md5 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            <md5::Md5 as md5::Digest>::digest(&body),
        );
        let req = Req::new(Method::POST, Some(bucket), None)
            .q("delete", "")
            .h("content-md5", &md5)
            .h("content-type", "application/xml");
        let text = self.text(req, Some(body)).await?;
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Failed {
            key: String,
            code: String,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Result_ {
            error: Vec<Failed>,
        }
        let r: Result_ = quick_xml::de::from_str(&text).unwrap_or_default();
        Ok(r.error.into_iter().map(|f| (f.key, f.code)).collect())
    }

    /// InitiateMultipartUpload.
    pub async fn initiate(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(String, String)],
    ) -> Result<String> {
        let mut req = Req::new(Method::POST, Some(bucket), Some(key)).q("uploads", "");
        req.headers.extend(headers.iter().cloned());
        let i: Initiate = xml(&self.text(req, None).await?, "InitiateMultipartUpload")?;
        Ok(i.upload_id)
    }

    /// CompleteMultipartUpload; returns the answer's CRC-64 header.
    pub async fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<Option<u64>> {
        let mut body = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>\"{etag}\"</ETag></Part>"
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let req = Req::new(Method::POST, Some(bucket), Some(key))
            .q("uploadId", upload_id)
            .h("content-type", "application/xml");
        let resp = self.send_bytes(req, Bytes::from(body)).await?;
        let crc = header(&resp, "x-oss-hash-crc64ecma").and_then(|v| v.parse().ok());
        resp.bytes().await.context("read CompleteMultipartUpload")?;
        Ok(crc)
    }

    /// AbortMultipartUpload.
    pub async fn abort(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let req = Req::new(Method::DELETE, Some(bucket), Some(key)).q("uploadId", upload_id);
        self.send(req, None).await?;
        Ok(())
    }

    /// GetBucketEncryption; `None` when the bucket has none.
    pub async fn get_bucket_encryption(&self, bucket: &str) -> Result<Option<EncryptionRule>> {
        let req = Req::new(Method::GET, Some(bucket), None).q("encryption", "");
        match self.text(req, None).await {
            Ok(text) => {
                let x: EncryptionXml = xml(&text, "GetBucketEncryption")?;
                Ok(Some(x.apply_server_side_encryption_by_default))
            }
            Err(e)
                if e.downcast_ref::<crate::client::OssError>()
                    .is_some_and(|o| o.code == "NoSuchServerSideEncryptionRule") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// PutBucketEncryption.
    pub async fn put_bucket_encryption(&self, bucket: &str, rule: &EncryptionRule) -> Result<()> {
        let body = quick_xml::se::to_string(&EncryptionXml {
            apply_server_side_encryption_by_default: rule.clone(),
        })?;
        let req = Req::new(Method::PUT, Some(bucket), None)
            .q("encryption", "")
            .h("content-type", "application/xml");
        self.text(req, Some(Bytes::from(body))).await?;
        Ok(())
    }
}

/// The facts of a HEAD or GET answer.
pub fn object_info(resp: &reqwest::Response) -> ObjectInfo {
    let h = |n: &str| header(resp, n);
    ObjectInfo {
        size: h("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        etag: h("etag").unwrap_or_default().trim_matches('"').to_owned(),
        last_modified: h("last-modified").unwrap_or_default(),
        crc64: h("x-oss-hash-crc64ecma").and_then(|v| v.parse().ok()),
        sse: h("x-oss-server-side-encryption"),
        kms_key_id: h("x-oss-server-side-encryption-key-id"),
        sse_data: h("x-oss-server-side-data-encryption"),
        content_type: h("content-type"),
        headers: resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    }
}
