//! Ranged reads: a stream of chunks of at most [`CHUNK_LEN`] bytes, each read with a positioned
//! read on a blocking thread, with one chunk read ahead.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use coffer_blob::{ByteStream, Result};
use tokio::task::JoinHandle;

use crate::join_error;

/// The most bytes one chunk of a read stream holds. With one chunk read ahead, a stream holds at
/// most twice this much, whatever the range's length.
pub(crate) const CHUNK_LEN: u64 = 1 << 20;

struct ReadState {
    file: Arc<File>,
    /// Offset of the first byte not yet asked of a blocking thread.
    next: u64,
    end: u64,
    /// The chunk being read ahead while the consumer handles the previous one.
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    failed: bool,
}

impl ReadState {
    fn start_next(&mut self) -> Option<JoinHandle<io::Result<Bytes>>> {
        if self.next >= self.end {
            return None;
        }
        let offset = self.next;
        let len = (self.end - offset).min(CHUNK_LEN);
        self.next += len;
        let file = Arc::clone(&self.file);
        Some(tokio::task::spawn_blocking(move || {
            let len = usize::try_from(len).expect("a chunk length fits in usize");
            let mut buf = vec![0; len];
            // A committed blob never shrinks, so hitting its end early means it was damaged:
            // read_exact_at fails with UnexpectedEof rather than return a short body.
            file.read_exact_at(&mut buf, offset)?;
            Ok(Bytes::from(buf))
        }))
    }
}

/// Streams `start..end` of `file`; the caller has cut the range to the file's length.
pub(crate) fn stream_range(file: File, start: u64, end: u64) -> ByteStream {
    let state = ReadState {
        file: Arc::new(file),
        next: start,
        end,
        pending: None,
        failed: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        if state.failed {
            return None;
        }
        let handle = match state.pending.take() {
            Some(handle) => handle,
            None => state.start_next()?,
        };
        match handle.await {
            Ok(Ok(chunk)) => {
                state.pending = state.start_next();
                Some((Ok(chunk), state))
            }
            Ok(Err(e)) => {
                state.failed = true;
                Some((Err(e.into()), state))
            }
            Err(e) => {
                state.failed = true;
                Some((Err(join_error(e)), state))
            }
        }
    }))
}

/// Opens a committed blob and returns it with its length.
pub(crate) fn open(path: &std::path::Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(crate::not_found_or_io)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}
