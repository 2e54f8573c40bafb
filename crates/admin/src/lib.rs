//! The admin API of coffer: RAM identity management and STS over signed JSON requests, on its own
//! listener (default `127.0.0.1:9002`), and [`client::AdminClient`], the blocking client
//! `coffer admin` uses.
//!
//! Every request is `POST /{service}/{Action}` with a JSON object of parameters as the body,
//! signed like an OSS request (V4 `Authorization` header with the body's SHA-256 in
//! `x-oss-content-sha256`, or V1 with `Content-MD5`) by the root key pair, a RAM user's key, or
//! STS credentials (with `x-oss-security-token`). The bucket/key of the signed resource are the
//! service and the action (`/ram/CreateUser`), so a signature covers exactly one action. Actions
//! and parameters follow the RAM and STS APIs ([`Operation`]); each is authorized by `coffer_iam`
//! against the caller's own `ram:*` / `sts:*` permissions (the root has all). Replies are JSON in
//! RAM's shape with a `RequestId`; errors are `{"RequestId","HostId","Code","Message"}` with the
//! status of [`error::codes`].
//!
//! | path | parameters |
//! |---|---|
//! | `/ram/CreateUser` | `UserName`, `DisplayName`?, `Comments`? |
//! | `/ram/GetUser`, `/ram/DeleteUser` | `UserName` |
//! | `/ram/ListUsers`, `/ram/ListGroups`, `/ram/ListPolicies`, `/ram/ListRoles` | — |
//! | `/ram/CreateAccessKey`, `/ram/ListAccessKeys` | `UserName` |
//! | `/ram/UpdateAccessKey` | `UserName`, `UserAccessKeyId`, `Status` (`Active`/`Inactive`) |
//! | `/ram/DeleteAccessKey` | `UserName`, `UserAccessKeyId` |
//! | `/ram/CreateGroup` | `GroupName`, `Comments`? |
//! | `/ram/GetGroup`, `/ram/DeleteGroup` | `GroupName` |
//! | `/ram/AddUserToGroup`, `/ram/RemoveUserFromGroup` | `GroupName`, `UserName` |
//! | `/ram/CreatePolicy` | `PolicyName`, `PolicyDocument`, `Description`? |
//! | `/ram/GetPolicy`, `/ram/DeletePolicy` | `PolicyName` |
//! | `/ram/AttachPolicyTo{User,Group,Role}`, `/ram/DetachPolicyFrom{…}` | `PolicyName`, `UserName` / `GroupName` / `RoleName` |
//! | `/ram/CreateRole` | `RoleName`, `AssumeRolePolicyDocument`, `Description`?, `MaxSessionDuration`? |
//! | `/ram/GetRole`, `/ram/DeleteRole` | `RoleName` |
//! | `/sts/AssumeRole` | `RoleArn`, `RoleSessionName`, `DurationSeconds`?, `Policy`?, `ExternalId`? |
//! | `/sts/GetCallerIdentity` | — |
//! | `/kms/GetUsage` | `KeyId`? (id, alias or ARN), `Granularity`? (`Day`: calls per key per UTC day from the trail, with `StartTime`? / `EndTime`?, default the last 14 days) |
//! | `/kms/ListAuditRecords` | `KeyId`?, `Operation`?, `Principal`?, `Resource`? (`bucket` or `bucket/key-prefix`), `StartTime`?, `EndTime`? (RFC 3339), `Marker`?, `MaxResults`? (≤ 1000), `Tail`? |
//!
//! The two `kms` reads serve the KMS's usage counters and audit trail (see [`kms`] for who may
//! read them); the records are those of the audit log, in its JSON shape.
//!
//! This crate holds no state and makes no decisions: identities, policies and STS live in
//! `coffer_iam` (which also decides the `kms:*` permissions of the two reads), usage and the
//! trail in `coffer_kms`. There is no TLS here; keep the listener on loopback or behind a TLS proxy.

#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod kms;
mod ops;
mod server;

pub use ops::Operation;
pub use server::{AdminService, MAX_BODY, X_OSS_SIGNATURE_NONCE, serve};
