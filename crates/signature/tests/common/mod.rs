//! Owned requests for the integration tests, and the server's authentication path in one call.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use coffer_signature::{Credentials, Presented, Result, SignedRequest, detect, verify};
use coffer_types::AccessKeySecret;
use time::OffsetDateTime;
use time::macros::datetime;

pub(crate) const AK: &str = "example-ak";
pub(crate) const SECRET: &str = "example-secret-key";
pub(crate) const REGION: &str = "cn-hangzhou";
/// The time of the worked examples.
pub(crate) const NOW: OffsetDateTime = datetime!(2024-02-21 08:30:00 UTC);

pub(crate) fn secret() -> AccessKeySecret {
    AccessKeySecret::new(SECRET)
}

pub(crate) fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An owned request the tests can edit before borrowing it as a [`SignedRequest`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Req {
    pub(crate) fn new(method: &str, bucket: Option<&str>, key: Option<&str>) -> Self {
        Self {
            method: method.to_owned(),
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn query(mut self, q: &[(&str, &str)]) -> Self {
        self.query.extend(pairs(q));
        self
    }

    pub(crate) fn headers(mut self, h: &[(&str, &str)]) -> Self {
        self.headers.extend(pairs(h));
        self
    }

    pub(crate) fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            bucket: self.bucket.as_deref(),
            key: self.key.as_deref(),
            query: &self.query,
            headers: &self.headers,
        }
    }

    /// Sets each header, replacing any of the same name, as a client applies what the signing
    /// helpers return.
    pub(crate) fn set_headers(&mut self, set: Vec<(String, String)>) {
        for (name, value) in set {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            self.headers.push((name, value));
        }
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        self.set_headers(vec![(name.to_owned(), value.to_owned())]);
    }

    pub(crate) fn set_query(&mut self, name: &str, value: &str) {
        self.query.retain(|(n, _)| n != name);
        self.query.push((name.to_owned(), value.to_owned()));
    }

    pub(crate) fn detect(&self) -> Result<Option<Presented>> {
        detect(&self.signed())
    }

    /// What the server does: detect, then verify with the example secret at `now`.
    pub(crate) fn authenticate_at(&self, now: OffsetDateTime) -> Result<Presented> {
        let presented = detect(&self.signed())?.expect("request is signed");
        verify(&self.signed(), &presented, &secret(), now, REGION)?;
        Ok(presented)
    }

    pub(crate) fn authenticate(&self) -> Result<Presented> {
        self.authenticate_at(NOW)
    }
}

pub(crate) fn credentials(secret: &AccessKeySecret) -> Credentials<'_> {
    Credentials {
        access_key_id: AK,
        secret,
        security_token: None,
    }
}

/// The request of the V1 and V4 worked examples (computed for these tests and reproduced by
/// oss2's `Auth`/`AuthV4` and the v2 SDK's `SignerV1`/`SignerV4`), unsigned: PUT of
/// `docs/hello world.txt` with content headers and two `x-oss-*` headers, no date.
pub(crate) fn example_put() -> Req {
    Req::new("PUT", Some("examplebucket"), Some("docs/hello world.txt")).headers(&[
        ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
        ("content-type", "text/plain"),
        ("x-oss-meta-author", "alice"),
        ("x-oss-server-side-encryption", "KMS"),
    ])
}
