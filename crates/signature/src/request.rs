//! The neutral description of a request that signatures cover, and lookups into it.

use crate::error::{Result, malformed};

pub(crate) const AUTHORIZATION: &str = "authorization";
pub(crate) const DATE: &str = "date";
pub(crate) const CONTENT_MD5: &str = "content-md5";
pub(crate) const CONTENT_TYPE: &str = "content-type";
pub(crate) const X_OSS_PREFIX: &str = "x-oss-";
pub(crate) const X_OSS_DATE: &str = "x-oss-date";
pub(crate) const X_OSS_CONTENT_SHA256: &str = "x-oss-content-sha256";
pub(crate) const X_OSS_SECURITY_TOKEN: &str = "x-oss-security-token";
/// The unsigned STS header the v2 SDK sends in V1 header mode.
pub(crate) const SECURITY_TOKEN_HEADER: &str = "security-token";

/// What a signature covers, as the router saw it; plain data, no HTTP types.
///
/// The same value serves the server (verifying) and coffer's own tools (signing), so both sides
/// canonicalise through one code path. It deliberately has no `Debug`: it holds the
/// `Authorization` header and possibly presigned query parameters, which must not be logged.
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method as sent (`PUT`).
    pub method: &'a str,
    /// The bucket, resolved by the router from the Host header or the path; `None` for
    /// service-level requests such as ListBuckets.
    pub bucket: Option<&'a str>,
    /// The object key, percent-decoded once: raw UTF-8 (`docs/hello world.txt`). `None` (or an
    /// empty key) for bucket-level requests.
    pub key: Option<&'a str>,
    /// The query parameters, percent-decoded, in arrival order. A bare `k` and `k=` both have
    /// the value `""`; `+` stays a literal plus.
    pub query: &'a [(String, String)],
    /// The headers with lower-case names and values as sent. A name repeated among the signed
    /// headers makes verification fail as malformed, so the server must not merge duplicates.
    pub headers: &'a [(String, String)],
}

impl<'a> SignedRequest<'a> {
    /// The single value of header `name` (lower case); a repeated header is refused because
    /// the signature would cover one value while a handler might read another.
    pub(crate) fn header(&self, name: &str) -> Result<Option<&'a str>> {
        single(self.headers, |n| n.eq_ignore_ascii_case(name))
            .map_err(|()| malformed("a signed or authentication header is repeated"))
    }

    /// The single value of query parameter `name` (exact, case-sensitive).
    pub(crate) fn query_param(&self, name: &str) -> Result<Option<&'a str>> {
        single(self.query, |n| n == name)
            .map_err(|()| malformed("an authentication query parameter is repeated"))
    }

    pub(crate) fn has_query_param(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    /// Every header whose name satisfies `wanted`, names lower-cased, sorted by name; refuses
    /// repeated names for the reason given at [`Self::header`].
    pub(crate) fn signed_headers(
        &self,
        mut wanted: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(String, &'a str)>> {
        let mut out: Vec<(String, &'a str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .filter(|(n, _)| wanted(n))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        if out.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(malformed("a signed header is repeated"));
        }
        Ok(out)
    }

    /// The path a signature covers: `/`, `/<bucket>/` or `/<bucket>/<key>`, unencoded.
    pub(crate) fn resource_path(&self) -> Result<String> {
        match (self.bucket, self.key) {
            (None, None) => Ok("/".to_owned()),
            (None, Some(_)) => Err(malformed("an object key without a bucket")),
            (Some(bucket), key) => {
                let key = key.unwrap_or("");
                let mut path = String::with_capacity(bucket.len() + key.len() + 2);
                path.push('/');
                path.push_str(bucket);
                path.push('/');
                path.push_str(key);
                Ok(path)
            }
        }
    }
}

fn single(
    pairs: &[(String, String)],
    mut matches: impl FnMut(&str) -> bool,
) -> Result<Option<&str>, ()> {
    let mut found = None;
    for (n, v) in pairs {
        if matches(n) {
            if found.is_some() {
                return Err(());
            }
            found = Some(v.as_str());
        }
    }
    Ok(found)
}
