//! The small shared vocabulary of coffer: validated bucket names and object keys, opaque ids and
//! secret wrappers, and the one time type and clock ([`Timestamp`], [`Clock`]). Everything here is validated once, at the edge, and trusted afterwards.
//!
//! This crate knows nothing of HTTP or of any storage backend; its only I/O is
//! [`DataDir::exists`] and reading the system clock.

mod clock;
mod data_dir;
mod id;
mod name;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use data_dir::DataDir;
pub use id::{BlobId, RequestId, UploadId};
pub use name::{BucketName, MAX_KEY_LEN, NameError, ObjectKey};
pub use secret::AccessKeySecret;
