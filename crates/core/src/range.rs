//! Byte ranges of GetObject, resolved against the object's size as OSS does.

use std::ops::Range;

use crate::{Error, Result};

/// A single byte range as the client asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive) or `bytes=first-`.
    From {
        /// First byte.
        first: u64,
        /// Last byte, inclusive.
        last: Option<u64>,
    },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// How a range that does not fit the object is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeBehavior {
    /// OSS's historic behaviour: an unsatisfiable or overlong range serves the whole object.
    #[default]
    Compatible,
    /// `x-oss-range-behavior: standard`: overlong ranges are trimmed, a start past the end is 416.
    Standard,
}

impl ByteRange {
    /// Parses a `Range` value (RFC 9110 `bytes=` ranges), shared by every front-end: only the
    /// first range of a list counts; a malformed value is `None`, which the dialects ignore.
    pub fn parse(value: &str) -> Option<ByteRange> {
        let spec = value.trim().strip_prefix("bytes=")?;
        let first = spec.split(',').next()?.trim();
        let (a, b) = first.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(ByteRange::Suffix);
        }
        let first: u64 = a.parse().ok()?;
        let last = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        Some(ByteRange::From { first, last })
    }

    /// The byte offsets to serve, or `None` for the whole object with status 200.
    pub fn resolve(self, size: u64, behavior: RangeBehavior) -> Result<Option<Range<u64>>> {
        let unsatisfiable = || match behavior {
            RangeBehavior::Compatible => Ok(None),
            RangeBehavior::Standard => Err(Error::InvalidRange),
        };
        match self {
            ByteRange::From { first, last } => {
                if let Some(last) = last
                    && last < first
                {
                    // Syntactically invalid: ignored, as HTTP says.
                    return Ok(None);
                }
                if first >= size {
                    return unsatisfiable();
                }
                match last {
                    None => Ok(Some(first..size)),
                    Some(last) if last < size => Ok(Some(first..last + 1)),
                    Some(_) => match behavior {
                        RangeBehavior::Compatible => Ok(None),
                        RangeBehavior::Standard => Ok(Some(first..size)),
                    },
                }
            }
            ByteRange::Suffix(n) => {
                if n == 0 || size == 0 {
                    return unsatisfiable();
                }
                Ok(Some(size.saturating_sub(n)..size))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(r: ByteRange, behavior: RangeBehavior, expected: &str) {
        let got = match r.resolve(1000, behavior) {
            Ok(Some(r)) => format!("{}-{}", r.start, r.end - 1),
            Ok(None) => "whole".into(),
            Err(Error::InvalidRange) => "416".into(),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(got, expected, "{r:?} {behavior:?}");
    }

    #[test]
    fn ranges_follow_the_documented_table() {
        use RangeBehavior::*;
        let from = |first, last| ByteRange::From { first, last };
        for b in [Compatible, Standard] {
            check(from(0, Some(499)), b, "0-499");
            check(ByteRange::Suffix(500), b, "500-999");
            check(from(500, None), b, "500-999");
            check(from(999, Some(999)), b, "999-999");
            check(ByteRange::Suffix(5000), b, "0-999");
            check(from(5, Some(4)), b, "whole");
        }
        check(from(500, Some(2000)), Compatible, "whole");
        check(from(500, Some(2000)), Standard, "500-999");
        check(from(1000, Some(2000)), Compatible, "whole");
        check(from(1000, Some(2000)), Standard, "416");
        check(from(1000, None), Standard, "416");
        check(ByteRange::Suffix(0), Standard, "416");
    }
}
