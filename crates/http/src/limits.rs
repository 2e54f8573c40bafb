//! The process's open-file limit.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard one (each connection is a descriptor) and
/// returns the soft limit now in force, if it is finite.
pub(crate) fn raise_nofile() -> Option<u64> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let before = limit.current;
        limit.current = limit.maximum;
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => tracing::debug!(?before, now = ?limit.maximum, "raised the open-file limit"),
            Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
        }
    }
    getrlimit(Resource::Nofile).current
}
