//! The behaviour every [`crate::BlobStore`] backend must show. A backend's tests call [`run_all`].
//!
//! Each function checks one guarantee of [`BlobStore`] or [`BlobWriter`] and panics with a message
//! naming it when the backend breaks it. The functions only add blobs of their own and delete what
//! they add, so they can run on a store that already holds data, but they assume nothing else uses
//! the store meanwhile (they compare listings before and after) and that no writer is alive (they
//! call [`BlobStore::sweep_temporary`], which is for startup only).
//!
//! Lengths are chosen to cross the 1 MiB boundaries backends like to buffer and read at.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;

use std::num::NonZeroU64;

use crate::{BlobId, BlobStore, BlobWriter, Error, PieceGrid, Result};

const MIB: usize = 1 << 20;

/// Runs every check of this module, in order, on one store.
pub async fn run_all(store: &dyn BlobStore) {
    write_in_many_chunks_reads_back_whole(store).await;
    ranges_read_exactly_their_bytes(store).await;
    reads_in_pieces_follow_the_grid(store).await;
    empty_blob_reads_back_empty(store).await;
    range_past_end_is_cut_at_end(store).await;
    range_at_or_past_end_is_empty(store).await;
    uncommitted_blob_is_not_readable(store).await;
    aborted_writer_leaves_nothing_listed(store).await;
    dropped_writer_leaves_nothing_listed(store).await;
    concurrent_writers_are_independent(store).await;
    missing_blob_is_not_found(store).await;
    delete_is_idempotent(store).await;
    list_shows_committed_blobs(store).await;
    len_is_the_committed_length(store).await;
    sweep_temporary_removes_leftovers_of_uncommitted_writers(store).await;
}

/// A blob written in many chunks of mixed sizes (empty, one byte, odd sizes, exactly 1 MiB, more
/// than 1 MiB) reads back whole, byte for byte; `commit` returns its length and the blob is
/// readable under the writer's id.
pub async fn write_in_many_chunks_reads_back_whole(store: &dyn BlobStore) {
    let data = pattern(3 * MIB + 12_345, 1);
    let id = put_in_chunks(store, &data, MIXED_CHUNKS).await;
    assert_eq!(
        read_all(store, &id, 0..data.len() as u64).await,
        data,
        "whole blob"
    );
    // One byte at a time would be slow; a few big chunk sizes are enough here.
    let id2 = put_in_chunks(store, &data, &[MIB]).await;
    assert_eq!(
        read_all(store, &id2, 0..data.len() as u64).await,
        data,
        "1 MiB chunks"
    );
    let id3 = put_in_chunks(store, &data, &[data.len()]).await;
    assert_eq!(
        read_all(store, &id3, 0..data.len() as u64).await,
        data,
        "one chunk"
    );
    for id in [id, id2, id3] {
        ok(store.delete(&id).await, "delete");
    }
}

/// Every range of a committed blob yields exactly the bytes at those offsets: at the start, at
/// the end, across 1 MiB boundaries, single bytes, and consecutive ranges that tile the blob.
pub async fn ranges_read_exactly_their_bytes(store: &dyn BlobStore) {
    let data = pattern(2 * MIB + 777, 2);
    let len = data.len() as u64;
    let id = put_in_chunks(store, &data, MIXED_CHUNKS).await;
    let m = MIB as u64;
    let ranges = [
        0..0,
        0..1,
        1..2,
        0..m,
        1..m + 1,
        m - 3..m + 5,
        m..2 * m,
        5..2 * m + 7,
        len - 1..len,
        len - 700..len,
        m + 1..m + 1,
    ];
    for range in ranges {
        let expected = &data[to_usize(range.start)..to_usize(range.end)];
        assert_eq!(
            read_all(store, &id, range.clone()).await,
            expected,
            "range {range:?}"
        );
    }
    // Consecutive ranges of an odd size put back together give the whole blob.
    let mut tiled = Vec::with_capacity(data.len());
    let mut start = 0;
    while start < len {
        let end = (start + 300_001).min(len);
        tiled.extend_from_slice(&read_all(store, &id, start..end).await);
        start = end;
    }
    assert_eq!(tiled, data, "tiled ranges");
    ok(store.delete(&id).await, "delete");
}

/// A read in pieces cuts the range at the grid's points (the first piece running from the range's
/// start to the first point past it, the last one ending at the range's end, cut at the blob's
/// end) and yields each piece as one item, in order.
pub async fn reads_in_pieces_follow_the_grid(store: &dyn BlobStore) {
    let data = pattern(3 * MIB + 999, 7);
    let len = data.len() as u64;
    let id = put_in_chunks(store, &data, MIXED_CHUNKS).await;
    let unit = NonZeroU64::new(65_552).unwrap_or(NonZeroU64::MIN);
    let mib = NonZeroU64::new(MIB as u64).unwrap_or(NonZeroU64::MIN);
    let cases = [
        (PieceGrid::new(76, unit), 0..len),
        (PieceGrid::new(76, unit.saturating_mul(unit)), 0..len),
        (PieceGrid::new(76 + 65_552, unit), 76 + 65_552..len),
        (PieceGrid::new(76, unit), 5..200_000),
        (PieceGrid::uniform(mib), 3..len + 10),
        (PieceGrid::new(76, unit), 9..9),
    ];
    for (grid, range) in cases {
        let stream = ok(
            store.read_in_pieces(&id, range.clone(), grid).await,
            "read_in_pieces",
        );
        let pieces: Vec<Bytes> = ok(stream.try_collect().await, "read_in_pieces stream");
        let end = range.end.min(len);
        let mut at = range.start.min(end);
        for piece in &pieces {
            let piece_end = grid.piece_end(at, end);
            assert_eq!(
                piece.len() as u64,
                piece_end - at,
                "{grid:?} {range:?}: piece at {at}"
            );
            assert!(
                piece[..] == data[to_usize(at)..to_usize(piece_end)],
                "{grid:?} {range:?}: bytes of the piece at {at}"
            );
            at = piece_end;
        }
        assert_eq!(at, end, "{grid:?} {range:?}: the pieces cover the range");
    }
    ok(store.delete(&id).await, "delete");
}

/// A blob with no bytes can be committed; it has length 0, is listed, and reads back empty.
pub async fn empty_blob_reads_back_empty(store: &dyn BlobStore) {
    let mut writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    ok(writer.write(Bytes::new()).await, "write of nothing");
    assert_eq!(ok(writer.commit().await, "commit"), 0, "commit length");
    assert_eq!(ok(store.len(&id).await, "len"), 0, "len");
    assert!(listed(store).await.contains(&id), "empty blob listed");
    assert!(read_all(store, &id, 0..0).await.is_empty(), "0..0");
    assert!(read_all(store, &id, 0..100).await.is_empty(), "0..100");
    ok(store.delete(&id).await, "delete");
}

/// A range whose end lies past the end of the blob is cut at the end: it yields the bytes from
/// its start to the end of the blob, without error.
pub async fn range_past_end_is_cut_at_end(store: &dyn BlobStore) {
    let data = pattern(MIB + 10, 3);
    let len = data.len() as u64;
    let id = put_in_chunks(store, &data, &[4096]).await;
    assert_eq!(read_all(store, &id, 0..len + 1).await, data, "0..len+1");
    assert_eq!(read_all(store, &id, 0..u64::MAX).await, data, "0..u64::MAX");
    assert_eq!(
        read_all(store, &id, 7..len + MIB as u64).await,
        &data[7..],
        "7..len+1MiB"
    );
    assert_eq!(
        read_all(store, &id, len - 1..u64::MAX).await,
        &data[data.len() - 1..]
    );
    ok(store.delete(&id).await, "delete");
}

/// A range starting at or past the end of the blob, or an empty range (`start >= end`), yields no
/// bytes and no error.
pub async fn range_at_or_past_end_is_empty(store: &dyn BlobStore) {
    let data = pattern(1000, 4);
    let len = data.len() as u64;
    let id = put_in_chunks(store, &data, &[1000]).await;
    let ranges = [
        len..len,
        len..len + 1,
        len..u64::MAX,
        len + 1..len + 2,
        // Reversed: start after end.
        Range { start: 10, end: 5 },
        500..500,
    ];
    for range in ranges {
        assert!(
            read_all(store, &id, range.clone()).await.is_empty(),
            "range {range:?}"
        );
    }
    ok(store.delete(&id).await, "delete");
}

/// Before `commit`, a blob is neither readable (`read` and `len` give `Error::NotFound`) nor
/// listed, however much was written; after `commit` it is all three.
pub async fn uncommitted_blob_is_not_readable(store: &dyn BlobStore) {
    let data = pattern(2 * MIB + 1, 5);
    let mut writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    assert_not_found(store, &id, "fresh writer").await;
    for chunk in data.chunks(MIB / 2) {
        ok(writer.write(Bytes::copy_from_slice(chunk)).await, "write");
        assert_not_found(store, &id, "written, not committed").await;
    }
    assert!(
        !listed(store).await.contains(&id),
        "uncommitted blob listed"
    );
    assert_eq!(ok(writer.commit().await, "commit"), data.len() as u64);
    assert_eq!(ok(store.len(&id).await, "len"), data.len() as u64);
    assert_eq!(read_all(store, &id, 0..u64::MAX).await, data);
    assert!(listed(store).await.contains(&id), "committed blob listed");
    ok(store.delete(&id).await, "delete");
}

/// An aborted writer leaves nothing readable or listed: the listing is the same as before it was
/// created.
pub async fn aborted_writer_leaves_nothing_listed(store: &dyn BlobStore) {
    let before = listed(store).await;
    let mut writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    ok(
        writer.write(Bytes::from(pattern(MIB + 3, 6))).await,
        "write",
    );
    writer.abort().await;
    assert_not_found(store, &id, "aborted").await;
    assert_eq!(listed(store).await, before, "listing after abort");

    // Aborting a writer that wrote nothing is fine too.
    let writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    writer.abort().await;
    assert_not_found(store, &id, "aborted empty").await;
    assert_eq!(listed(store).await, before, "listing after empty abort");
}

/// A writer dropped without `commit` or `abort` (a request cancelled mid-upload) leaves nothing
/// readable or listed.
pub async fn dropped_writer_leaves_nothing_listed(store: &dyn BlobStore) {
    let before = listed(store).await;
    let mut writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    ok(
        writer.write(Bytes::from(pattern(MIB / 2, 7))).await,
        "write",
    );
    ok(writer.write(Bytes::from(pattern(MIB, 8))).await, "write");
    drop(writer);
    assert_not_found(store, &id, "dropped").await;
    assert_eq!(listed(store).await, before, "listing after drop");
}

/// Writers alive at the same time get distinct ids, and interleaved writes to them end up in their
/// own blobs only.
pub async fn concurrent_writers_are_independent(store: &dyn BlobStore) {
    let a = pattern(MIB + 100, 9);
    let b = pattern(2 * MIB + 200, 10);
    let mut wa = ok(store.create().await, "create a");
    let mut wb = ok(store.create().await, "create b");
    assert_ne!(wa.id(), wb.id(), "two writers share an id");
    let (mut ca, mut cb) = (a.chunks(100_000), b.chunks(100_000));
    loop {
        let (next_a, next_b) = (ca.next(), cb.next());
        if next_a.is_none() && next_b.is_none() {
            break;
        }
        if let Some(chunk) = next_a {
            ok(wa.write(Bytes::copy_from_slice(chunk)).await, "write a");
        }
        if let Some(chunk) = next_b {
            ok(wb.write(Bytes::copy_from_slice(chunk)).await, "write b");
        }
    }
    let (ida, idb) = (wa.id().clone(), wb.id().clone());
    // Commit in the other order than creation.
    assert_eq!(ok(wb.commit().await, "commit b"), b.len() as u64);
    assert_eq!(ok(wa.commit().await, "commit a"), a.len() as u64);
    assert_eq!(read_all(store, &ida, 0..u64::MAX).await, a, "blob a");
    assert_eq!(read_all(store, &idb, 0..u64::MAX).await, b, "blob b");
    ok(store.delete(&ida).await, "delete a");
    ok(store.delete(&idb).await, "delete b");
}

/// `read` and `len` of an id that was never written give `Error::NotFound`.
pub async fn missing_blob_is_not_found(store: &dyn BlobStore) {
    assert_not_found(store, &BlobId::random(), "never written").await;
}

/// `delete` removes a blob (it is then neither readable nor listed) and succeeds again when the
/// blob is already gone or never existed.
pub async fn delete_is_idempotent(store: &dyn BlobStore) {
    let id = put_in_chunks(store, &pattern(10_000, 11), &[3000]).await;
    ok(store.delete(&id).await, "first delete");
    assert_not_found(store, &id, "deleted").await;
    assert!(!listed(store).await.contains(&id), "deleted blob listed");
    ok(store.delete(&id).await, "second delete");
    ok(
        store.delete(&BlobId::random()).await,
        "delete of a never-written id",
    );
}

/// `list` shows every committed blob exactly once, with a time between the writer's creation
/// and the end of its commit (give or take filesystem timestamp granularity), and stops showing
/// a blob once it is deleted.
pub async fn list_shows_committed_blobs(store: &dyn BlobStore) {
    // Filesystems keep coarse timestamps; this is a sanity check, not a clock test.
    let slack = Duration::from_secs(5);
    let before = SystemTime::now();
    let mut ids = Vec::new();
    for (i, len) in [0, 1, 5000, MIB + 1].into_iter().enumerate() {
        ids.push(put_in_chunks(store, &pattern(len, 20 + i as u64), &[65_536]).await);
    }
    let after = SystemTime::now();
    let listing = ok(store.list().await, "list");
    for id in &ids {
        let times: Vec<SystemTime> = listing
            .iter()
            .filter(|(listed, _)| listed == id)
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(times.len(), 1, "{id:?} listed {} times", times.len());
        assert!(
            times[0] + slack >= before && times[0] <= after + slack,
            "{id:?} listed with time {:?}, outside {before:?}..{after:?}",
            times[0]
        );
    }
    let (gone, kept) = ids.split_at(2);
    for id in gone {
        ok(store.delete(id).await, "delete");
    }
    let now_listed = listed(store).await;
    for id in gone {
        assert!(!now_listed.contains(id), "deleted {id:?} still listed");
    }
    for id in kept {
        assert!(now_listed.contains(id), "{id:?} no longer listed");
        ok(store.delete(id).await, "delete");
    }
}

/// `len` is the number of bytes committed, and agrees with `commit`'s return value.
pub async fn len_is_the_committed_length(store: &dyn BlobStore) {
    for (i, len) in [0, 1, MIB - 1, MIB, MIB + 1, 2 * MIB + 5]
        .into_iter()
        .enumerate()
    {
        let data = pattern(len, 30 + i as u64);
        let mut writer = ok(store.create().await, "create");
        let id = writer.id().clone();
        for chunk in data.chunks(200_000) {
            ok(writer.write(Bytes::copy_from_slice(chunk)).await, "write");
        }
        assert_eq!(
            ok(writer.commit().await, "commit"),
            len as u64,
            "commit of {len}"
        );
        assert_eq!(ok(store.len(&id).await, "len"), len as u64, "len of {len}");
        ok(store.delete(&id).await, "delete");
    }
}

/// Writers that vanish without running any cleanup (a crash, simulated with `std::mem::forget`)
/// leave at most temporary data, which `sweep_temporary` removes: a second sweep finds nothing,
/// nothing of theirs is readable or listed, and committed blobs are untouched.
///
/// How many items one sweep counts is the backend's business (a backend that keeps unfinished
/// writes only in memory has nothing to remove), so backends check the count in their own tests.
pub async fn sweep_temporary_removes_leftovers_of_uncommitted_writers(store: &dyn BlobStore) {
    // Start from a clean slate: earlier checks may have left temporary data by design.
    ok(store.sweep_temporary().await, "first sweep");
    let data = pattern(MIB + 1, 40);
    let kept = put_in_chunks(store, &data, &[MIB / 3]).await;
    let before = listed(store).await;

    let mut leftovers = Vec::new();
    for len in [0, 100, 3 * MIB] {
        let mut writer = ok(store.create().await, "create");
        leftovers.push(writer.id().clone());
        for chunk in pattern(len, 41).chunks(MIB / 2) {
            ok(writer.write(Bytes::copy_from_slice(chunk)).await, "write");
        }
        forget_writer(writer);
    }
    ok(store.sweep_temporary().await, "sweep after crash");
    assert_eq!(
        ok(store.sweep_temporary().await, "sweep again"),
        0,
        "second sweep found more"
    );
    for id in &leftovers {
        assert_not_found(store, id, "swept").await;
    }
    assert_eq!(listed(store).await, before, "listing after sweep");
    assert_eq!(
        read_all(store, &kept, 0..u64::MAX).await,
        data,
        "committed blob after sweep"
    );
    ok(store.delete(&kept).await, "delete");
}

/// Chunk sizes that cross every buffering boundary a backend is likely to have.
const MIXED_CHUNKS: &[usize] = &[1, 0, 7, 4096, 65_537, MIB, 3, MIB + 1, 100_000, MIB - 1];

/// Drops a writer's memory without running its destructor, as a crash would.
fn forget_writer(writer: Box<dyn BlobWriter>) {
    std::mem::forget(writer);
}

/// Writes `data` cutting it into chunks whose sizes cycle through `sizes`, commits, and checks
/// the returned length.
async fn put_in_chunks(store: &dyn BlobStore, data: &[u8], sizes: &[usize]) -> BlobId {
    let mut writer = ok(store.create().await, "create");
    let id = writer.id().clone();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        ok(writer.write(Bytes::copy_from_slice(chunk)).await, "write");
        rest = tail;
    }
    assert_eq!(
        ok(writer.commit().await, "commit"),
        data.len() as u64,
        "commit length"
    );
    id
}

async fn read_all(store: &dyn BlobStore, id: &BlobId, range: Range<u64>) -> Vec<u8> {
    let stream = ok(store.read(id, range.clone()).await, "read");
    let chunks: Vec<Bytes> = ok(stream.try_collect().await, "read stream");
    chunks.concat()
}

async fn listed(store: &dyn BlobStore) -> BTreeSet<BlobId> {
    let listing = ok(store.list().await, "list");
    let n = listing.len();
    let ids: BTreeSet<BlobId> = listing.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), n, "list shows a blob twice");
    ids
}

async fn assert_not_found(store: &dyn BlobStore, id: &BlobId, when: &str) {
    match store.read(id, 0..u64::MAX).await {
        Err(Error::NotFound) => {}
        Err(e) => panic!("{when}: read of {id:?} gave {e:?}, not NotFound"),
        Ok(_) => panic!("{when}: read of {id:?} succeeded, expected NotFound"),
    }
    match store.len(id).await {
        Err(Error::NotFound) => {}
        other => panic!("{when}: len of {id:?} gave {other:?}, expected NotFound"),
    }
}

/// Unwraps with a message naming the operation, so a failing backend says what failed.
fn ok<T>(result: Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e:?}"))
}

/// `len` bytes that do not repeat with any short period, so a read at a wrong offset is caught.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn to_usize(offset: u64) -> usize {
    usize::try_from(offset).expect("test offsets fit in memory")
}
