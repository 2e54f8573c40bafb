//! Validated names and ids of the KMS: [`AccountId`], [`KeyId`], [`KeyVersionId`], [`AliasName`],
//! and [`KeyRef`], the "key id, alias or ARN" that most operations accept. Each is parsed once at
//! the edge and trusted afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The account that owns keys and aliases: a numeric UID such as `1234567890123456`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Accepts 1 to 32 ASCII digits (Alibaba account UIDs are 16).
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                "AccountId",
                "must be 1 to 32 decimal digits",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The UID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 16 random bytes shown as a lower-case UUID (version 4 layout), the shape of Alibaba's key and
/// key-version ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Uuid([u8; 16]);

/// Text in human-readable formats (the JSON audit log), 16 raw bytes in binary ones (records).
impl Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Uuid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Uuid::parse(&s).ok_or_else(|| serde::de::Error::custom("not a UUID"))
        } else {
            <[u8; 16]>::deserialize(d).map(Uuid)
        }
    }
}

impl Uuid {
    fn random() -> Self {
        let mut b = [0u8; 16];
        coffer_crypto::random::fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(b)
    }

    fn parse(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 36 {
            return None;
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, &c) in s.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let v = (c as char).to_digit(16)? as u8;
            // High nibble first.
            out[nibbles / 2] |= v << (4 * (1 - nibbles % 2));
            nibbles += 1;
        }
        Some(Self(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::random())
            }

            /// Parses the 36-character UUID text (either case; shown in lower case).
            pub fn parse(s: &str) -> Option<Self> {
                Uuid::parse(s).map(Self)
            }

            /// The 16 raw bytes, as written into ciphertext blobs.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0 .0
            }

            /// The id whose raw bytes these are.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($what, "({})"), self.0)
            }
        }
    };
}

uuid_id!(
    /// The id of a customer master key (CMK), e.g. `0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f`.
    KeyId,
    "KeyId"
);
uuid_id!(
    /// The id of one version of a CMK's key material.
    KeyVersionId,
    "KeyVersionId"
);

/// Alias names: `alias/` then 1 to 249 characters of `[A-Za-z0-9_/-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AliasName(String);

/// The prefix every alias has.
pub const ALIAS_PREFIX: &str = "alias/";
/// The prefix reserved for keys that coffer manages for a service (`alias/acs/oss`).
pub const RESERVED_ALIAS_PREFIX: &str = "alias/acs/";

impl AliasName {
    /// Parses an alias name. Reserved names parse too; the operations decide who may use them.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(ALIAS_PREFIX)
            .ok_or(Error::invalid("AliasName", "must start with alias/"))?;
        if rest.is_empty() || s.len() > 255 {
            return Err(Error::invalid("AliasName", "must be 7 to 255 characters"));
        }
        if !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'-'))
        {
            return Err(Error::invalid(
                "AliasName",
                "may contain only letters, digits, _, / and -",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name, `alias/...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is in the `alias/acs/` space reserved for service keys.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_ALIAS_PREFIX)
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request names a key: its id, an alias, or the ARN of either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A bare key id, in the caller's account.
    Id(KeyId),
    /// An alias name, in the caller's account.
    Alias(AliasName),
    /// `acs:kms:<region>:<account>:key/<id>`.
    KeyArn {
        /// Region named in the ARN.
        region: String,
        /// Account named in the ARN.
        account: AccountId,
        /// The key id.
        key_id: KeyId,
    },
    /// `acs:kms:<region>:<account>:alias/<name>`.
    AliasArn {
        /// Region named in the ARN.
        region: String,
        /// Account named in the ARN.
        account: AccountId,
        /// The alias name.
        alias: AliasName,
    },
}

impl KeyRef {
    /// Parses a `KeyId` parameter. Something that is neither alias, ARN nor well-formed key id is
    /// [`Error::KeyNotFound`], as no key can have that name.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::MissingParameter("KeyId"));
        }
        if s.starts_with(ALIAS_PREFIX) {
            return AliasName::parse(s).map(KeyRef::Alias);
        }
        if let Some(rest) = s.strip_prefix("acs:kms:") {
            let mut parts = rest.splitn(3, ':');
            let (Some(region), Some(account), Some(resource)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::KeyNotFound);
            };
            let account = AccountId::parse(account).map_err(|_| Error::KeyNotFound)?;
            let region = region.to_owned();
            if let Some(id) = resource.strip_prefix("key/") {
                let key_id = KeyId::parse(id).ok_or(Error::KeyNotFound)?;
                return Ok(KeyRef::KeyArn {
                    region,
                    account,
                    key_id,
                });
            }
            let alias = AliasName::parse(resource).map_err(|_| Error::AliasNotFound)?;
            return Ok(KeyRef::AliasArn {
                region,
                account,
                alias,
            });
        }
        KeyId::parse(s).map(KeyRef::Id).ok_or(Error::KeyNotFound)
    }
}

impl From<KeyId> for KeyRef {
    fn from(id: KeyId) -> Self {
        KeyRef::Id(id)
    }
}

impl From<&KeyId> for KeyRef {
    fn from(id: &KeyId) -> Self {
        KeyRef::Id(*id)
    }
}

impl From<AliasName> for KeyRef {
    fn from(alias: AliasName) -> Self {
        KeyRef::Alias(alias)
    }
}

/// `acs:kms:<region>:<account>:key/<id>`.
pub fn key_arn(region: &str, account: &AccountId, key_id: &KeyId) -> String {
    format!("acs:kms:{region}:{account}:key/{key_id}")
}

/// `acs:kms:<region>:<account>:alias/<name>`.
pub fn alias_arn(region: &str, account: &AccountId, alias: &AliasName) -> String {
    format!("acs:kms:{region}:{account}:{alias}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_round_trip_through_text_and_bytes() {
        let id = KeyId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(KeyId::parse(&text), Some(id));
        assert_eq!(KeyId::parse(&text.to_uppercase()), Some(id));
        assert_eq!(KeyId::from_bytes(id.to_bytes()), id);
        assert_eq!(
            KeyId::parse("0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f")
                .unwrap()
                .to_string(),
            "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f"
        );
        for bad in [
            "",
            "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6",
            "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6g",
            "0f6b5c2e08d31-4a0e-9b8f-1d2c3b4a5e6f",
            "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6ff",
        ] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn alias_names_are_validated() {
        assert!(AliasName::parse("alias/my-key_1/x").is_ok());
        assert!(AliasName::parse("alias/acs/oss").unwrap().is_reserved());
        assert!(!AliasName::parse("alias/acsx").unwrap().is_reserved());
        for bad in ["alias/", "my-key", "alias/a b", "alias/é"] {
            assert!(AliasName::parse(bad).is_err(), "{bad}");
        }
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(249))).is_ok());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(250))).is_err());
    }

    #[test]
    fn key_refs_parse_every_form() {
        let id = KeyId::random();
        assert_eq!(KeyRef::parse(&id.to_string()).unwrap(), KeyRef::Id(id));
        assert!(matches!(
            KeyRef::parse("alias/x").unwrap(),
            KeyRef::Alias(_)
        ));
        let account = AccountId::parse("1234567890123456").unwrap();
        let arn = key_arn("cn-hangzhou", &account, &id);
        assert_eq!(
            KeyRef::parse(&arn).unwrap(),
            KeyRef::KeyArn {
                region: "cn-hangzhou".into(),
                account: account.clone(),
                key_id: id
            }
        );
        let alias = AliasName::parse("alias/x").unwrap();
        assert!(matches!(
            KeyRef::parse(&alias_arn("cn-hangzhou", &account, &alias)).unwrap(),
            KeyRef::AliasArn { .. }
        ));
        assert!(matches!(KeyRef::parse("nope"), Err(Error::KeyNotFound)));
        assert!(matches!(KeyRef::parse(""), Err(Error::MissingParameter(_))));
    }
}
