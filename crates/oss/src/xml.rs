//! XML bodies: a small writer for responses and typed parsers for request bodies.

use quick_xml::escape::escape;
use serde::Deserialize;

use crate::error::OssError;

/// Builds an XML document with the prolog OSS sends.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// Starts a document whose root element is `root`.
    pub fn new(root: &str) -> Self {
        let mut buf = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        buf.push('<');
        buf.push_str(root);
        buf.push('>');
        Self { buf }
    }

    /// Opens a child element.
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Closes an element.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Writes `<tag>text</tag>` with the text escaped.
    pub fn elem(&mut self, tag: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text.as_ref()));
        self.close(tag)
    }

    /// Writes the element only when `text` is `Some`.
    pub fn elem_opt(&mut self, tag: &str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    /// Closes the root and returns the document.
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.buf
    }
}

/// Largest XML request body accepted, in bytes (DeleteMultipleObjects allows 2 MB; a
/// CompleteMultipartUpload list of 10000 parts fits too).
pub const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// Deepest element nesting accepted in a request body. The deepest document OSS defines here is
/// three levels (`ServerSideEncryptionRule/ApplyServerSideEncryptionByDefault/SSEAlgorithm`);
/// anything far deeper is not one of them, and serde would otherwise skip it silently (a
/// DeleteMultipleObjects body nested 100 000 deep read as an empty, successful delete).
const MAX_XML_DEPTH: usize = 16;

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8], root: &str) -> Result<T, OssError> {
    let text = std::str::from_utf8(body).map_err(|_| OssError::malformed_xml("not UTF-8"))?;
    // serde ignores the root element's name; OSS does not.
    let found = check_shape(text)?;
    if found != root {
        return Err(OssError::malformed_xml(format!(
            "the root element must be {root}, not {found}"
        )));
    }
    quick_xml::de::from_str(text).map_err(OssError::malformed_xml)
}

/// Reads the whole document once: well-formed, at most [`MAX_XML_DEPTH`] deep; returns the root
/// element's name.
fn check_shape(text: &str) -> Result<String, OssError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut root = None;
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(OssError::malformed_xml)?;
        match event {
            Event::Start(e) | Event::Empty(e) if depth == 0 && root.is_some() => {
                let name = e.name().into_inner().to_owned();
                return Err(OssError::malformed_xml(format!(
                    "a second root element {name} follows the first"
                )));
            }
            Event::Start(e) => {
                root.get_or_insert_with(|| e.name().into_inner().to_owned());
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(OssError::malformed_xml(format!(
                        "elements are nested more than {MAX_XML_DEPTH} deep"
                    )));
                }
            }
            Event::Empty(e) => {
                root.get_or_insert_with(|| e.name().into_inner().to_owned());
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(OssError::malformed_xml(
            "the document ends inside an element",
        ));
    }
    root.ok_or_else(|| OssError::malformed_xml("no root element"))
}

/// `<CompleteMultipartUpload>` request body.
#[derive(Debug, Deserialize)]
pub struct CompleteMultipartUpload {
    /// The parts.
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletePartXml>,
}

/// One `<Part>`.
#[derive(Debug, Deserialize)]
pub struct CompletePartXml {
    /// `<PartNumber>`.
    #[serde(rename = "PartNumber")]
    pub part_number: String,
    /// `<ETag>`.
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// Parses a CompleteMultipartUpload body.
pub fn parse_complete(body: &[u8]) -> Result<CompleteMultipartUpload, OssError> {
    parse(body, "CompleteMultipartUpload")
}

/// `<Delete>` request body.
#[derive(Debug, Deserialize)]
pub struct Delete {
    /// `<Quiet>`.
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<String>,
    /// The objects.
    #[serde(rename = "Object", default)]
    pub objects: Vec<DeleteObjectXml>,
}

/// One `<Object>`.
#[derive(Debug, Deserialize)]
pub struct DeleteObjectXml {
    /// `<Key>`.
    #[serde(rename = "Key")]
    pub key: String,
}

/// Parses a DeleteMultipleObjects body.
pub fn parse_delete(body: &[u8]) -> Result<Delete, OssError> {
    parse(body, "Delete")
}

/// `<CreateBucketConfiguration>` request body.
#[derive(Debug, Deserialize)]
pub struct CreateBucketConfiguration {
    /// `<StorageClass>`.
    #[serde(rename = "StorageClass", default)]
    pub storage_class: Option<String>,
    /// `<DataRedundancyType>` (recorded nowhere; accepted for compatibility).
    #[serde(rename = "DataRedundancyType", default)]
    pub data_redundancy_type: Option<String>,
}

/// Parses a PutBucket body.
pub fn parse_create_bucket(body: &[u8]) -> Result<CreateBucketConfiguration, OssError> {
    parse(body, "CreateBucketConfiguration")
}

/// `<ServerSideEncryptionRule>` request body of PutBucketEncryption.
#[derive(Debug, Deserialize)]
pub struct ServerSideEncryptionRule {
    /// `<ApplyServerSideEncryptionByDefault>`.
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    pub default: Option<ApplyServerSideEncryptionByDefault>,
}

/// The default-encryption element.
#[derive(Debug, Deserialize)]
pub struct ApplyServerSideEncryptionByDefault {
    /// `<SSEAlgorithm>`: AES256, KMS or SM4.
    #[serde(rename = "SSEAlgorithm", default)]
    pub algorithm: Option<String>,
    /// `<KMSMasterKeyID>`: KMS only.
    #[serde(rename = "KMSMasterKeyID", default)]
    pub kms_master_key_id: Option<String>,
    /// `<KMSDataEncryption>`: KMS only, SM4.
    #[serde(rename = "KMSDataEncryption", default)]
    pub kms_data_encryption: Option<String>,
}

/// Parses a PutBucketEncryption body.
pub fn parse_encryption_rule(body: &[u8]) -> Result<ServerSideEncryptionRule, OssError> {
    parse(body, "ServerSideEncryptionRule")
}

/// `<Tagging>` request body of PutObjectTagging.
#[derive(Debug, Deserialize)]
pub struct Tagging {
    /// `<TagSet>`.
    #[serde(rename = "TagSet")]
    pub tag_set: Option<TagSet>,
}

/// `<TagSet>`.
#[derive(Debug, Deserialize)]
pub struct TagSet {
    /// The tags.
    #[serde(rename = "Tag", default)]
    pub tags: Vec<TagXml>,
}

/// One `<Tag>`.
#[derive(Debug, Deserialize)]
pub struct TagXml {
    /// `<Key>`.
    #[serde(rename = "Key")]
    pub key: String,
    /// `<Value>` (absent: empty).
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// Parses a PutObjectTagging body.
pub fn parse_tagging(body: &[u8]) -> Result<Tagging, OssError> {
    parse(body, "Tagging")
}

/// `<CORSConfiguration>` request body of PutBucketCors.
#[derive(Debug, Deserialize)]
pub struct CorsConfiguration {
    /// The rules.
    #[serde(rename = "CORSRule", default)]
    pub rules: Vec<CorsRuleXml>,
    /// `<ResponseVary>`: `true` or `false`.
    #[serde(rename = "ResponseVary", default)]
    pub response_vary: Option<String>,
}

/// One `<CORSRule>`.
#[derive(Debug, Deserialize)]
pub struct CorsRuleXml {
    /// `<AllowedOrigin>`s.
    #[serde(rename = "AllowedOrigin", default)]
    pub allowed_origins: Vec<String>,
    /// `<AllowedMethod>`s.
    #[serde(rename = "AllowedMethod", default)]
    pub allowed_methods: Vec<String>,
    /// `<AllowedHeader>`s.
    #[serde(rename = "AllowedHeader", default)]
    pub allowed_headers: Vec<String>,
    /// `<ExposeHeader>`s.
    #[serde(rename = "ExposeHeader", default)]
    pub expose_headers: Vec<String>,
    /// `<MaxAgeSeconds>`, as text (validated by the handler).
    #[serde(rename = "MaxAgeSeconds", default)]
    pub max_age_seconds: Option<String>,
}

/// Parses a PutBucketCors body.
pub fn parse_cors(body: &[u8]) -> Result<CorsConfiguration, OssError> {
    parse(body, "CORSConfiguration")
}

/// `<LifecycleConfiguration>` request body of PutBucketLifecycle.
#[derive(Debug, Deserialize)]
pub struct LifecycleConfiguration {
    /// The rules.
    #[serde(rename = "Rule", default)]
    pub rules: Vec<LifecycleRuleXml>,
}

/// One `<Rule>`.
#[derive(Debug, Deserialize)]
pub struct LifecycleRuleXml {
    /// `<ID>`.
    #[serde(rename = "ID", default)]
    pub id: Option<String>,
    /// `<Prefix>`.
    #[serde(rename = "Prefix", default)]
    pub prefix: Option<String>,
    /// `<Status>`: `Enabled` or `Disabled`.
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
    /// `<Tag>`s the objects must carry.
    #[serde(rename = "Tag", default)]
    pub tags: Vec<TagXml>,
    /// `<Expiration>`.
    #[serde(rename = "Expiration", default)]
    pub expiration: Option<LifecycleAgeXml>,
    /// `<AbortMultipartUpload>`.
    #[serde(rename = "AbortMultipartUpload", default)]
    pub abort_multipart_upload: Option<LifecycleAgeXml>,
    /// `<Transition>`: storage-class transitions (not served; their presence is refused).
    #[serde(rename = "Transition", default)]
    pub transitions: Vec<serde::de::IgnoredAny>,
}

/// `<Days>` or `<CreatedBeforeDate>` of an action, as text (validated by the handler).
#[derive(Debug, Deserialize)]
pub struct LifecycleAgeXml {
    /// `<Days>`.
    #[serde(rename = "Days", default)]
    pub days: Option<String>,
    /// `<CreatedBeforeDate>`, e.g. `2024-01-01T00:00:00.000Z`.
    #[serde(rename = "CreatedBeforeDate", default)]
    pub created_before_date: Option<String>,
    /// `<ExpiredObjectDeleteMarker>` (versioning only; not served).
    #[serde(rename = "ExpiredObjectDeleteMarker", default)]
    pub expired_object_delete_marker: Option<String>,
}

/// Parses a PutBucketLifecycle body.
pub fn parse_lifecycle(body: &[u8]) -> Result<LifecycleConfiguration, OssError> {
    parse(body, "LifecycleConfiguration")
}

/// Parses arbitrary bytes as every request body type; never panics (fuzz and proptest target).
pub fn parse_any(body: &[u8]) {
    let _ = parse_complete(body);
    let _ = parse_delete(body);
    let _ = parse_create_bucket(body);
    let _ = parse_encryption_rule(body);
    let _ = parse_tagging(body);
    let _ = parse_cors(body);
    let _ = parse_lifecycle(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_bodies() {
        let c = parse_complete(
            br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"AB"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>CD</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(c.parts.len(), 2);
        assert_eq!(c.parts[0].etag, "\"AB\"");
        let d = parse_delete(
            br#"<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object></Delete>"#,
        )
        .unwrap();
        assert_eq!(d.quiet.as_deref(), Some("true"));
        assert_eq!(d.objects[1].key, "b&c");
        assert!(parse_delete(b"<Delete><Object><Key>a</Key>").is_err());
        assert!(parse_complete(b"not xml").is_err());
        assert!(parse_delete(b"<Wrong><Object><Key>a</Key></Object></Wrong>").is_err());
    }

    #[test]
    fn deeply_nested_or_unclosed_bodies_are_malformed() {
        let deep = format!(
            "<Delete>{}{}</Delete>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        );
        let e = parse_delete(deep.as_bytes()).unwrap_err();
        assert_eq!(e.code.code, "MalformedXML");
        let e = parse_delete(b"<Delete><Object><Key>a</Key></Object>").unwrap_err();
        assert_eq!(e.code.code, "MalformedXML");
        // Depth within the limit still parses.
        let ok =
            parse_delete(b"<Delete><Object><Key>a</Key><X><Y/></X></Object></Delete>").unwrap();
        assert_eq!(ok.objects.len(), 1);
    }

    #[test]
    fn parses_cors_and_lifecycle_bodies() {
        let c = parse_cors(
            b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>100</MaxAgeSeconds></CORSRule><ResponseVary>true</ResponseVary></CORSConfiguration>",
        )
        .unwrap();
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.rules[0].allowed_methods, ["PUT", "GET"]);
        assert_eq!(c.rules[0].max_age_seconds.as_deref(), Some("100"));
        assert_eq!(c.response_vary.as_deref(), Some("true"));
        assert!(parse_cors(b"<CORS/>").is_err());
        let l = parse_lifecycle(
            b"<LifecycleConfiguration><Rule><ID>r</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Tag><Key>a</Key><Value>1</Value></Tag><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>",
        )
        .unwrap();
        assert_eq!(l.rules[0].tags[0].key, "a");
        assert_eq!(
            l.rules[0].expiration.as_ref().unwrap().days.as_deref(),
            Some("3")
        );
    }

    #[test]
    fn parses_tagging_bodies() {
        let t = parse_tagging(
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key></Tag></TagSet></Tagging>",
        )
        .unwrap();
        let tags = t.tag_set.unwrap().tags;
        assert_eq!((tags[0].key.as_str(), tags[0].value.as_str()), ("a", "1"));
        assert_eq!((tags[1].key.as_str(), tags[1].value.as_str()), ("b", ""));
        assert!(parse_tagging(b"<Tagging><TagSet></TagSet></Tagging>").is_ok());
        assert!(
            parse_tagging(b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>")
                .is_err()
        );
        assert!(parse_tagging(b"<Tags><TagSet/></Tags>").is_err());
    }

    #[test]
    fn writer_escapes_text() {
        let mut w = XmlWriter::new("R");
        w.elem("Key", "a<b&c");
        assert_eq!(
            w.finish("R"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R><Key>a&lt;b&amp;c</Key></R>"
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512)) {
            parse_any(&body);
        }
    }
}
