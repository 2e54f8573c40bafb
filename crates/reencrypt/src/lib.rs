//! The one re-encryption engine: "rewrite every object that is not encrypted as asked", shared
//! by the web console's job (`coffer-console`, over `Store` and `Access` in process) and the
//! `coffer reencrypt` command (`coffer-cli`, over the OSS API).
//!
//! It holds three things and nothing else:
//! - [`Encryption`] and [`is_already_as_asked`]: the one rule that says an object needs no
//!   rewrite;
//! - [`run`]: the job loop over a [`Backend`] — list page by page, bounded parallelism, dry run,
//!   each rewrite guarded by the ETag the object was seen with, and the one rule that an object
//!   changed or deleted meanwhile ([`is_left_as_written`]) is skipped, never failed;
//! - [`Progress`]: the counters both front-ends show.
//!
//! A job copies objects onto themselves ([`Mode::Copy`]), or, in [`Mode::Rewrap`], changes only
//! the key that wraps the data key of those objects a rewrap can serve ([`can_rewrap`]) and
//! copies the others.
//!
//! It does no I/O of its own, knows no HTTP, no store and no credentials: a front-end's backend
//! lists and rewrites, as its caller and with its caller's rights.

mod encryption;
mod job;
mod progress;

pub use encryption::{Algorithm, Encryption, is_already_as_asked};
pub use job::{
    Backend, Event, Failure, Listed, Mode, Object, Options, Page, can_rewrap, is_left_as_written,
    run,
};
pub use progress::{Counts, FirstError, Progress};
