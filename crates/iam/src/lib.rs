//! Identity and access for coffer, imitating Alibaba Cloud RAM and STS: who a request comes from
//! ([`Principal`]), how an access key id (and STS token) resolves to the secret that verifies its
//! signature ([`Iam::credentials`]), and whether a principal may perform an action on a resource
//! ([`Iam::authorize`]), which yields a [`Grant`] — the only way to obtain one.
//!
//! Identities: the account's root key pair (from the binary's configuration), RAM users with up to
//! two access keys each, groups, custom policies attached to users, groups and roles, roles with
//! trust policies, and STS role sessions ([`Admin::assume_role`]) whose temporary credentials live
//! in a sealed, self-contained security token (`sts` module). Bucket policies live with their
//! bucket in the metadata store; the access layer (`coffer-access`) reads them and hands the
//! parsed document to [`Iam::authorize_with`]. Decisions follow the RAM policy evaluation logic
//! exactly as the [`policy`] module's evaluator implements it: explicit Deny wins; the root is
//! allowed on its own account; a RAM user or role session needs an Allow from its policies or
//! from the bucket policy; a session policy narrows its role; and only object reads and writes
//! fall back to ACLs.
//!
//! Management (create a user, attach a policy, …) goes through [`Iam::admin`], which checks the
//! caller's `ram:*` permissions itself. Other services' checks use [`Iam::check`] (any action on
//! any ARN) and [`Iam::check_kms`] (KMS keys).
//!
//! State: one in-memory directory of every record, written through to a
//! [`coffer_records::RecordStore`] with iam's [`TABLES`] ([`open_redb_store`]: `iam.redb` in the
//! data directory; [`memory_store`] for tests). Access key secrets cannot be hashed (HMAC
//! verification needs them), so they are sealed by [`coffer_crypto::Sealer`] under a key derived
//! from the server's root key ([`coffer_crypto::RootKey`]).
//!
//! What this crate does not do: HTTP, signatures (the front-ends verify them with the secret this
//! crate returns), or reading the network or the environment. Time comes from a [`Clock`].

#![warn(missing_docs)]

mod action;
mod admin;
mod conditions;
mod config;
mod directory;
mod error;
pub mod policy;
mod principal;
mod record;
mod seal;
pub mod store;
mod sts;

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use coffer_types::AccessKeySecret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use action::Action;
pub use admin::{
    AccessKeyInfo, Admin, CallerIdentity, GroupInfo, MAX_ACCESS_KEYS_PER_USER, NewAccessKey,
    PolicyInfo, PolicyTarget, RoleInfo, UserInfo,
};
pub use coffer_types::{Clock, ManualClock, SystemClock, Timestamp};
pub use conditions::{Conditions, keys};
pub use config::ConfigSection;
pub use error::{EntityKind, Error, Result};
pub use principal::Principal;
pub use record::KeyStatus;
pub use seal::{open_root_secret, seal_root_secret};
pub use store::{TABLES, memory_store, open_redb_store};
pub use sts::{
    AssumeRoleRequest, AssumedRole, DEFAULT_SESSION_DURATION, MAX_SESSION_DURATION_RANGE,
    MIN_SESSION_DURATION, STS_ACCESS_KEY_PREFIX, SecurityToken,
};

use crate::directory::{Directory, Op};
use crate::policy::{
    Decision, PolicyDocument, PolicyKind, RequestFacts, evaluate_with_resource_policy,
};
use crate::seal::{Purpose, Sealer};
use crate::store::META;
use coffer_crypto::RootKey;
use coffer_records::{Change, RecordStore};

/// What an ACL opens to callers no policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// Nothing.
    None,
    /// Reading objects.
    Read,
    /// Reading and writing objects.
    ReadWrite,
}

/// The resource an OSS action is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The account (ListBuckets).
    Account,
    /// A bucket.
    Bucket(String),
    /// An object in a bucket.
    Object {
        /// Its bucket.
        bucket: String,
        /// Its key.
        key: String,
    },
}

impl Resource {
    /// The RAM resource name, e.g. `acs:oss:*:1234:bkt/key`.
    pub fn arn(&self, account_id: &str) -> String {
        match self {
            Resource::Account => format!("acs:oss:*:{account_id}:*"),
            Resource::Bucket(b) => format!("acs:oss:*:{account_id}:{b}"),
            Resource::Object { bucket, key } => format!("acs:oss:*:{account_id}:{bucket}/{key}"),
        }
    }

    /// The bucket, for bucket and object resources.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Resource::Account => None,
            Resource::Bucket(b) | Resource::Object { bucket: b, .. } => Some(b),
        }
    }
}

/// Proof that `principal` may perform `action` on `resource`. Only [`Iam::authorize_with`] makes
/// one (called by the access layer, `coffer-access`, with the facts it gathered), so an operation
/// that takes `&Grant` cannot run unauthorized.
#[derive(Debug, Clone)]
pub struct Grant {
    principal: Principal,
    action: Action,
    resource: Resource,
    /// The condition values the grant was decided under; permission checks the operation makes
    /// on the principal's behalf later (`kms:*` for SSE-KMS) use the same ones.
    conditions: Conditions,
}

impl Grant {
    /// Who was granted.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// What was granted.
    pub fn action(&self) -> Action {
        self.action
    }

    /// On what.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The request's condition values (`acs:SourceIp`, `acs:CurrentTime`, ...) the grant was
    /// decided under.
    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }

    /// Whether this grant covers `action` on `resource`.
    pub fn covers(&self, action: Action, resource: &Resource) -> bool {
        self.action == action && &self.resource == resource
    }
}

/// The account's root identity, from the server's configuration.
pub struct RootAccount {
    /// The account UID (16 digits), owner of every bucket and key.
    pub account_id: String,
    /// The root access key id.
    pub access_key_id: String,
    /// The root secret.
    pub secret: AccessKeySecret,
}

/// The account's identities and what they may do.
pub struct Iam {
    account_id: String,
    root_access_key_id: String,
    root_secret: AccessKeySecret,
    store: Arc<dyn RecordStore>,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    /// Shortest session `AssumeRole` grants.
    min_session_duration: time::Duration,
    dir: RwLock<Directory>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// How many times a write planned on a directory another node changed meanwhile is planned again.
const WRITE_ATTEMPTS: u32 = 10;

/// The `meta` key of the account id, on a store several nodes share.
const ACCOUNT_ID_KEY: &[u8] = b"account-id";

/// The `meta` key of the sealed root-key check.
const ROOT_CHECK_KEY: &[u8] = b"root-check";
const ROOT_CHECK_VALUE: &[u8] = b"coffer-iam";

impl Iam {
    /// An account with one root key pair and no RAM identities kept anywhere but in memory (a
    /// random sealing key, the system clock).
    pub fn new(
        account_id: String,
        root_access_key_id: String,
        root_secret: AccessKeySecret,
    ) -> Self {
        Self::open(
            RootAccount {
                account_id,
                access_key_id: root_access_key_id,
                secret: root_secret,
            },
            Arc::new(memory_store()),
            &RootKey::generate(),
        )
        .expect("an empty in-memory identity store always opens")
    }

    /// Opens the identities kept in `store` (opened with [`TABLES`]), sealed under keys derived
    /// from the server's root key `root_key` (none of it is kept). A store written under another key is refused, as is one
    /// holding a record or policy this version cannot read. Blocks on the store; call at startup.
    pub fn open(
        root: RootAccount,
        store: Arc<dyn RecordStore>,
        root_key: &RootKey,
    ) -> Result<Self> {
        let sealer = Sealer::new(root_key);
        let check = store
            .scan(META)?
            .into_iter()
            .find(|(k, _)| k == ROOT_CHECK_KEY);
        match check {
            Some((_, sealed)) => {
                let opened = sealer.open(Purpose::RootCheck, &[], &sealed);
                if opened.as_deref().map(Vec::as_slice) != Some(ROOT_CHECK_VALUE) {
                    return Err(Error::corrupt(
                        "the identity store was sealed under another root key",
                    ));
                }
            }
            None => store.apply(&[Change::Put {
                table: META,
                key: ROOT_CHECK_KEY.to_vec(),
                value: sealer.seal(Purpose::RootCheck, &[], ROOT_CHECK_VALUE),
            }])?,
        }
        let dir = Directory::load(&*store)?;
        Ok(Self {
            account_id: root.account_id,
            root_access_key_id: root.access_key_id,
            root_secret: root.secret,
            store,
            sealer,
            clock: Arc::new(SystemClock),
            min_session_duration: MIN_SESSION_DURATION,
            dir: RwLock::new(dir),
        })
    }

    /// The account id of an identity store several nodes share: the one stored there, else
    /// `proposed` (this node's, from its data directory), stored now so that every node that opens
    /// the store later serves the same account. On a store only this process writes, `proposed`.
    /// Blocks on the store; call at startup, before [`Iam::open`].
    pub fn shared_account_id(store: &dyn RecordStore, proposed: &str) -> Result<String> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(generation) = store.generation()? else {
                return Ok(proposed.to_owned());
            };
            let stored = store
                .scan(META)?
                .into_iter()
                .find(|(k, _)| k == ACCOUNT_ID_KEY);
            if let Some((_, id)) = stored {
                return String::from_utf8(id)
                    .map_err(|_| Error::corrupt("the stored account id is not text"));
            }
            let put = Change::Put {
                table: META,
                key: ACCOUNT_ID_KEY.to_vec(),
                value: proposed.as_bytes().to_vec(),
            };
            match store.apply_at(Some(generation), &[put]) {
                Ok(_) => return Ok(proposed.to_owned()),
                // Another node stored its id first: read it.
                Err(coffer_records::Error::Stale) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::corrupt(
            "the identity store kept changing while the account id was settled",
        ))
    }

    /// Uses `clock` instead of the system clock (for tests of STS expiry).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Lets `AssumeRole` grant sessions shorter than RAM's 900 seconds (down to zero, which makes
    /// credentials that are expired on arrival). For tests of expiry against a running server;
    /// production keeps the default.
    #[must_use]
    pub fn with_min_session_duration(mut self, shortest: time::Duration) -> Self {
        self.min_session_duration = shortest.max(time::Duration::ZERO);
        self
    }

    /// The account id (bucket owner).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The time now, by this `Iam`'s clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now().into()
    }

    fn read(&self) -> RwLockReadGuard<'_, Directory> {
        self.dir.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one write: `plan` looks at the directory and returns the writes to make (and a
    /// result); they are committed to the store atomically, then applied in memory. Writers of
    /// this process are serialised by the directory's write lock; on a store other nodes write
    /// too, the directory is first brought up to the store's generation and the batch is
    /// committed only at that generation (else planned again on a fresh read), so a plan never
    /// commits on a stale directory.
    fn write<T>(&self, mut plan: impl FnMut(&Directory) -> Result<(Vec<Op>, T)>) -> Result<T> {
        let mut dir = self.dir.write().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(current) = self.store.generation()?
                && dir.generation != Some(current)
            {
                *dir = Directory::load(&*self.store)?;
            }
            let (ops, out) = plan(&dir)?;
            if ops.is_empty() {
                return Ok(out);
            }
            let changes: Vec<Change> = ops.iter().map(Op::change).collect();
            match self.store.apply_at(dir.generation, &changes) {
                Err(coffer_records::Error::Stale) if attempt < WRITE_ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
                Ok(generation) => {
                    for op in ops {
                        dir.apply(op);
                    }
                    dir.generation = generation;
                    return Ok(out);
                }
            }
        }
    }

    /// Loads the directory again if another node changed the store since it was read. Returns
    /// whether it did. The server calls it on a schedule (the bound on how stale a node's view
    /// of identities can be), and lookups call it before answering "unknown" or "denied", so that
    /// what another node just created or granted works at once.
    pub fn refresh(&self) -> Result<bool> {
        let Some(current) = self.store.generation()? else {
            return Ok(false);
        };
        if self.read().generation == Some(current) {
            return Ok(false);
        }
        let fresh = Directory::load(&*self.store)?;
        let mut dir = self.dir.write().unwrap_or_else(PoisonError::into_inner);
        // A write of this process may have moved past what was just read.
        if fresh.generation > dir.generation || dir.generation.is_none() {
            *dir = fresh;
        }
        Ok(true)
    }

    /// [`Iam::refresh`] for a lookup about to answer "unknown" or "denied": a failure to reach
    /// the store is logged and the answer stands.
    fn refreshed_before_refusing(&self) -> bool {
        self.refresh().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not check the identity store for changes");
            false
        })
    }

    /// The secret of a long-term access key and the principal it stands for, at the clock's time.
    /// STS keys need their token: use [`Iam::credentials`].
    pub fn secret_for(&self, access_key_id: &str) -> Result<(Principal, AccessKeySecret)> {
        self.credentials(access_key_id, None, self.now())
    }

    /// The principal an access key stands for, and the secret that must have signed the request.
    ///
    /// `security_token` is the STS token the request carried (`x-oss-security-token`,
    /// `security-token`, `SecurityToken`); it is required for `STS.` keys and ignored for
    /// long-term keys. Errors: [`Error::InvalidAccessKeyId`] (unknown key, or its user is gone),
    /// [`Error::AccessKeyDisabled`], [`Error::InvalidSecurityToken`] (missing, forged, for another
    /// key, or its role was deleted), [`Error::SecurityTokenExpired`] (at `now`).
    pub fn credentials(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(Principal, AccessKeySecret)> {
        if access_key_id.starts_with(STS_ACCESS_KEY_PREFIX) {
            return self.session_credentials(access_key_id, security_token, now);
        }
        if access_key_id == self.root_access_key_id {
            return Ok((
                Principal::Root {
                    account_id: self.account_id.clone(),
                    access_key_id: access_key_id.to_owned(),
                },
                AccessKeySecret::new(self.root_secret.expose_secret()),
            ));
        }
        match self.long_term_credentials(access_key_id) {
            Err(Error::InvalidAccessKeyId) if self.refreshed_before_refusing() => {
                self.long_term_credentials(access_key_id)
            }
            other => other,
        }
    }

    fn long_term_credentials(&self, access_key_id: &str) -> Result<(Principal, AccessKeySecret)> {
        let dir = self.read();
        let key = dir
            .access_keys
            .get(access_key_id)
            .ok_or(Error::InvalidAccessKeyId)?;
        if key.status == KeyStatus::Inactive {
            return Err(Error::AccessKeyDisabled);
        }
        let user = dir.users.get(&key.user).ok_or(Error::InvalidAccessKeyId)?;
        let secret = self
            .sealer
            .open(
                Purpose::AccessKeySecret,
                &[key.id.as_bytes()],
                &key.sealed_secret,
            )
            .ok_or_else(|| Error::corrupt(format!("sealed secret of {} does not open", key.id)))?;
        let secret = std::str::from_utf8(&secret)
            .map_err(|_| Error::corrupt("access key secret is not text"))?;
        Ok((
            Principal::User {
                account_id: self.account_id.clone(),
                user_id: user.id.clone(),
                user_name: user.name.clone(),
                access_key_id: key.id.clone(),
            },
            AccessKeySecret::new(secret),
        ))
    }

    fn session_credentials(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(Principal, AccessKeySecret)> {
        let token = security_token.ok_or(Error::InvalidSecurityToken)?;
        let mut claims =
            sts::SessionClaims::open(&self.sealer, token).ok_or(Error::InvalidSecurityToken)?;
        if claims.access_key_id != access_key_id || claims.account_id != self.account_id {
            return Err(Error::InvalidSecurityToken);
        }
        let expiration = OffsetDateTime::from_unix_timestamp(claims.expiration)
            .map_err(|_| Error::InvalidSecurityToken)?;
        if now >= expiration {
            return Err(Error::SecurityTokenExpired {
                expiration: rfc3339(expiration),
            });
        }
        {
            let dir = self.read();
            let role_alive = dir
                .role_by_id(&claims.role_id)
                .is_some_and(|r| r.record.name == claims.role_name);
            if !role_alive {
                return Err(Error::InvalidSecurityToken);
            }
        }
        let policy = match &claims.policy {
            Some(text) => Some(Arc::new(
                PolicyDocument::parse_as(PolicyKind::Session, text)
                    .map_err(|_| Error::InvalidSecurityToken)?,
            )),
            None => None,
        };
        let secret = AccessKeySecret::new(std::mem::take(&mut claims.secret));
        Ok((
            Principal::RoleSession {
                account_id: claims.account_id.clone(),
                role_id: claims.role_id.clone(),
                role_name: claims.role_name.clone(),
                session_name: claims.session_name.clone(),
                access_key_id: claims.access_key_id.clone(),
                expiration,
                policy,
            },
            secret,
        ))
    }

    /// The facts of one check: the principal, the action and resource, the request's conditions,
    /// and what iam itself knows (`acs:CurrentTime` if not given, `acs:AccessId`,
    /// `acs:MFAPresent`).
    fn facts(
        &self,
        principal: &Principal,
        action: &str,
        resource_arn: String,
        conditions: &Conditions,
    ) -> RequestFacts {
        let mut facts = RequestFacts::new(principal.caller(), action, resource_arn);
        conditions.apply_to(&mut facts);
        if !conditions.has(keys::CURRENT_TIME) {
            facts.insert_value(keys::CURRENT_TIME, rfc3339(self.now()));
        }
        if let Some(ak) = principal.access_key_id() {
            facts.insert_value(keys::ACCESS_ID, ak);
        }
        facts.insert_value(keys::MFA_PRESENT, "false");
        facts
    }

    /// Evaluates one check against the principal's identity and session policies and, when
    /// given, the bucket's policy (RAM policy evaluation steps 2–5, without the ACL fallback).
    fn evaluate(
        &self,
        principal: &Principal,
        facts: &RequestFacts,
        bucket_policy: Option<&PolicyDocument>,
    ) -> Decision {
        let session = match principal {
            Principal::RoleSession { policy, .. } => policy.clone(),
            _ => None,
        };
        let decide = || {
            let identity = self.read().identity_policies(principal);
            let identity: Vec<&PolicyDocument> = identity.iter().map(|p| &**p).collect();
            evaluate_with_resource_policy(&identity, session.as_deref(), bucket_policy, facts)
        };
        let decision = decide();
        // A policy another node just attached is honoured at once: a RAM identity's refusal is
        // checked against the store's generation first.
        let ram_identity = matches!(
            principal,
            Principal::User { .. } | Principal::RoleSession { .. }
        );
        if decision != Decision::Allow && ram_identity && self.refreshed_before_refusing() {
            return decide();
        }
        decision
    }

    /// The policy decision for an OSS `action` (any `oss:*` name, e.g. `oss:PutObjectAcl`) on
    /// `resource`, including `bucket_policy` (the policy of the resource's bucket, if it has
    /// one), before any ACL fallback.
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource,
        bucket_policy: Option<&PolicyDocument>,
        conditions: &Conditions,
    ) -> Decision {
        let facts = self.facts(
            principal,
            action,
            resource.arn(&self.account_id),
            conditions,
        );
        self.evaluate(principal, &facts, bucket_policy)
    }

    /// Decides whether `principal` may perform `action` on `resource`, with no bucket policy and
    /// no condition values but the current time; see [`Iam::authorize_with`].
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        resource: Resource,
        public: PublicAccess,
    ) -> Result<Grant> {
        self.authorize_with(
            principal,
            action,
            resource,
            None,
            public,
            &Conditions::new(),
        )
    }

    /// Decides whether `principal` may perform `action` on `resource` and mints the [`Grant`].
    ///
    /// The decision is [`Iam::decide`]'s: an explicit Deny (identity, session or bucket policy)
    /// refuses; an Allow (the root on its own account, or a policy) grants. When nothing allows,
    /// `public` — what the object's ACL, else the bucket's, opens — may still grant object reads
    /// (and writes, for public-read-write), for any caller (RAM policy evaluation, step 5).
    ///
    /// The bucket policy and the ACL are the caller's to look up: the access layer
    /// (`coffer-access`) does, and is the only caller on the request path.
    pub fn authorize_with(
        &self,
        principal: &Principal,
        action: Action,
        resource: Resource,
        bucket_policy: Option<&PolicyDocument>,
        public: PublicAccess,
        conditions: &Conditions,
    ) -> Result<Grant> {
        let decision = self.decide(
            principal,
            action.as_str(),
            &resource,
            bucket_policy,
            conditions,
        );
        let allowed = match decision {
            Decision::Allow => true,
            Decision::ExplicitDeny => false,
            Decision::ImplicitDeny => match public {
                PublicAccess::None => false,
                PublicAccess::Read => action.is_object_read(),
                PublicAccess::ReadWrite => action.is_object_read() || action.is_object_write(),
            },
        };
        if allowed {
            Ok(Grant {
                principal: principal.clone(),
                action,
                resource,
                conditions: conditions.clone(),
            })
        } else {
            Err(Error::AccessDenied {
                action: action.as_str(),
                resource: resource.arn(&self.account_id),
            })
        }
    }

    /// Checks `action` (`ram:CreateUser`, `sts:AssumeRole`, `kms:Decrypt`, …) on any resource ARN
    /// against the principal's identity and session policies (no bucket policy, no ACL): the
    /// account's root is allowed on its own account's resources; anyone else needs an Allow and
    /// no Deny. Refusal is [`Error::AccessDenied`].
    pub fn check(
        &self,
        principal: &Principal,
        action: &'static str,
        resource_arn: &str,
        conditions: &Conditions,
    ) -> Result<()> {
        let facts = self.facts(principal, action, resource_arn.to_owned(), conditions);
        match self.evaluate(principal, &facts, None) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(Error::AccessDenied {
                action,
                resource: resource_arn.to_owned(),
            }),
        }
    }

    /// Like [`Iam::check`] for what needs no Allow but must still yield to an explicit Deny
    /// (RAM evaluation: an explicit Deny always wins), such as the account's default OSS key:
    /// refused only when a policy denies `action` on `resource_arn`.
    pub fn check_not_denied(
        &self,
        principal: &Principal,
        action: &'static str,
        resource_arn: &str,
        conditions: &Conditions,
    ) -> Result<()> {
        let facts = self.facts(principal, action, resource_arn.to_owned(), conditions);
        match self.evaluate(principal, &facts, None) {
            Decision::ExplicitDeny => Err(Error::AccessDenied {
                action,
                resource: resource_arn.to_owned(),
            }),
            Decision::Allow | Decision::ImplicitDeny => Ok(()),
        }
    }

    /// Checks a KMS permission (the KMS actions and resources of the Alibaba Cloud KMS RAM
    /// authorization documentation, and the SSE-KMS permissions OSS documents): `action` is a
    /// `kms:*` name
    /// (`kms:GenerateDataKey`, `kms:Decrypt`, `kms:DescribeKey`, `kms:ListKeys`, …) and `key_arn`
    /// the key's ARN after alias resolution, `acs:kms:{region}:{account}:key/{KeyId}` (see
    /// [`Iam::kms_key_arn`]); container operations use `acs:kms:{region}:{account}:key` or
    /// `…:alias`, alias operations also check `…:alias/{name}`.
    ///
    /// Call it from every KMS API operation and from the object store's SSE-KMS path (for the
    /// principal of the OSS request: `kms:GenerateDataKey` + `kms:Decrypt` to write with a named
    /// CMK, `kms:Decrypt` to read, `kms:DescribeKey` for PutBucketEncryption naming a key). Put
    /// `kms:tag/<k>` values of the key into `conditions` when the key has tags. Denied is
    /// [`Error::AccessDenied`] (KMS API: 403 `Forbidden.NoPermission`; OSS: 403 `AccessDenied`).
    pub fn check_kms(
        &self,
        principal: &Principal,
        action: &'static str,
        key_arn: &str,
        conditions: &Conditions,
    ) -> Result<()> {
        debug_assert!(action.starts_with("kms:"), "{action} is not a KMS action");
        self.check(principal, action, key_arn, conditions)
    }

    /// The ARN of a KMS key of this account: `acs:kms:{region}:{account}:key/{key_id}`.
    pub fn kms_key_arn(&self, region: &str, key_id: &str) -> String {
        format!("acs:kms:{region}:{}:key/{key_id}", self.account_id)
    }

    /// Parses `text` as the policy of `bucket` (PutBucketPolicy): refused as
    /// [`Error::MalformedPolicy`] (naming the element) when malformed or when its resources leave
    /// the bucket.
    pub fn parse_bucket_policy(&self, bucket: &str, text: &str) -> Result<PolicyDocument> {
        let document = PolicyDocument::parse_as(PolicyKind::Bucket, text)?;
        document.check_bucket_scope(&self.account_id, bucket)?;
        Ok(document)
    }

    /// The bucket policies older versions kept in the identity store, as (bucket, text): the
    /// access layer moves them to their buckets at startup (see
    /// [`Iam::forget_legacy_bucket_policy`]).
    pub fn legacy_bucket_policies(&self) -> Vec<(String, String)> {
        self.read()
            .bucket_policies
            .values()
            .map(|p| (p.record.bucket.clone(), p.record.document.clone()))
            .collect()
    }

    /// Writes `text` as a bucket policy of the identity store, as versions before the access
    /// layer did: for tests of the migration only.
    #[cfg(any(test, feature = "testing"))]
    pub fn put_legacy_bucket_policy(&self, bucket: &str, text: &str) -> Result<()> {
        let document = Arc::new(self.parse_bucket_policy(bucket, text)?);
        let updated = self.now().unix_timestamp();
        self.write(|_| {
            Ok((
                vec![Op::PutBucketPolicy(directory::StoredBucketPolicy {
                    record: record::BucketPolicyRecord {
                        bucket: bucket.to_owned(),
                        document: text.to_owned(),
                        updated,
                    },
                    document: document.clone(),
                })],
                (),
            ))
        })
    }

    /// Drops a bucket policy of the identity store once it has moved to its bucket (or the
    /// bucket is gone); succeeds if there is none.
    pub fn forget_legacy_bucket_policy(&self, bucket: &str) -> Result<()> {
        self.write(|dir| {
            let ops = if dir.bucket_policies.contains_key(bucket) {
                vec![Op::DeleteBucketPolicy(bucket.to_owned())]
            } else {
                Vec::new()
            };
            Ok((ops, ()))
        })
    }

    /// Identity management on behalf of `caller`; every operation checks the caller's `ram:*` (or
    /// `sts:*`) permission first.
    pub fn admin<'a>(&'a self, caller: &'a Principal, conditions: &'a Conditions) -> Admin<'a> {
        Admin::new(self, caller, conditions)
    }
}

/// RFC 3339 in UTC with whole seconds: `2025-01-15T12:00:00Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
