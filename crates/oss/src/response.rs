//! Building responses: bodies, object headers, times and the error document.

use std::io;

use base64::Engine;
use bytes::Bytes;
use coffer_core::{
    BodyStream, ObjectEncryption, ObjectRecord, ObjectType, SseAlgorithm, StorageClass, UnixMillis,
};
use futures::TryStreamExt;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use time::OffsetDateTime;

use crate::error::OssError;
use crate::headers::*;
use crate::xml::XmlWriter;

/// The response body type: empty, a buffer or a stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A streamed body. An error mid-body cuts the connection (the status is already sent), so it is
/// logged here, in the request's span: the request line alone would say it succeeded.
pub(crate) fn stream(body: BodyStream) -> Body {
    let span = tracing::Span::current();
    StreamBody::new(body.map_ok(Frame::data).inspect_err(move |e| {
        span.in_scope(|| tracing::error!(error = %e, "response body failed; connection cut"));
    }))
    .boxed_unsync()
}

/// A response under construction; header values that cannot be represented are dropped rather
/// than failing the request (they come from stored, already validated headers).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Body,
}

impl Reply {
    pub(crate) fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: empty(),
        }
    }

    pub(crate) fn xml(doc: String) -> Self {
        let mut r = Self::new(StatusCode::OK);
        r.header("content-type", "application/xml");
        r.body = full(doc);
        r
    }

    pub(crate) fn header(&mut self, name: &str, value: impl AsRef<str>) -> &mut Self {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            self.headers.push((n, v));
        }
        self
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(self.body);
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        for (n, v) in self.headers {
            h.append(n, v);
        }
        resp
    }
}

fn datetime(t: UnixMillis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.0.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2024-01-02T03:04:05.000Z`: the only XML time form oss2 accepts.
pub(crate) fn xml_time(t: UnixMillis) -> String {
    let d = datetime(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// RFC 1123 with a two-digit day, as `Last-Modified` needs.
pub(crate) fn http_time(t: UnixMillis) -> String {
    coffer_signature::format_rfc1123(datetime(t))
}

pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub(crate) fn object_type_name(t: ObjectType) -> &'static str {
    match t {
        ObjectType::Normal => "Normal",
        ObjectType::Multipart => "Multipart",
        ObjectType::Appendable => "Appendable",
    }
}

pub(crate) fn storage_class_name(c: StorageClass) -> &'static str {
    match c {
        StorageClass::Standard => "Standard",
        StorageClass::Ia => "IA",
        StorageClass::Archive => "Archive",
        StorageClass::ColdArchive => "ColdArchive",
        StorageClass::DeepColdArchive => "DeepColdArchive",
    }
}

/// The SSE headers OSS echoes for an encrypted object (the key id only for KMS; nothing else of
/// the envelope ever leaves the server).
pub(crate) fn encryption_headers(reply: &mut Reply, enc: Option<&ObjectEncryption>) {
    let Some(enc) = enc else { return };
    let method = match enc.algorithm {
        SseAlgorithm::Aes256 => "AES256",
        SseAlgorithm::Kms => "KMS",
        SseAlgorithm::Sm4 => "SM4",
        // Not served through OSS (the request carries no customer key); named for completeness.
        SseAlgorithm::SseC => "SSE-C",
    };
    reply.header(X_OSS_SERVER_SIDE_ENCRYPTION, method);
    if enc.algorithm == SseAlgorithm::Kms {
        if let Some(id) = &enc.kms_key_id {
            reply.header(X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID, id);
        }
        if enc.kms_data_sm4 {
            reply.header(X_OSS_SERVER_SIDE_DATA_ENCRYPTION, "SM4");
        }
    }
}

/// Headers describing an object on GET and HEAD.
pub(crate) fn object_headers(reply: &mut Reply, o: &ObjectRecord) {
    let content_type = if o.content_type.is_empty() {
        "application/octet-stream"
    } else {
        &o.content_type
    };
    reply
        .header("content-type", content_type)
        .header("etag", quoted(&o.etag))
        .header("last-modified", http_time(o.last_modified))
        .header("accept-ranges", "bytes")
        .header(X_OSS_OBJECT_TYPE, object_type_name(o.object_type))
        .header(X_OSS_STORAGE_CLASS, storage_class_name(o.storage_class))
        .header(X_OSS_HASH_CRC64ECMA, o.crc64.to_string());
    if o.object_type == ObjectType::Appendable {
        reply.header(X_OSS_NEXT_APPEND_POSITION, o.size.to_string());
    }
    if !o.tags.is_empty() {
        reply.header(X_OSS_TAGGING_COUNT, o.tags.len().to_string());
    }
    for (name, value) in &o.headers {
        reply.header(name, value);
    }
    for (name, value) in &o.user_meta {
        reply.header(&format!("{X_OSS_META_PREFIX}{name}"), value);
    }
    encryption_headers(reply, o.encryption.as_ref());
}

/// The error document and headers for `err`; HEAD responses carry the document base64-encoded
/// in `x-oss-err` instead of a body, so SDKs still learn the code.
pub(crate) fn error_reply(err: &OssError, request_id: &str, host: &str, is_head: bool) -> Reply {
    let mut reply = Reply::new(err.code.status);
    for (name, value) in &err.headers {
        reply.header(name, value);
    }
    if err.code.status == StatusCode::NOT_MODIFIED {
        return reply;
    }
    let mut w = XmlWriter::new("Error");
    w.elem("Code", err.code.code)
        .elem("Message", &err.message)
        .elem("RequestId", request_id)
        .elem("HostId", host);
    for (name, value) in &err.details {
        w.elem(name, value);
    }
    w.elem("EC", err.code.ec);
    let doc = w.finish("Error");
    reply.header(X_OSS_EC, err.code.ec);
    if is_head {
        reply.header(
            X_OSS_ERR,
            base64::engine::general_purpose::STANDARD.encode(doc.as_bytes()),
        );
    } else {
        reply.header("content-type", "application/xml");
        reply.body = full(doc);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_the_exact_forms_sdks_parse() {
        let t = UnixMillis(1_704_164_645_123); // 2024-01-02T03:04:05.123Z
        assert_eq!(xml_time(t), "2024-01-02T03:04:05.000Z");
        assert_eq!(http_time(t), "Tue, 02 Jan 2024 03:04:05 GMT");
    }
}
