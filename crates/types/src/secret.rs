//! Secret wrappers: no `Debug` leak, zeroized on drop, constant-time comparison.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The secret half of an access key pair.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AccessKeySecret(Box<str>);

impl AccessKeySecret {
    /// Wraps a secret.
    pub fn new(s: impl Into<Box<str>>) -> Self {
        Self(s.into())
    }

    /// The secret itself; every use is a place to audit.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Constant-time equality, for comparing with a presented secret.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeySecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_secret() {
        let s = AccessKeySecret::new("very-secret-value");
        assert!(!format!("{s:?}").contains("very-secret"));
        assert!(s.ct_eq("very-secret-value"));
        assert!(!s.ct_eq("very-secret-valuX"));
    }
}
