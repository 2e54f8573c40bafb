//! What can go wrong talking to PostgreSQL, before it is mapped to the error of the trait served.

/// A failure of the database or of the pool in front of it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection string could not be parsed.
    #[error("invalid PostgreSQL connection string: {0}")]
    Config(#[source] tokio_postgres::Error),
    /// The pool could not be built or could not hand out a connection.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The database refused or failed a statement.
    #[error("PostgreSQL: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The database holds a schema newer than this build knows.
    #[error("the database schema is version {found}, newer than this build's {known}")]
    SchemaTooNew {
        /// The version stored.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}

impl Error {
    /// Whether the transaction that failed with this error may succeed when run again from the
    /// start: a serialization conflict or a deadlock, which the database resolves by aborting one
    /// of the transactions involved.
    pub(crate) fn is_retryable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            Error::Db(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(db) => Error::Db(db),
            other => Error::Pool(other.to_string()),
        }
    }
}
