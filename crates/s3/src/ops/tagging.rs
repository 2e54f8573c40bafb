//! Object tagging (Amazon S3 API reference, "PutObjectTagging", "GetObjectTagging",
//! "DeleteObjectTagging"): the same tags the OSS API reads and writes, held to the limits core
//! shares with OSS ([`coffer_core::validate_tags`]) and to S3's own character rule. Writes that
//! create objects take their tags from `x-amz-tagging` ([`request_tags`]); GET and HEAD report
//! how many with `x-amz-tagging-count`.

use coffer_core::RequestContext;
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{bucket, key, read_xml};
use crate::error::{S3Error, codes};
use crate::server::{Parts, Reply, S3Service};
use crate::xml::Doc;

/// The request header giving a new object its tags (URL query form: `k1=v1&k2=v2`).
pub(crate) const X_AMZ_TAGGING: &str = "x-amz-tagging";
/// CopyObject: `COPY` (the source's tags, the default) or `REPLACE` (those of `x-amz-tagging`).
pub(crate) const X_AMZ_TAGGING_DIRECTIVE: &str = "x-amz-tagging-directive";
/// GET and HEAD: how many tags the object has (absent when none).
pub(crate) const X_AMZ_TAGGING_COUNT: &str = "x-amz-tagging-count";

/// Largest Tagging document read: ten tags of 128 + 256 characters fit well below it.
const MAX_TAGGING_XML: usize = 64 * 1024;

/// Characters S3 accepts in tag keys and values besides letters, digits and spaces (Amazon S3
/// user guide, "Categorizing your storage using tags", and the tag restrictions it refers to).
const TAG_PUNCTUATION: &str = "+-=._:/@";

/// The tags of `x-amz-tagging`, checked; none without the header. A key given twice is
/// `InvalidArgument` (the header's rule), the limits and characters `InvalidTag`.
pub(crate) fn request_tags(headers: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let Some(raw) = headers.get(X_AMZ_TAGGING) else {
        return Ok(Vec::new());
    };
    let bad = || {
        S3Error::invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query \
             parameters without tag name duplicates.",
        )
    };
    let raw = raw.to_str().map_err(|_| bad())?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if tags.iter().any(|(other, _)| *other == k) {
            return Err(bad());
        }
        tags.push((k, v));
    }
    check_tags(&tags)?;
    Ok(tags)
}

/// The limits (core's, the same as OSS's) and S3's character rule.
fn check_tags(tags: &[(String, String)]) -> Result<(), S3Error> {
    coffer_core::validate_tags(tags)?;
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || TAG_PUNCTUATION.contains(c))
    };
    for (k, v) in tags {
        if k.starts_with("aws:") {
            return Err(S3Error::new(
                codes::INVALID_TAG,
                "Your TagKey cannot be prefixed with aws:",
            ));
        }
        if !allowed(k) {
            return Err(S3Error::new(
                codes::INVALID_TAG,
                "The TagKey you have provided is invalid",
            ));
        }
        if !allowed(v) {
            return Err(S3Error::new(
                codes::INVALID_TAG,
                "The TagValue you have provided is invalid",
            ));
        }
    }
    Ok(())
}

/// CopyObject's tags: `None` keeps the source's (`COPY`, the default), `Some` replaces them.
pub(crate) fn copy_tags(p: &Parts) -> Result<Option<Vec<(String, String)>>, S3Error> {
    match p.header(X_AMZ_TAGGING_DIRECTIVE) {
        None | Some("COPY") => Ok(None),
        Some("REPLACE") => Ok(Some(request_tags(&p.headers)?)),
        Some(other) => Err(S3Error::invalid_argument(format!(
            "Unknown tagging directive: {other}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaggingDoc {
    tag_set: TagSetDoc,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagSetDoc {
    #[serde(default)]
    tag: Vec<TagDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagDoc {
    key: String,
    #[serde(default)]
    value: String,
}

/// Parses a PutObjectTagging body: `Tagging/TagSet/Tag*` with `Key` and `Value`.
fn parse_tagging(text: &str) -> Result<Vec<(String, String)>, S3Error> {
    let doc: TaggingDoc = quick_xml::de::from_str(text).map_err(|_| {
        S3Error::new(
            codes::MALFORMED_XML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    })?;
    Ok(doc
        .tag_set
        .tag
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

pub(super) async fn put(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let text = read_xml(p, body, MAX_TAGGING_XML).await?;
    let tags = parse_tagging(&text)?;
    check_tags(&tags)?;
    svc.store
        .put_object_tagging(ctx, g, bucket(p)?, key(p)?, tags)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let tags = svc
        .store
        .get_object_tagging(ctx, g, bucket(p)?, key(p)?)
        .await?;
    let mut doc = Doc::new("Tagging");
    doc.open("TagSet");
    for (k, v) in &tags {
        doc.open("Tag").text("Key", k).text("Value", v).close("Tag");
    }
    doc.close("TagSet");
    Ok(Reply::xml(doc.finish("Tagging")))
}

pub(super) async fn delete(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    svc.store
        .delete_object_tagging(ctx, g, bucket(p)?, key(p)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> Result<Vec<(String, String)>, &'static str> {
        let mut h = HeaderMap::new();
        h.insert(X_AMZ_TAGGING, value.parse().expect("test header"));
        request_tags(&h).map_err(|e| e.code.code)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_tagging_header_is_a_url_encoded_query() {
        assert_eq!(
            header("a=1&b%20c=d+e&empty="),
            Ok(pairs(&[("a", "1"), ("b c", "d e"), ("empty", "")]))
        );
        assert_eq!(header("k=%E5%80%A4"), Ok(pairs(&[("k", "値")])));
        assert_eq!(header(""), Ok(Vec::new()));
        assert_eq!(header("a=1&a=2"), Err("InvalidArgument"));
        assert_eq!(header("a=%FF"), Err("InvalidArgument"));
        assert_eq!(header("a=%23"), Err("InvalidTag"), "'#' is not allowed");
        assert_eq!(header("aws%3Ax=1"), Err("InvalidTag"));
        assert_eq!(header("k=v&"), Ok(pairs(&[("k", "v")])));
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(header(&eleven.join("&")), Err("InvalidTag"));
        assert_eq!(header(&format!("{}=v", "k".repeat(129))), Err("InvalidTag"));
    }

    #[test]
    fn tagging_documents_need_a_tag_set_and_keys() {
        let ok = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>\
                  <Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>";
        assert_eq!(
            parse_tagging(ok).map_err(|e| e.code.code),
            Ok(pairs(&[("a", "1"), ("b", "")]))
        );
        assert_eq!(
            parse_tagging("<Tagging><TagSet/></Tagging>").map_err(|e| e.code.code),
            Ok(Vec::new())
        );
        for bad in [
            "<Tagging></Tagging>",
            "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag>",
            "not xml",
        ] {
            assert_eq!(
                parse_tagging(bad).map(|_| ()).map_err(|e| e.code.code),
                Err("MalformedXML"),
                "{bad}"
            );
        }
    }
}
