//! `oss://bucket/key` locations and local paths.

use anyhow::{Result, bail};

/// A place a command reads or writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A bucket and a key or prefix (possibly empty).
    Remote {
        /// Bucket.
        bucket: String,
        /// Key or prefix.
        key: String,
    },
    /// A local path (`-` is standard input or output).
    Local(std::path::PathBuf),
}

impl Location {
    /// Parses `oss://bucket[/key]` or a local path.
    pub fn parse(s: &str) -> Result<Self> {
        match s.strip_prefix("oss://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    bail!("`{s}` names no bucket: expected oss://BUCKET[/KEY]");
                }
                Ok(Location::Remote {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            None => Ok(Location::Local(s.into())),
        }
    }

    /// The bucket and key, or an error naming `what` if local.
    pub fn remote(s: &str) -> Result<(String, String)> {
        match Self::parse(s)? {
            Location::Remote { bucket, key } => Ok((bucket, key)),
            Location::Local(_) => bail!("`{s}` is not an oss://BUCKET[/KEY] location"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("oss://b/a/b.txt").unwrap(),
            Location::Remote {
                bucket: "b".into(),
                key: "a/b.txt".into()
            }
        );
        assert_eq!(
            Location::parse("oss://b").unwrap(),
            Location::Remote {
                bucket: "b".into(),
                key: String::new()
            }
        );
        assert!(Location::parse("oss:///k").is_err());
        assert_eq!(
            Location::parse("./x").unwrap(),
            Location::Local("./x".into())
        );
        assert!(Location::remote("x").is_err());
    }
}
