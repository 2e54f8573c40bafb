//! How an object is encrypted, how one is asked to be, and when the two agree.

/// An encryption method, named as the `x-oss-server-side-encryption` header names it
/// (Alibaba Cloud's "Server-side encryption" documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// Not encrypted (no header).
    None,
    /// SSE-OSS with AES-256.
    Aes256,
    /// SSE-OSS with SM4.
    Sm4,
    /// SSE-KMS.
    Kms,
    /// SSE-C: encrypted under a key the client holds (a rewrite needs that key).
    Customer,
    /// A method this engine does not know, as the server named it: never as asked.
    Other(String),
}

impl Algorithm {
    /// The method from the value of an `x-oss-server-side-encryption` header (`None` when the
    /// header is absent).
    #[must_use]
    pub fn from_header(value: Option<&str>) -> Self {
        match value {
            None | Some("") => Algorithm::None,
            Some("AES256") => Algorithm::Aes256,
            Some("SM4") => Algorithm::Sm4,
            Some("KMS") => Algorithm::Kms,
            Some(other) => Algorithm::Other(other.to_owned()),
        }
    }

    /// The header's value for this method; `None` for no encryption.
    #[must_use]
    pub fn header_value(&self) -> Option<&str> {
        match self {
            Algorithm::None => None,
            Algorithm::Aes256 => Some("AES256"),
            Algorithm::Sm4 => Some("SM4"),
            Algorithm::Kms => Some("KMS"),
            Algorithm::Customer => Some("SSE-C"),
            Algorithm::Other(name) => Some(name),
        }
    }
}

/// How an object is encrypted, or how it is asked to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// The method.
    pub algorithm: Algorithm,
    /// The CMK, for KMS. Of an object: the key id its data key was made under. Of a wish:
    /// `None` asks for KMS under any CMK (see [`is_already_as_asked`]).
    pub kms_key_id: Option<String>,
    /// For KMS: the data is encrypted with SM4 (`x-oss-server-side-data-encryption: SM4`)
    /// rather than AES-256.
    pub kms_data_sm4: bool,
}

impl Encryption {
    /// No encryption.
    #[must_use]
    pub fn none() -> Self {
        Self::new(Algorithm::None)
    }

    /// `algorithm` with no CMK named and AES-256 data.
    #[must_use]
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            kms_key_id: None,
            kms_data_sm4: false,
        }
    }
}

/// Whether an object encrypted as `current` is already encrypted as `wanted` asks, so that
/// rewriting it would change nothing asked for.
///
/// The methods must be the same. For KMS the data cipher must be the same too, and a CMK named
/// in `wanted` must be the object's; `wanted` naming no CMK accepts any. That last point is
/// where the console's and the CLI's rules used to differ: the console asked the object to name
/// no CMK either, but an SSE-KMS object always records the CMK its data key was made under
/// (the default key's own id when the request named none), so under that rule no SSE-KMS
/// object ever counted as done and every run rewrote them all again. Neither front-end knows
/// the default key's id without asking the KMS, so "KMS, default key" is read as "KMS, any
/// CMK"; to move objects onto one CMK, name it.
///
/// A CMK is compared as written: an alias in `wanted` never equals the key id an object
/// records, so such objects are rewritten each time.
#[must_use]
pub fn is_already_as_asked(current: &Encryption, wanted: &Encryption) -> bool {
    if current.algorithm != wanted.algorithm {
        return false;
    }
    if wanted.algorithm != Algorithm::Kms {
        return true;
    }
    current.kms_data_sm4 == wanted.kms_data_sm4
        && wanted
            .kms_key_id
            .as_deref()
            .is_none_or(|k| current.kms_key_id.as_deref() == Some(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(algorithm: Algorithm, key: Option<&str>, sm4: bool) -> Encryption {
        Encryption {
            algorithm,
            kms_key_id: key.map(str::to_owned),
            kms_data_sm4: sm4,
        }
    }

    fn check(current: Encryption, wanted: &Encryption, expected: bool) {
        assert_eq!(
            is_already_as_asked(&current, wanted),
            expected,
            "{current:?} as {wanted:?}"
        );
    }

    #[test]
    fn a_named_cmk_needs_that_cmk_and_the_same_data_cipher() {
        let k1 = enc(Algorithm::Kms, Some("k1"), false);
        check(enc(Algorithm::Kms, Some("k1"), false), &k1, true);
        check(enc(Algorithm::Kms, Some("k2"), false), &k1, false);
        check(enc(Algorithm::Kms, Some("k1"), true), &k1, false);
        check(enc(Algorithm::Kms, None, false), &k1, false);
        check(Encryption::none(), &k1, false);
        check(enc(Algorithm::Aes256, None, false), &k1, false);
        let k1_sm4 = enc(Algorithm::Kms, Some("k1"), true);
        check(enc(Algorithm::Kms, Some("k1"), true), &k1_sm4, true);
        check(enc(Algorithm::Kms, Some("k1"), false), &k1_sm4, false);
    }

    #[test]
    fn kms_naming_no_cmk_takes_any_cmk_but_not_another_data_cipher() {
        let any = enc(Algorithm::Kms, None, false);
        // What every SSE-KMS object records: the CMK its data key came from.
        check(
            enc(Algorithm::Kms, Some("default-key-id"), false),
            &any,
            true,
        );
        check(enc(Algorithm::Kms, None, false), &any, true);
        check(enc(Algorithm::Kms, Some("k"), true), &any, false);
        check(enc(Algorithm::Sm4, None, false), &any, false);
    }

    #[test]
    fn sse_oss_methods_compare_by_method_alone() {
        let sm4 = Encryption::new(Algorithm::Sm4);
        check(enc(Algorithm::Sm4, None, false), &sm4, true);
        check(enc(Algorithm::Aes256, None, false), &sm4, false);
        check(Encryption::none(), &sm4, false);
        check(enc(Algorithm::Customer, None, false), &sm4, false);
        check(enc(Algorithm::Other("X".into()), None, false), &sm4, false);
        check(Encryption::none(), &Encryption::none(), true);
        check(
            enc(Algorithm::Aes256, None, false),
            &Encryption::new(Algorithm::Aes256),
            true,
        );
    }

    #[test]
    fn header_values_round_trip() {
        for a in [
            Algorithm::None,
            Algorithm::Aes256,
            Algorithm::Sm4,
            Algorithm::Kms,
        ] {
            assert_eq!(Algorithm::from_header(a.header_value()), a);
        }
        assert_eq!(
            Algorithm::from_header(Some("RSA")),
            Algorithm::Other("RSA".into())
        );
    }
}
