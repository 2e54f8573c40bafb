//! Wildcard matching of actions, resource ARNs and `StringLike` values (Alibaba Cloud RAM
//! documentation, "Policy elements").

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (including none)
/// and `?` for exactly one character. Case-sensitive; there is no escape character.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was seen and the text position it is currently made to cover up to.
    // Backtracking only to the last star keeps this O(len(p) * len(t)) in the worst case.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// [`glob`] ignoring case (Unicode lower-casing of both sides).
pub(super) fn glob_ignore_case(pattern: &str, text: &str) -> bool {
    glob(&pattern.to_lowercase(), &text.to_lowercase())
}

/// Whether a request's action matches an action pattern of a policy. Actions compare
/// case-insensitively (the RAM documentation, "Policy elements", calls them mostly
/// case-insensitive: `OSS:deleteobject` is `oss:DeleteObject`).
pub(super) fn action_matches(pattern: &str, action: &str) -> bool {
    glob_ignore_case(pattern, action)
}

/// The five fields of an ARN `acs:{service}:{region}:{account}:{relative-id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Arn<'a> {
    pub(super) scheme: &'a str,
    pub(super) service: &'a str,
    pub(super) region: &'a str,
    pub(super) account: &'a str,
    pub(super) relative: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits at the first four colons; the relative id keeps any further colons (object keys may
    /// contain them). `None` if there are fewer than four.
    pub(super) fn split(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(5, ':');
        Some(Arn {
            scheme: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            relative: parts.next()?,
        })
    }
}

/// Whether a request's resource ARN matches a resource pattern of a policy. Case-sensitive (object
/// keys are).
///
/// Matching is field by field, never over the whole string: a `*` in the region or account field
/// must not run into the relative id, or `acs:oss:*:1111:photos/*` would match the object
/// `a:1111:photos/b` of another account's bucket. The region field is ignored for OSS resources
/// (OSS documents only `*` there) and an empty region in a pattern stands for any region (RAM's
/// own ARNs, `acs:ram::{uid}:…`, leave it empty).
pub(super) fn resource_matches(pattern: &str, resource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some(p), Some(r)) = (Arn::split(pattern), Arn::split(resource)) else {
        return false;
    };
    glob(p.scheme, r.scheme)
        && glob(p.service, r.service)
        && (r.service == "oss" || p.region.is_empty() || glob(p.region, r.region))
        && glob(p.account, r.account)
        && glob(p.relative, r.relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, text: &str, expected: bool) {
        assert_eq!(glob(pattern, text), expected, "glob({pattern:?}, {text:?})");
    }

    #[test]
    fn glob_table() {
        for (pattern, text, expected) in [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abcbc", true),
            ("a*c", "abcb", false),
            ("?", "", false),
            ("?", "x", true),
            ("?", "xy", false),
            ("202?", "2024", true),
            ("202?", "20245", false),
            ("a?c*", "abcdef", true),
            ("**", "x", true),
            ("*?*", "", false),
            ("*?*", "é", true),
            ("a*b*c", "a-b-b-c", true),
            ("a*b*c", "a-c-b", false),
            ("Get*", "get", false),
        ] {
            check(pattern, text, expected);
        }
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "a*".repeat(1000));
        assert!(!glob(&pattern, &text));
    }

    #[test]
    fn actions_ignore_case() {
        assert!(action_matches("oss:Get*", "OSS:getobject"));
        assert!(action_matches("*", "kms:Decrypt"));
        assert!(action_matches("kms:List*", "kms:ListAliasesByKeyId"));
        assert!(!action_matches("kms:List*", "kms:DescribeKey"));
        assert!(!action_matches("oss:Get*", "kms:GetParametersForImport"));
    }

    #[test]
    fn resource_table() {
        for (pattern, resource, expected) in [
            ("*", "acs:oss:*:1:b/k", true),
            ("acs:oss:*:1:b/*", "acs:oss:*:1:b/k/l", true),
            ("acs:oss:*:1:b/*", "acs:oss:*:1:b", false),
            ("acs:oss:*:1:b", "acs:oss:*:1:b", true),
            ("acs:oss:*:1:B", "acs:oss:*:1:b", false),
            ("acs:oss:*:1:b/*", "acs:oss:*:2:b/k", false),
            ("acs:oss:*:*:b/*", "acs:oss:*:2:b/k", true),
            // Region is ignored for OSS.
            ("acs:oss:cn-beijing:1:b", "acs:oss:*:1:b", true),
            // Wildcards do not run across fields.
            ("acs:oss:*:1:photos/*", "acs:oss:*:2:a:1:photos/b", false),
            ("acs:oss:*:1:b/a:b*", "acs:oss:*:1:b/a:bc", true),
            ("acs:kms:*:1:key/*", "acs:kms:cn-hangzhou:1:key/k1", true),
            ("acs:kms::1:key/*", "acs:kms:cn-hangzhou:1:key/k1", true),
            (
                "acs:kms:cn-beijing:1:key/*",
                "acs:kms:cn-hangzhou:1:key/k1",
                false,
            ),
            ("acs:kms:*:1:*", "acs:kms:cn-hangzhou:1:alias/a", true),
            ("acs:kms:*:1:*", "acs:oss:*:1:b", false),
            ("acs:ram::1:role/*", "acs:ram::1:role/reader", true),
            // A malformed resource matches nothing but `*`.
            ("acs:oss:*:1:b", "b", false),
            ("*", "b", true),
        ] {
            assert_eq!(
                resource_matches(pattern, resource),
                expected,
                "resource_matches({pattern:?}, {resource:?})"
            );
        }
    }
}
