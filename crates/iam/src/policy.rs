//! The RAM policy language: parsing, validation and evaluation of policy documents
//! (Alibaba Cloud RAM documentation, "Policy elements" and "Policy evaluation logic"; OSS
//! documentation, "Bucket Policy").
//!
//! A policy arrives as JSON text (`CreatePolicy`, `AssumeRole`'s `Policy`, `PutBucketPolicy`) and is
//! turned once into a validated [`PolicyDocument`] by [`PolicyDocument::parse`] or
//! [`PolicyDocument::parse_as`]; anything the grammar does not allow is refused there with a
//! [`PolicyError`] naming the offending element, so evaluation never meets a malformed policy. The
//! original text is kept for `GetPolicy`/`GetBucketPolicy` round trips.
//!
//! Evaluation is pure: a request is described by [`RequestFacts`] (who, which action, which
//! resource ARN, and the condition keys the front-end observed), and
//!
//! - [`evaluate`] applies the single-policy-set rule of RAM's "Policy evaluation logic" — an
//!   explicit Deny wins, else any Allow, else an implicit deny;
//! - [`evaluate_with_resource_policy`] is the whole OSS flow: session policy, identity policies
//!   (with the root-owns-everything and no-cross-account-grant rules) and the bucket policy with
//!   its `Principal` rules (OSS documentation, "Bucket Policy").
//!
//! What this module deliberately does not do: look anything up (policies attached to a user or
//! group, bucket owners, ACLs), read clocks or sockets. The caller gathers the facts (including
//! `acs:CurrentTime` and `acs:SourceIp`) and the ACL fallback for data APIs that an
//! [`Decision::ImplicitDeny`] leaves open belongs to the caller too.
//!
//! ```
//! use coffer_iam::policy::{evaluate, Caller, Decision, PolicyDocument, RequestFacts};
//!
//! let policy = PolicyDocument::parse(
//!     r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:Get*",
//!         "Resource": "acs:oss:*:1111111111111111:photos/*",
//!         "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}}]}"#,
//! )?;
//! let alice = Caller::User {
//!     account_id: "1111111111111111".into(),
//!     user_id: "2000000000000001".into(),
//!     user_name: "alice".into(),
//! };
//! let facts = RequestFacts::new(alice, "oss:GetObject", "acs:oss:*:1111111111111111:photos/a.jpg")
//!     .with_value("acs:SourceIp", "10.1.2.3");
//! assert_eq!(evaluate(&[&policy], &facts), Decision::Allow);
//! # Ok::<(), coffer_iam::policy::PolicyError>(())
//! ```

#![warn(missing_docs)]

mod condition;
mod document;
mod error;
mod evaluate;
mod json;
mod matcher;
mod net;
mod principal;

pub use document::{Effect, PolicyDocument, PolicyKind, Statement};
pub use error::PolicyError;
pub use evaluate::{Caller, Decision, RequestFacts, evaluate, evaluate_with_resource_policy};

#[cfg(test)]
mod tests;
