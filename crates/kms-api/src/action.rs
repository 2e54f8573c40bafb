//! The closed set of actions the KMS API routes, each with its RAM action name, and the request
//! envelope around them: `Action`, `Version` and `Format` (Alibaba Cloud KMS API reference,
//! "Common parameters", as the KMS SDKs send them).

use http::HeaderMap;

use crate::auth::Scheme;
use crate::error::{ApiError, codes};
use crate::params::Params;

/// The only API version served.
pub(crate) const VERSION: &str = "2016-01-20";

macro_rules! actions {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A KMS API action. Each declares its RAM action, `kms:<Action>`; the resource is the
        /// key the request names (or the account, for CreateKey and the list and region actions).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Action {
            $($(#[$doc])* $name,)*
        }

        impl Action {
            /// Parses the wire name (case-sensitive).
            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s {
                    $(stringify!($name) => Some(Action::$name),)*
                    _ => None,
                }
            }

            /// The wire name.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)*
                }
            }

            /// The RAM action a policy names, e.g. `kms:Encrypt`. (Alibaba checks ReEncrypt as
            /// `kms:ReEncryptFrom` on the source key and `kms:ReEncryptTo` on the destination;
            /// that split belongs to the RAM check once `coffer_iam` has KMS actions.)
            pub(crate) fn ram_action(self) -> &'static str {
                match self {
                    $(Action::$name => concat!("kms:", stringify!($name)),)*
                }
            }
        }
    };
}

actions! {
    CreateKey,
    DescribeKey,
    ListKeys,
    UpdateKeyDescription,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    DeleteAlias,
    ListAliases,
    ListAliasesByKeyId,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
    CreateKeyVersion,
    ListKeyVersions,
    DescribeKeyVersion,
    UpdateRotationPolicy,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteKeyMaterial,
    TagResource,
    UntagResource,
    ListResourceTags,
    DescribeRegions,
    DescribeAccountKmsStatus,
}

/// The action of a request, after checking its `Version` and `Format`.
///
/// `Action`/`Version` come from the parameters (RPC v1 and the old SDK) or from the
/// `x-acs-action`/`x-acs-version` headers (ACS3; the Tea SDK sends only these). Headers count only
/// when the scheme signs them: an RPC v1 signature covers parameters, not headers. When both
/// forms are present they must agree.
pub(crate) fn select(
    params: &Params,
    headers: &HeaderMap,
    scheme: Scheme,
) -> Result<Action, ApiError> {
    let signed_headers = scheme == Scheme::Acs3;
    let name = envelope(params, headers, "Action", "x-acs-action", signed_headers)?
        .ok_or_else(|| ApiError::missing("Action"))?;
    let version = envelope(params, headers, "Version", "x-acs-version", signed_headers)?
        .ok_or_else(|| ApiError::missing("Version"))?;
    if version != VERSION {
        return Err(ApiError::new(
            codes::INVALID_VERSION,
            format!(
                "The specified Version {version:?} is not supported; this KMS serves {VERSION}."
            ),
        ));
    }
    if params
        .optional("Format")
        .is_some_and(|format| !format.eq_ignore_ascii_case("JSON"))
    {
        return Err(ApiError::invalid("Format", "only JSON is supported"));
    }
    Action::parse(name).ok_or_else(|| {
        ApiError::new(
            codes::INVALID_ACTION,
            format!("Specified api {name:?} is not found, please check your url and method."),
        )
    })
}

fn envelope<'a>(
    params: &'a Params,
    headers: &'a HeaderMap,
    param: &str,
    header: &str,
    header_signed: bool,
) -> Result<Option<&'a str>, ApiError> {
    let from_param = params.optional(param);
    let from_header = match headers.get(header) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::invalid(header, "the header is not text"))?,
        ),
        None => None,
    };
    match (from_param, from_header) {
        (Some(p), Some(h)) if p != h => Err(ApiError::invalid(
            param,
            format!("it differs from the {header} header"),
        )),
        (Some(p), _) => Ok(Some(p)),
        (None, Some(h)) if header_signed => Ok(Some(h)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        query: &str,
        headers: &[(&str, &str)],
        scheme: Scheme,
        expected: Result<Action, &str>,
    ) {
        let params = Params::parse(query, None).unwrap();
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let got = select(&params, &map, scheme).map_err(|e| e.code);
        assert_eq!(got, expected, "{query} {headers:?}");
    }

    #[test]
    fn actions_come_from_signed_places_only() {
        let v = "Version=2016-01-20";
        check(
            &format!("Action=Encrypt&{v}"),
            &[],
            Scheme::Rpc,
            Ok(Action::Encrypt),
        );
        check(
            "",
            &[("x-acs-action", "Decrypt"), ("x-acs-version", VERSION)],
            Scheme::Acs3,
            Ok(Action::Decrypt),
        );
        // An RPC v1 signature does not cover headers.
        check(
            v,
            &[("x-acs-action", "Decrypt")],
            Scheme::Rpc,
            Err("MissingParameter"),
        );
        check(
            &format!("Action=Encrypt&{v}"),
            &[("x-acs-action", "Encrypt"), ("x-acs-version", VERSION)],
            Scheme::Rpc,
            Ok(Action::Encrypt),
        );
        check(
            &format!("Action=Encrypt&{v}"),
            &[("x-acs-action", "Decrypt")],
            Scheme::Acs3,
            Err("InvalidParameter"),
        );
    }

    #[test]
    fn version_format_and_name_are_checked() {
        check("Action=Encrypt", &[], Scheme::Rpc, Err("MissingParameter"));
        check(
            "Action=Encrypt&Version=2015-04-01",
            &[],
            Scheme::Rpc,
            Err("InvalidVersion"),
        );
        check(
            "Action=Nope&Version=2016-01-20",
            &[],
            Scheme::Rpc,
            Err("InvalidAction.NotFound"),
        );
        check(
            "Action=encrypt&Version=2016-01-20",
            &[],
            Scheme::Rpc,
            Err("InvalidAction.NotFound"),
        );
        for format in ["JSON", "json"] {
            check(
                &format!("Action=ListKeys&Version=2016-01-20&Format={format}"),
                &[],
                Scheme::Rpc,
                Ok(Action::ListKeys),
            );
        }
        check(
            "Action=ListKeys&Version=2016-01-20&Format=XML",
            &[],
            Scheme::Rpc,
            Err("InvalidParameter"),
        );
    }

    #[test]
    fn every_action_round_trips_and_names_its_ram_action() {
        for a in [
            Action::CreateKey,
            Action::GenerateDataKeyWithoutPlaintext,
            Action::DescribeRegions,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(a.ram_action(), format!("kms:{}", a.as_str()));
        }
    }
}
