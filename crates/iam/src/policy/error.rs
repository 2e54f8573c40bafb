//! Why a policy document was refused.

use super::PolicyKind;

/// Why [`PolicyDocument::parse`](super::PolicyDocument::parse) refused a policy.
///
/// Front-ends map [`PolicyError::TooLarge`] to the size error of their API
/// (`InvalidParameter.PolicySize`) and every other variant to the grammar error
/// (`InvalidParameter.PolicyGrammar`, OSS `MalformedPolicy`); the message is meant for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is longer than its kind allows (see [`PolicyKind`]).
    #[error("{kind} is {len} {unit} long; at most {max} are allowed")]
    TooLarge {
        /// What the document was parsed as.
        kind: PolicyKind,
        /// Its length, in `unit`s.
        len: usize,
        /// The limit, in `unit`s.
        max: usize,
        /// `"characters"` or `"bytes"`.
        unit: &'static str,
    },
    /// The text is not one well-formed JSON value (or repeats a member name in an object).
    #[error("policy is not valid JSON: {reason}")]
    InvalidJson {
        /// The parser's description, with line and column.
        reason: String,
    },
    /// The JSON is well formed but breaks the policy grammar.
    #[error("malformed policy: {}{reason}", at(.location))]
    Malformed {
        /// Where, as a path such as `Statement[1].Condition.IpAddress`; empty for the top level.
        location: String,
        /// What is wrong there.
        reason: String,
    },
}

/// `"{location}: "`, or nothing for the top level.
fn at(location: &str) -> String {
    if location.is_empty() {
        String::new()
    } else {
        format!("{location}: ")
    }
}

impl PolicyError {
    pub(super) fn malformed(location: impl Into<String>, reason: impl Into<String>) -> Self {
        PolicyError::Malformed {
            location: location.into(),
            reason: reason.into(),
        }
    }
}
