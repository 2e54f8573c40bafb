//! Ranged reads: a stream of pieces cut at the points of a [`PieceGrid`], each read with a
//! positioned read on a blocking thread into a buffer that is not zeroed first, with one piece read
//! ahead.

use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use coffer_blob::{ByteStream, PieceGrid};
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::join_error;

struct ReadState {
    file: Arc<File>,
    /// Offset of the first byte not yet asked of a blocking thread.
    next: u64,
    end: u64,
    grid: PieceGrid,
    /// The piece being read ahead while the consumer handles the previous one.
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    failed: bool,
}

impl ReadState {
    fn start_next(&mut self) -> Option<JoinHandle<io::Result<Bytes>>> {
        if self.next >= self.end {
            return None;
        }
        let offset = self.next;
        let piece_end = self.grid.piece_end(offset, self.end);
        self.next = piece_end;
        let file = Arc::clone(&self.file);
        Some(tokio::task::spawn_blocking(move || {
            let len = usize::try_from(piece_end - offset)
                .map_err(|_| io::Error::other("a piece does not fit in memory"))?;
            read_exact_at(&file, len, offset)
        }))
    }
}

/// Reads `len` bytes at `offset` into a new buffer that is never zeroed first (the read fills it;
/// zeroing 1 MiB costs about as much as reading it from the page cache). A committed blob never
/// shrinks, so reaching its end early means it was damaged: that is `UnexpectedEof`, never a short
/// piece.
fn read_exact_at(file: &File, len: usize, offset: u64) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The allocator may have given more capacity than asked, and the read may have filled it.
    buf.truncate(len);
    Ok(Bytes::from(buf))
}

/// Streams `start..end` of `file` in pieces cut at the points of `grid`; the caller has cut the
/// range to the file's length.
pub(crate) fn stream_range(file: File, start: u64, end: u64, grid: PieceGrid) -> ByteStream {
    let state = ReadState {
        file: Arc::new(file),
        next: start,
        end,
        grid,
        pending: None,
        failed: false,
    };
    // Fused: a consumer polling again after the end gets the end again, not a panic.
    Box::pin(
        futures::stream::unfold(state, |mut state| async move {
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
        })
        .fuse(),
    )
}

/// Opens a committed blob and returns it with its length.
pub(crate) fn open(path: &std::path::Path) -> Result<(File, u64), coffer_blob::Error> {
    let file = File::open(path).map_err(crate::not_found_or_io)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}
