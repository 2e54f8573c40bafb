//! The job: list, decide, rewrite, count.
//!
//! A front-end supplies a [`Backend`] (how to list a page, how to look at one object, how to
//! rewrite one object guarded by its ETag) and [`run`] does the rest the same way for all of
//! them: the listing is followed page by page as the rewrites consume it, at most
//! [`Options::parallel`] objects are in hand at once, and every outcome lands in one
//! [`Progress`].

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::encryption::{Algorithm, Encryption, is_already_as_asked};
use crate::progress::Progress;

/// One object as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag, without quotes.
    pub etag: String,
    /// How it is encrypted, when the listing says (coffer's own store does); `None` when it
    /// does not (OSS's ListObjects), and [`Backend::inspect`] is asked.
    pub encryption: Option<Encryption>,
}

/// One object as it is when the job decides about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag it was seen with: the rewrite is guarded by it.
    pub etag: String,
    /// How it is encrypted.
    pub encryption: Encryption,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The objects, in listing order.
    pub objects: Vec<Listed>,
    /// Where the next page starts (a marker or continuation token, handed back to
    /// [`Backend::list`] as is); `None` on the last page.
    pub next: Option<String>,
}

/// How an object is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The object is copied onto itself with the wanted encryption (CopyObject, or
    /// UploadPartCopy for large objects), its metadata and tags kept.
    #[default]
    Copy,
    /// Only the key that wraps the object's data key changes, in place (UpdateObjectEncryption):
    /// no data is read or written. As a job's mode: used for the objects it can serve
    /// ([`can_rewrap`]), the others are copied; a backend is asked to rewrap only those.
    Rewrap,
}

/// Whether an object encrypted as `current` reaches `wanted` by a rewrap of its data key:
/// `wanted` is KMS, the object's data key is held by the service (SSE-OSS or SSE-KMS, not
/// SSE-C, not unencrypted), and its data cipher is the one `wanted` asks for (a rewrap keeps
/// the data, so AES-256 data stays AES-256 and SM4 data SM4).
#[must_use]
pub fn can_rewrap(current: &Encryption, wanted: &Encryption) -> bool {
    let current_sm4 = match current.algorithm {
        Algorithm::Aes256 => false,
        Algorithm::Sm4 => true,
        Algorithm::Kms => current.kms_data_sm4,
        Algorithm::None | Algorithm::Customer | Algorithm::Other(_) => return false,
    };
    wanted.algorithm == Algorithm::Kms && current_sm4 == wanted.kms_data_sm4
}

/// What the engine needs to know of a backend's error.
pub trait Failure: Send + 'static {
    /// The OSS error code of the refusal (`PreconditionFailed`, `NoSuchKey`, `AccessDenied`,
    /// ...), when the error is the server's answer; `None` for anything else (a broken
    /// connection, a malformed answer).
    fn code(&self) -> Option<&str>;
}

/// Whether `error` says the object changed or went away since it was listed: its ETag guard
/// failed (`PreconditionFailed`) or it was deleted (`NoSuchKey`). Such an object is counted
/// as skipped, left as its writer wrote it, never as a failure: the job must not overwrite a
/// newer version with older data, and a newer version is not the job's problem.
#[must_use]
pub fn is_left_as_written(error: &impl Failure) -> bool {
    matches!(error.code(), Some("PreconditionFailed" | "NoSuchKey"))
}

/// Where a job's objects are: one bucket (and prefix) seen through one front-end, acting as
/// its caller.
///
/// Calls may run concurrently (up to [`Options::parallel`] objects at once, and the listing
/// of the next page beside them).
pub trait Backend: Sync {
    /// The backend's error.
    type Error: Failure;

    /// The page of objects that starts at `marker` (`None`: the first page).
    fn list(&self, marker: Option<&str>) -> impl Future<Output = Result<Page, Self::Error>> + Send;

    /// The object as it is now, with its encryption. Asked only of objects whose listing did
    /// not say how they are encrypted; a backend whose listings always say may answer with an
    /// internal error.
    fn inspect(&self, listed: &Listed) -> impl Future<Output = Result<Object, Self::Error>> + Send;

    /// Rewrites `object` so that it is encrypted as `wanted`, only if it still has the ETag
    /// `object.etag` (a changed object is refused with `PreconditionFailed`, a deleted one
    /// with `NoSuchKey`, and left as it is). Keeps its data, metadata and tags.
    fn rewrite(
        &self,
        object: &Object,
        wanted: &Encryption,
        mode: Mode,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Told of each step, before the counters move (for a progress bar, a line per object,
    /// a log). Must not block.
    fn observe(&self, _event: Event<'_, Self::Error>) {}
}

/// A step of a job, as [`Backend::observe`] is told of it.
#[derive(Debug)]
pub enum Event<'a, E> {
    /// A page of the listing arrived.
    Listed(&'a [Listed]),
    /// The object is already encrypted as asked.
    Already(&'a Object),
    /// Dry run: the object would be rewritten.
    WouldRewrite(&'a Object),
    /// The object was rewritten.
    Rewritten(&'a Object),
    /// The object changed or was deleted meanwhile (see [`is_left_as_written`]).
    Skipped {
        /// The object.
        key: &'a str,
        /// What the backend said.
        error: &'a E,
    },
    /// The object could not be looked at or rewritten; `key` is `None` when the listing
    /// failed.
    Failed {
        /// The object, if the failure concerns one.
        key: Option<&'a str>,
        /// What the backend said.
        error: &'a E,
    },
}

/// How a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Objects in hand at once (looked at or being rewritten); 0 is taken as 1.
    pub parallel: usize,
    /// Say what would change, change nothing: [`Backend::rewrite`] is never called.
    pub dry_run: bool,
    /// How objects are rewritten.
    pub mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parallel: 1,
            dry_run: false,
            mode: Mode::Copy,
        }
    }
}

/// Where the listing is.
enum Cursor {
    Start,
    At(String),
    End,
}

/// Runs a job to its end: every object the backend lists that is not already encrypted as
/// `wanted` is rewritten (in a dry run, counted as one that would be), and `progress` says how
/// it goes. A failed listing counts as one failure and ends the job (what was listed before it
/// is still dealt with); a failed object is counted and the job goes on. When this returns,
/// `progress` says `done`.
pub async fn run<B: Backend>(
    backend: &B,
    wanted: &Encryption,
    options: Options,
    progress: &Progress<B::Error>,
) {
    let parallel = options.parallel.max(1);
    let mut cursor = Cursor::Start;
    let mut queue: VecDeque<Listed> = VecDeque::new();
    let mut in_hand = FuturesUnordered::new();
    loop {
        while in_hand.len() < parallel {
            let Some(listed) = queue.pop_front() else {
                break;
            };
            in_hand.push(settle(backend, wanted, options, progress, listed));
        }
        if queue.is_empty() && !matches!(cursor, Cursor::End) {
            // The next page is asked for when the last of this one is in hand, and the objects
            // in hand go on meanwhile: the listing overlaps the work, and memory stays at one
            // page plus what is in hand.
            let page = next_page(backend, progress, &mut cursor);
            queue.extend(alongside(page, &mut in_hand).await);
            continue;
        }
        if in_hand.next().await.is_none() {
            break;
        }
    }
    progress.update(|c| c.done = true);
}

/// Awaits `first` while driving everything in `others` that becomes ready meanwhile.
async fn alongside<T, F: Future<Output = ()>>(
    first: impl Future<Output = T>,
    others: &mut FuturesUnordered<F>,
) -> T {
    let mut first = pin!(first);
    poll_fn(|cx| {
        if let Poll::Ready(t) = first.as_mut().poll(cx) {
            return Poll::Ready(t);
        }
        // Drained of what is ready; each pending one will wake this task again.
        while let Poll::Ready(Some(())) = others.poll_next_unpin(cx) {}
        Poll::Pending
    })
    .await
}

/// The next page of the listing, counted; the cursor moves to the page after it (or the end,
/// when this is the last page or the listing failed).
async fn next_page<B: Backend>(
    backend: &B,
    progress: &Progress<B::Error>,
    cursor: &mut Cursor,
) -> Vec<Listed> {
    let marker = match std::mem::replace(cursor, Cursor::End) {
        Cursor::End => return Vec::new(),
        Cursor::Start => None,
        Cursor::At(m) => Some(m),
    };
    match backend.list(marker.as_deref()).await {
        Ok(page) => {
            backend.observe(Event::Listed(&page.objects));
            progress.update(|c| c.listed += page.objects.len() as u64);
            *cursor = page.next.map_or(Cursor::End, Cursor::At);
            page.objects
        }
        Err(error) => {
            backend.observe(Event::Failed {
                key: None,
                error: &error,
            });
            progress.fail(None, error);
            Vec::new()
        }
    }
}

/// Decides about one object and counts the outcome.
async fn settle<B: Backend>(
    backend: &B,
    wanted: &Encryption,
    options: Options,
    progress: &Progress<B::Error>,
    listed: Listed,
) {
    let object = match listed.encryption {
        Some(encryption) => Object {
            key: listed.key,
            size: listed.size,
            etag: listed.etag,
            encryption,
        },
        None => match backend.inspect(&listed).await {
            Ok(object) => object,
            Err(error) => return miss(backend, progress, &listed.key, error),
        },
    };
    if is_already_as_asked(&object.encryption, wanted) {
        backend.observe(Event::Already(&object));
        progress.update(|c| c.already += 1);
        return;
    }
    let mode = match options.mode {
        Mode::Rewrap if can_rewrap(&object.encryption, wanted) => Mode::Rewrap,
        _ => Mode::Copy,
    };
    if options.dry_run {
        backend.observe(Event::WouldRewrite(&object));
    } else if let Err(error) = backend.rewrite(&object, wanted, mode).await {
        return miss(backend, progress, &object.key, error);
    } else {
        backend.observe(Event::Rewritten(&object));
    }
    progress.update(|c| {
        c.rewritten += 1;
        match mode {
            Mode::Copy => c.bytes += object.size,
            Mode::Rewrap => c.rewrapped += 1,
        }
    });
}

/// Counts an object that was not rewritten because of `error`.
fn miss<B: Backend>(backend: &B, progress: &Progress<B::Error>, key: &str, error: B::Error) {
    if is_left_as_written(&error) {
        backend.observe(Event::Skipped { key, error: &error });
        progress.update(|c| c.skipped += 1);
    } else {
        backend.observe(Event::Failed {
            key: Some(key),
            error: &error,
        });
        progress.fail(Some(key), error);
    }
}

#[cfg(test)]
mod tests;
