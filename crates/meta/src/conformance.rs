//! The behaviour every [`crate::MetaStore`] backend must show. A backend's tests call [`run_all`].
