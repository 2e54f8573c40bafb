//! CORS: PutBucketCors, GetBucketCors, DeleteBucketCors (`?cors`), the preflight `OPTIONS`
//! request, and the `Access-Control-*` headers of actual requests (OSS API reference,
//! "PutBucketCors" and "Options").
//!
//! A preflight is never signed: it is answered from the bucket's rules alone, 200 with the
//! headers of the first rule that allows the origin, method and announced headers, or 403
//! `AccessForbidden`. An actual request with an `Origin` is authorized as usual; when a rule
//! allows its origin and method, its answer (success or error) carries the rule's headers.

use coffer_core::{CorsConfig, CorsRequest, CorsRule, RequestContext};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::{HeaderMap, Method, StatusCode};

use super::{bucket_of, small_body};
use crate::error::{OssError, codes};
use crate::headers::*;
use crate::response::Reply;
use crate::router::Target;
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_cors};

/// Most rules a bucket has (PutBucketCors).
const MAX_RULES: usize = 10;
/// Methods a rule may allow.
const METHODS: &[&str] = &["GET", "PUT", "DELETE", "POST", "HEAD"];

/// OSS's message when no rule allows a preflight.
const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

pub(super) async fn put_cors(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let body = small_body(body, &parts.headers, false).await?;
    let config = validate(parse_cors(&body)?)?;
    svc.store
        .put_bucket_cors(ctx, grant, bucket_of(parts)?, config)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

/// The rules as OSS accepts them: 1 to 10 rules, each with an origin and a known method, at most
/// one `*` in an origin or an allowed header, none in an exposed header.
fn validate(xml: crate::xml::CorsConfiguration) -> Result<CorsConfig, OssError> {
    if xml.rules.is_empty() {
        return Err(OssError::malformed_xml(
            "a CORSConfiguration needs a CORSRule",
        ));
    }
    if xml.rules.len() > MAX_RULES {
        return Err(OssError::invalid_argument(
            "CORSRule",
            &xml.rules.len().to_string(),
            format!("A bucket can have at most {MAX_RULES} CORS rules."),
        ));
    }
    let mut rules = Vec::with_capacity(xml.rules.len());
    for rule in xml.rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(OssError::malformed_xml(
                "a CORSRule needs an AllowedOrigin and an AllowedMethod",
            ));
        }
        for origin in &rule.allowed_origins {
            one_wildcard("AllowedOrigin", origin)?;
        }
        for header in &rule.allowed_headers {
            one_wildcard("AllowedHeader", header)?;
        }
        for method in &rule.allowed_methods {
            if !METHODS.contains(&method.as_str()) {
                return Err(OssError::invalid_argument(
                    "AllowedMethod",
                    method,
                    format!("Unsupported method {method}."),
                ));
            }
        }
        for header in &rule.expose_headers {
            if header.contains('*') {
                return Err(OssError::invalid_argument(
                    "ExposeHeader",
                    header,
                    "ExposeHeader cannot contain a wildcard.",
                ));
            }
        }
        let max_age_seconds = match rule.max_age_seconds.as_deref().map(str::trim) {
            None => None,
            Some(v) => Some(v.parse::<u32>().map_err(|_| {
                OssError::invalid_argument(
                    "MaxAgeSeconds",
                    v,
                    "MaxAgeSeconds must be a non-negative integer.",
                )
            })?),
        };
        rules.push(CorsRule {
            allowed_origins: rule.allowed_origins,
            allowed_methods: rule.allowed_methods,
            allowed_headers: rule.allowed_headers,
            expose_headers: rule.expose_headers,
            max_age_seconds,
        });
    }
    let response_vary = match xml.response_vary.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(OssError::invalid_argument(
                "ResponseVary",
                other,
                "ResponseVary must be true or false.",
            ));
        }
    };
    Ok(CorsConfig {
        rules,
        response_vary,
    })
}

fn one_wildcard(name: &str, value: &str) -> Result<(), OssError> {
    if value.matches('*').count() > 1 {
        return Err(OssError::invalid_argument(
            name,
            value,
            format!("{name} can contain at most one * wildcard."),
        ));
    }
    Ok(())
}

pub(super) async fn get_cors(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let Some(config) = svc.store.bucket_cors(ctx, grant, bucket_of(parts)?).await? else {
        return Err(no_configuration(parts)?);
    };
    let mut w = XmlWriter::new("CORSConfiguration");
    for rule in &config.rules {
        w.open("CORSRule");
        for o in &rule.allowed_origins {
            w.elem("AllowedOrigin", o);
        }
        for m in &rule.allowed_methods {
            w.elem("AllowedMethod", m);
        }
        for h in &rule.allowed_headers {
            w.elem("AllowedHeader", h);
        }
        for h in &rule.expose_headers {
            w.elem("ExposeHeader", h);
        }
        w.elem_opt("MaxAgeSeconds", rule.max_age_seconds.map(|s| s.to_string()));
        w.close("CORSRule");
    }
    w.elem("ResponseVary", config.response_vary.to_string());
    Ok(Reply::xml(w.finish("CORSConfiguration")))
}

fn no_configuration(parts: &Parts) -> Result<OssError, OssError> {
    Ok(OssError::new(
        codes::NO_SUCH_CORS_CONFIGURATION,
        "The CORS Configuration does not exist.",
    )
    .detail("BucketName", bucket_of(parts)?.to_string()))
}

pub(super) async fn delete_cors(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store
        .delete_bucket_cors(ctx, grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

/// Answers a preflight `OPTIONS` request on a bucket or object.
pub(crate) async fn preflight(
    svc: &OssService,
    target: &Target,
    headers: &HeaderMap,
) -> Result<Reply, OssError> {
    let Some(bucket) = &target.bucket else {
        return Err(crate::server::method_not_allowed());
    };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (text(ORIGIN), text(ACCESS_CONTROL_REQUEST_METHOD)) else {
        return Err(OssError::new(
            codes::CORS_FORBIDDEN,
            "CORSResponse: Insufficient information. Origin request header and Access-Control-Request-Method are needed.",
        ));
    };
    let announced: Vec<&str> = text(ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let Some(config) = svc.store.cors_rules(bucket).await? else {
        return Err(OssError::new(
            codes::CORS_FORBIDDEN,
            "CORSResponse: CORS is not enabled for this bucket.",
        ));
    };
    let request = CorsRequest {
        origin,
        method,
        headers: &announced,
    };
    let Some(rule) = request.matching(&config) else {
        return Err(OssError::new(codes::CORS_FORBIDDEN, NOT_ALLOWED));
    };
    let mut reply = Reply::new(StatusCode::OK);
    for (name, value) in allow_headers(&config, rule, origin) {
        reply.header(name, value);
    }
    reply.header(
        ACCESS_CONTROL_ALLOW_METHODS,
        rule.allowed_methods.join(", "),
    );
    if !announced.is_empty() {
        reply.header(ACCESS_CONTROL_ALLOW_HEADERS, announced.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        reply.header(ACCESS_CONTROL_MAX_AGE, age.to_string());
    }
    Ok(reply)
}

/// The headers of an actual request's answer when the bucket has a rule that allows its
/// `Origin` and method; empty otherwise (no `Origin`, no rules, no match, no bucket).
pub(crate) async fn actual_request_headers(
    svc: &OssService,
    method: &Method,
    target: &Target,
    headers: &HeaderMap,
) -> Vec<(&'static str, String)> {
    let (Some(bucket), Some(origin)) = (
        &target.bucket,
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
    ) else {
        return Vec::new();
    };
    // A failed read only costs the headers; the request itself reports its own errors.
    let Ok(Some(config)) = svc.store.cors_rules(bucket).await else {
        return Vec::new();
    };
    let request = CorsRequest {
        origin,
        method: method.as_str(),
        headers: &[],
    };
    match request.matching(&config) {
        Some(rule) => {
            let mut out = allow_headers(&config, rule, origin);
            out.push((
                ACCESS_CONTROL_ALLOW_METHODS,
                rule.allowed_methods.join(", "),
            ));
            if let Some(age) = rule.max_age_seconds {
                out.push((ACCESS_CONTROL_MAX_AGE, age.to_string()));
            }
            out
        }
        None if config.response_vary => vec![(VARY, "Origin".to_owned())],
        None => Vec::new(),
    }
}

/// `Access-Control-Allow-Origin` (`*` when the rule allows any origin, else the request's),
/// the exposed headers, and `Vary: Origin` when the configuration asks for it.
fn allow_headers(
    config: &CorsConfig,
    rule: &CorsRule,
    origin: &str,
) -> Vec<(&'static str, String)> {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    let mut out = vec![(
        ACCESS_CONTROL_ALLOW_ORIGIN,
        if any && !config.response_vary {
            "*".to_owned()
        } else {
            origin.to_owned()
        },
    )];
    if !rule.expose_headers.is_empty() {
        out.push((
            ACCESS_CONTROL_EXPOSE_HEADERS,
            rule.expose_headers.join(", "),
        ));
    }
    if config.response_vary {
        out.push((VARY, "Origin".to_owned()));
    }
    out
}
