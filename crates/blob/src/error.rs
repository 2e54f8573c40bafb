//! Errors of the blob layer.

/// What went wrong in a blob operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// There is no committed blob with this id.
    #[error("blob not found")]
    NotFound,
    /// The backend failed (disk full, I/O error, ...).
    #[error("blob store I/O failure")]
    Io(#[from] std::io::Error),
}

/// Result of a blob operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
