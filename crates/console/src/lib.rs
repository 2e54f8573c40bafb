//! The web console of coffer: server-rendered HTML pages (with a little progressive JavaScript)
//! on their own listener, acting through the same access layer, store and KMS API as the APIs.
//!
//! A request flows: [`server`] (a `coffer_http::Dialect`) serves the embedded assets and the
//! login form; every other request needs a session (`session`: an `HttpOnly`, `SameSite=Strict`
//! cookie naming a server-side record) whose access key is resolved again by `Iam::credentials`,
//! and every non-GET request needs the session's CSRF token and a same-origin browser → `routes`
//! picks the page → the page asks `coffer_access::Access::authorize` for the grant of the RAM
//! action the API would need, as the logged-in principal, and calls `coffer_core` with it (KMS
//! pages call `coffer_kms_api::KmsApiService::invoke`, which authorizes `kms:*` as the KMS API
//! does) → a refusal is shown as the API's error code in words.
//!
//! There is no side door: the console holds no credential of its own and decides nothing about
//! access; what a principal cannot do through the API, it cannot do here.

// Errors are the cold path; boxing them would add an allocation for nothing measurable.
#![allow(clippy::result_large_err)]

mod assets;
mod buckets;
mod config;
mod encryption;
mod error;
mod form;
mod identities;
mod keys;
mod objects;
mod page;
mod reencrypt;
mod reply;
mod routes;
mod server;
mod session;
mod throttle;
mod usage;

pub use config::ConfigSection;
pub use server::{Config, ConsoleService, serve};
