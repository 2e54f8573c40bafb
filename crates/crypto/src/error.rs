//! The one error type of `coffer-crypto`.

/// What went wrong, for the caller.
///
/// Every way a ciphertext, a header, a wrapped key, a key or a context can be wrong ends in the same
/// [`Error::Decrypt`]: an attacker who can submit blobs learns nothing from which check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed: a changed, truncated, reordered or spliced ciphertext, a changed header
    /// or wrapped key, the wrong data key or master key, or the wrong context. Deliberately opaque.
    #[error("decryption failed")]
    Decrypt,
    /// The caller passed something outside what the format allows (a chunk length out of bounds, a
    /// range past the end of the plaintext, a key of the wrong length). A bug in the caller, not an
    /// attack on stored data.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A primitive refused an operation that the format never asks of it (an input past AES-GCM's
    /// length limit, a counter past 2^64). Unreachable with the bounds this crate enforces.
    #[error("internal error in {what}")]
    Internal {
        /// The operation that failed.
        what: &'static str,
    },
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
