//! The two request signatures of the KMS API, as pure functions over decoded parameters:
//! [`rpc`] (RPC v1, HMAC-SHA1, what `aliyun-python-sdk-core` and the Tea SDK's `v2` mode send) and
//! [`acs3`] (`ACS3-HMAC-SHA256`, the Tea SDK's default). The first is documented in Alibaba Cloud
//! KMS, "Request signatures"; the second follows the Tea SDK's `alibabacloud_openapi_util`.
//!
//! Both canonicalise with [`percent_encode`]: RFC 3986, upper-case hex, only `A-Z a-z 0-9 - _ . ~`
//! kept. Their known-answer tests use worked examples computed for them and vectors produced by
//! the SDKs' own signers (`testdata/signature_vectors.py` regenerates them).
//!
//! Nothing here looks up secrets, reads clocks or compares times: see `auth`.

pub(crate) mod acs3;
pub(crate) mod rpc;

/// Appends `s` percent-encoded by RFC 3986 rules: every byte of its UTF-8 form except the
/// unreserved characters becomes `%XX` (upper-case hex). A space is `%20`, never `+`.
pub(crate) fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// `name=value` pairs, each percent-encoded, sorted by name (then value) and joined with `&`.
fn canonical_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(name, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let mut out = String::new();
        percent_encode(input, &mut out);
        assert_eq!(out, expected, "{input}");
    }

    #[test]
    fn percent_encoding_is_rfc_3986() {
        check("AZaz09-_.~", "AZaz09-_.~");
        check("a b", "a%20b");
        check("*+/=&:%", "%2A%2B%2F%3D%26%3A%25");
        check("é中", "%C3%A9%E4%B8%AD");
        check("", "");
    }
}
