//! Sealing in iam: access key secrets at rest and STS session tokens, with the shared
//! [`coffer_crypto::Sealer`] under keys derived from the server's root key (domain `IamSecrets`
//! for the store, `StsTokens` for tokens; see `docs/format.md`).
//!
//! Secrets cannot be stored hashed: verifying an HMAC signature needs the secret itself. So each is
//! sealed, bound to its access key id, and opened only to verify a request.

use coffer_crypto::{RootKey, SealDomain};
use zeroize::Zeroizing;

/// What a sealed value is; part of its AAD so one kind can never be opened as another. Do not
/// renumber: stored values are bound to these numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A known constant sealed once per store, to recognise the wrong root key at open.
    RootCheck = 1,
    /// An access key secret, bound to its access key id.
    AccessKeySecret = 2,
    /// The claims of an STS session token.
    SessionToken = 3,
    /// The root account's secret in its credentials file, bound to the account and key id.
    RootSecret = 4,
}

/// iam's two sealers, chosen by purpose. Keeps only derived keys.
#[derive(Debug)]
pub(crate) struct Sealer {
    secrets: coffer_crypto::Sealer,
    tokens: coffer_crypto::Sealer,
}

impl Sealer {
    pub(crate) fn new(root: &RootKey) -> Self {
        Self {
            secrets: coffer_crypto::Sealer::new(root, SealDomain::IamSecrets),
            tokens: coffer_crypto::Sealer::new(root, SealDomain::StsTokens),
        }
    }

    fn of(&self, purpose: Purpose) -> &coffer_crypto::Sealer {
        match purpose {
            Purpose::RootCheck | Purpose::AccessKeySecret | Purpose::RootSecret => &self.secrets,
            Purpose::SessionToken => &self.tokens,
        }
    }

    /// Seals `plaintext`, bound to `purpose` and `binding`.
    pub(crate) fn seal(&self, purpose: Purpose, binding: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        self.of(purpose).seal(purpose as u8, binding, plaintext)
    }

    /// Opens a value sealed with the same purpose and binding; `None` if it does not authenticate
    /// (damaged, forged, another binding, or another root key).
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        binding: &[&[u8]],
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.of(purpose).open(purpose as u8, binding, sealed).ok()
    }
}

/// Seals the root account's secret for its credentials file (`DataDir::root_credentials`): the
/// file then reveals nothing without the root key, like every other secret in the data directory.
pub fn seal_root_secret(
    root: &RootKey,
    account_id: &str,
    access_key_id: &str,
    secret: &[u8],
) -> Vec<u8> {
    Sealer::new(root).seal(
        Purpose::RootSecret,
        &[account_id.as_bytes(), access_key_id.as_bytes()],
        secret,
    )
}

/// Opens what [`seal_root_secret`] sealed; `None` if it does not authenticate (another root key,
/// account or key id, or a damaged file).
pub fn open_root_secret(
    root: &RootKey,
    account_id: &str,
    access_key_id: &str,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    Sealer::new(root).open(
        Purpose::RootSecret,
        &[account_id.as_bytes(), access_key_id.as_bytes()],
        sealed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_secret_opens_only_for_its_account_and_key_id() {
        let root = RootKey::from_bytes([2; 32]);
        let sealed = seal_root_secret(&root, "1234", "LTAIroot", b"root-secret");
        let opened = open_root_secret(&root, "1234", "LTAIroot", &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"root-secret");
        assert!(open_root_secret(&root, "1235", "LTAIroot", &sealed).is_none());
        assert!(open_root_secret(&root, "1234", "LTAIother", &sealed).is_none());
        let other = RootKey::from_bytes([3; 32]);
        assert!(open_root_secret(&other, "1234", "LTAIroot", &sealed).is_none());
    }

    #[test]
    fn purposes_do_not_open_as_each_other() {
        let sealer = Sealer::new(&RootKey::from_bytes([1; 32]));
        let sealed = sealer.seal(Purpose::AccessKeySecret, &[b"LTAIx"], b"the-secret-value");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let opened = sealer.open(Purpose::AccessKeySecret, &[b"LTAIx"], &sealed);
        assert_eq!(opened.unwrap().as_slice(), b"the-secret-value");
        assert!(
            sealer
                .open(Purpose::AccessKeySecret, &[b"LTAIy"], &sealed)
                .is_none()
        );
        assert!(
            sealer
                .open(Purpose::SessionToken, &[b"LTAIx"], &sealed)
                .is_none()
        );
        assert!(
            sealer
                .open(Purpose::RootCheck, &[b"LTAIx"], &sealed)
                .is_none()
        );
        let other = Sealer::new(&RootKey::from_bytes([2; 32]));
        assert!(
            other
                .open(Purpose::AccessKeySecret, &[b"LTAIx"], &sealed)
                .is_none()
        );
    }

    /// A value sealed by the first release (iam's own format 1); new code must keep opening it.
    #[test]
    fn format_1_sealed_values_still_open() {
        const SEALED_V1: &str =
            "01e78c839bf5647181d877af5848e1cb3e5480945582b50187af578201c25362f240c2f4ecb2db4b7063";
        let sealer = Sealer::new(&RootKey::from_bytes([1; 32]));
        let sealed: Vec<u8> = (0..SEALED_V1.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&SEALED_V1[i..i + 2], 16).unwrap())
            .collect();
        let opened = sealer
            .open(Purpose::AccessKeySecret, &[b"LTAIgolden"], &sealed)
            .unwrap();
        assert_eq!(opened.as_slice(), b"golden-secret");
    }
}
