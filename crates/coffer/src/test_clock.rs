//! A KMS clock that tests can move forward (feature `testing` only): the wall clock plus a number
//! of seconds read from a file on every call, so a test can show that a CMK's deletion window ends
//! and its objects become unrecoverable without waiting seven days.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub(crate) struct FileOffsetClock {
    path: PathBuf,
}

impl FileOffsetClock {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl coffer_kms::Clock for FileOffsetClock {
    fn now(&self) -> SystemTime {
        let offset = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        SystemTime::now() + Duration::from_secs(offset)
    }
}
