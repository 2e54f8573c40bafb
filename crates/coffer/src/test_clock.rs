//! A KMS clock that tests can move forward (feature `testing` only): the wall clock plus a number
//! of seconds read from a file on every call, so a test can show that a CMK's deletion window ends
//! and its objects become unrecoverable without waiting seven days.

use std::path::PathBuf;
use std::time::Duration;

use coffer_types::Timestamp;

pub(crate) struct FileOffsetClock {
    path: PathBuf,
}

impl FileOffsetClock {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl coffer_types::Clock for FileOffsetClock {
    fn now(&self) -> Timestamp {
        let offset = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let now = Timestamp::now();
        now.checked_add(Duration::from_secs(offset)).unwrap_or(now)
    }
}
