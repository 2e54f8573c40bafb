//! The behaviour every [`crate::BlobStore`] backend must show. A backend's tests call [`run_all`].
