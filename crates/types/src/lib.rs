//! The small shared vocabulary of coffer: validated bucket names and object keys, opaque ids and
//! secret wrappers, and the one time type and clock ([`Timestamp`], [`Clock`]). Everything here is validated once, at the edge, and trusted afterwards.
//!
//! This crate does no I/O (beyond reading the system clock) and knows nothing of HTTP or of any storage backend.

mod clock;
mod id;
mod name;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use id::{BlobId, RequestId, UploadId};
pub use name::{BucketName, MAX_KEY_LEN, NameError, ObjectKey};
pub use secret::AccessKeySecret;
