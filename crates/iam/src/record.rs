//! The records iam persists, and their versioned encoding.
//!
//! Encoding: one format byte, then the record in `postcard`. Do not change a released layout in
//! place (postcard writes struct fields in declaration order and enum variants by index, so never
//! reorder, insert or remove either): add a format byte and keep decoding the old one. Times are
//! whole seconds since the Unix epoch. Names are the keys of their tables (UTF-8); access keys are
//! keyed by their id.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `root-check` | a constant sealed under the sealing key (wrong root key → refuse to open) |
//! | `users` | user name | [`UserRecord`] |
//! | `groups` | group name | [`GroupRecord`] |
//! | `roles` | role name | [`RoleRecord`] |
//! | `policies` | policy name | [`PolicyRecord`] |
//! | `access_keys` | access key id | [`AccessKeyRecord`] (secret sealed, bound to the id) |
//! | `bucket_policies` | bucket name | [`BucketPolicyRecord`] |

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Do not change: every record written so far starts with it.
const FORMAT_1: u8 = 1;

/// A RAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) display_name: String,
    pub(crate) comments: String,
    pub(crate) created: i64,
    /// Names of the groups the user is in.
    pub(crate) groups: BTreeSet<String>,
    /// Names of the policies attached to the user.
    pub(crate) policies: BTreeSet<String>,
}

/// A user group; membership is kept on the users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    pub(crate) name: String,
    pub(crate) comments: String,
    pub(crate) created: i64,
    pub(crate) policies: BTreeSet<String>,
}

/// A role that STS sessions assume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) created: i64,
    /// The trust policy's text (parsed as [`PolicyKind::Trust`](crate::policy::PolicyKind)).
    pub(crate) trust_policy: String,
    /// Longest session `AssumeRole` may grant, in seconds (3600–43200).
    pub(crate) max_session_duration: u32,
    pub(crate) policies: BTreeSet<String>,
}

/// A custom policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyRecord {
    pub(crate) name: String,
    pub(crate) description: String,
    /// The document's text, exactly as given.
    pub(crate) document: String,
    pub(crate) created: i64,
}

/// Whether an access key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// Accepted.
    Active,
    /// Refused (`InvalidAccessKeyId`), kept so it can be re-enabled.
    Inactive,
}

impl KeyStatus {
    /// `Active` or `Inactive`, as RAM spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    /// Parses `Active`/`Inactive` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("Active") {
            Some(KeyStatus::Active)
        } else if s.eq_ignore_ascii_case("Inactive") {
            Some(KeyStatus::Inactive)
        } else {
            None
        }
    }
}

/// A long-term access key of a RAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessKeyRecord {
    pub(crate) id: String,
    /// The owning user's name.
    pub(crate) user: String,
    pub(crate) status: KeyStatus,
    pub(crate) created: i64,
    /// The secret, sealed with purpose `AccessKeySecret` bound to `id`.
    pub(crate) sealed_secret: Vec<u8>,
}

/// The policy of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketPolicyRecord {
    pub(crate) bucket: String,
    pub(crate) document: String,
    pub(crate) updated: i64,
}

/// Encodes a record in the current versioned layout.
pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_1];
    out.extend(postcard::to_stdvec(record).expect("records always serialize"));
    out
}

/// Decodes a record written by [`encode`] (any supported format version).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_1, rest)) => {
            postcard::from_bytes(rest).map_err(|e| Error::corrupt(format!("iam record: {e}")))
        }
        Some((other, _)) => Err(Error::corrupt(format!(
            "iam record has unknown format {other}; written by a newer coffer?"
        ))),
        None => Err(Error::corrupt("empty iam record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_unknown_formats_are_refused() {
        let user = UserRecord {
            id: "2000000000000001".into(),
            name: "alice".into(),
            display_name: "Alice".into(),
            comments: String::new(),
            created: 1_700_000_000,
            groups: ["dev".to_owned()].into(),
            policies: BTreeSet::new(),
        };
        let bytes = encode(&user);
        assert_eq!(bytes[0], 1);
        assert_eq!(decode::<UserRecord>(&bytes).unwrap(), user);
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert!(decode::<UserRecord>(&newer).is_err());
        assert!(decode::<UserRecord>(&[]).is_err());
        assert!(decode::<UserRecord>(&bytes[..bytes.len() - 1]).is_err());
    }
}

#[cfg(test)]
mod golden {
    //! Format 1 as written by the first release; new code must keep reading these bytes.

    use super::*;

    fn user() -> UserRecord {
        UserRecord {
            id: "2000000000000001".into(),
            name: "alice".into(),
            display_name: "Alice".into(),
            comments: "c".into(),
            created: 1_700_000_000,
            groups: ["dev".to_owned()].into(),
            policies: ["read".to_owned()].into(),
        }
    }

    fn key() -> AccessKeyRecord {
        AccessKeyRecord {
            id: "LTAI1".into(),
            user: "alice".into(),
            status: KeyStatus::Inactive,
            created: 1_700_000_001,
            sealed_secret: vec![1, 2, 3],
        }
    }

    const USER_V1: &str = "01103230303030303030303030303030303105616c69636505416c696365016380c49fd50c0103646576010472656164";
    const KEY_V1: &str = "01054c5441493105616c6963650182c49fd50c03010203";

    #[test]
    fn format_1_records_still_decode() {
        assert_eq!(hex(&encode(&user())), USER_V1);
        assert_eq!(decode::<UserRecord>(&unhex(USER_V1)).unwrap(), user());
        assert_eq!(hex(&encode(&key())), KEY_V1);
        assert_eq!(decode::<AccessKeyRecord>(&unhex(KEY_V1)).unwrap(), key());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
