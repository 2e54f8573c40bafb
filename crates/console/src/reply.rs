//! The console's responses: HTML pages, redirects, assets and downloads, each with the security
//! headers every console response carries.

use std::io;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

/// The response body: a buffer or a stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A response under construction.
pub(crate) struct Reply {
    pub(crate) response: Response<Body>,
}

/// Scripts and styles only from the console itself (no inline code), no framing, forms only to
/// the console: what makes an injected tag inert even if escaping ever failed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl Reply {
    fn new(status: StatusCode, content_type: &'static str, body: Body) -> Self {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Self { response }
    }

    /// An HTML page.
    pub(crate) fn html(status: StatusCode, page: String) -> Self {
        Self::new(status, "text/html; charset=utf-8", full(page))
    }

    /// A JSON answer for the page's scripts (uploads).
    pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", full(value.to_string()))
    }

    /// See Other: where a form's action lands (post/redirect/get).
    pub(crate) fn redirect(to: &str) -> Self {
        let mut r = Self::new(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", full(""));
        if let Ok(v) = HeaderValue::from_str(to) {
            r.response.headers_mut().insert(header::LOCATION, v);
        }
        r
    }

    /// An embedded asset, cacheable for a while.
    pub(crate) fn asset(content_type: &'static str, bytes: &'static [u8]) -> Self {
        let mut r = Self::new(
            StatusCode::OK,
            content_type,
            full(Bytes::from_static(bytes)),
        );
        r.response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=300"),
        );
        r
    }

    /// A download: the object's bytes as an attachment.
    pub(crate) fn download(body: Body, len: u64, filename: &str, content_type: &str) -> Self {
        let mut r = Self::new(StatusCode::OK, "application/octet-stream", body);
        let h = r.response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        // RFC 6266: an ASCII fallback and the UTF-8 name.
        let ascii: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let encoded =
            percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        r
    }

    /// Sets a header (a value that is not a valid header value is left out).
    pub(crate) fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.response.headers_mut().insert(name, v);
        }
        self
    }

    /// Adds a `Set-Cookie`.
    pub(crate) fn cookie(mut self, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.response.headers_mut().append(header::SET_COOKIE, v);
        }
        self
    }

    /// The response, with the headers every console response carries.
    pub(crate) fn finish(mut self) -> Response<Body> {
        let h = self.response.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        self.response
    }
}
