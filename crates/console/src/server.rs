//! The console's dialect of the shared HTTP edge (`coffer_http`): assets, login and logout, the
//! session and CSRF checks in front of every page, and the routing table.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_access::{Access, RequestFacts, Target};
use coffer_core::{RequestContext, Store};
use coffer_http::RequestBody;
use coffer_iam::{Action, Grant, Iam, Principal};
use coffer_kms_api::KmsApiService;
use coffer_types::RequestId;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use maud::html;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::info_span;
use zeroize::Zeroizing;

use crate::error::ConsoleError;
use crate::form::Form;
use crate::page::{self, Chrome, Section};
use crate::reply::{Body, Reply};
use crate::session::{self, Flash, Missing, Sessions};

/// Largest form body read, in bytes (uploads are not forms: they stream).
const MAX_FORM_LEN: usize = 256 * 1024;

/// Settings of the console.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's region, shown on bucket pages.
    pub region: String,
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active.
    pub session_lifetime: Duration,
}

/// The services the console acts through, as the logged-in principal.
pub struct ConsoleService {
    pub(crate) store: Arc<Store>,
    pub(crate) access: Arc<Access>,
    pub(crate) iam: Arc<Iam>,
    pub(crate) kms: Arc<KmsApiService>,
    pub(crate) admin: Arc<coffer_admin::AdminService>,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
    pub(crate) jobs: crate::reencrypt::Jobs,
    pub(crate) logins: crate::throttle::LoginThrottle,
}

impl ConsoleService {
    /// The console over `store` (authorized through `access`), the KMS API service `kms` and
    /// the admin API service `admin` (whose in-process entries authorize `kms:*` and `ram:*` as
    /// their APIs do).
    pub fn new(
        store: Arc<Store>,
        access: Arc<Access>,
        kms: Arc<KmsApiService>,
        admin: Arc<coffer_admin::AdminService>,
        config: Config,
    ) -> Self {
        Self {
            admin,
            store,
            iam: access.iam().clone(),
            access,
            kms,
            sessions: Sessions::new(config.idle_timeout, config.session_lifetime),
            jobs: Default::default(),
            logins: Default::default(),
            config,
        }
    }
}

impl std::fmt::Debug for ConsoleService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Serves the console on `listener` behind `edge` until `shutdown` resolves.
pub async fn serve(
    edge: coffer_http::Edge,
    listener: TcpListener,
    service: Arc<ConsoleService>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    edge.serve(listener, Arc::new(Console(service)), shutdown)
        .await
}

struct Console(Arc<ConsoleService>);

type Exchange = coffer_http::Exchange<RequestId>;

impl coffer_http::Dialect for Console {
    type Reply = Reply;
    type Error = ConsoleError;
    type RequestId = RequestId;
    type Body = Body;
    const API: &'static str = "console";

    fn request_id(&self) -> RequestId {
        RequestId::random()
    }

    fn span(&self, req: &Request<RequestBody>, ex: &Exchange) -> tracing::Span {
        info_span!(
            "request",
            api = "console",
            request_id = %ex.request_id,
            method = %req.method(),
            path = %req.uri().path(),
            op = tracing::field::Empty,
            access_key_id = tracing::field::Empty,
        )
    }

    async fn dispatch(
        &self,
        req: Request<RequestBody>,
        ex: &Exchange,
    ) -> Result<Reply, ConsoleError> {
        dispatch(&self.0, req, ex).await
    }

    fn internal_error(&self, what: &str) -> ConsoleError {
        ConsoleError::internal(what)
    }

    fn failure<'a>(&self, err: &'a ConsoleError) -> coffer_http::Failure<'a> {
        coffer_http::Failure {
            status: err.status,
            code: err.code.as_str().into(),
            cause: err.cause.as_ref().map(|c| c as &dyn std::fmt::Debug),
        }
    }

    fn respond(&self, outcome: Result<Reply, ConsoleError>, _ex: &Exchange) -> Response<Body> {
        match outcome {
            Ok(reply) => reply.finish(),
            Err(mut e) => {
                let body = e.page.take().unwrap_or_else(|| {
                    page::page(
                        &page::words(&e.code),
                        None,
                        html! {
                            h1 { (page::words(&e.code)) }
                            (page::banner_for(&e))
                            p { a href="/buckets" { "Back to the console" } }
                        },
                    )
                });
                let mut response = Reply::html(e.status, body).finish();
                if e.close {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                }
                response
            }
        }
    }
}

impl ConsoleError {
    /// Marks the error to close the connection if `req`'s body was never read.
    fn closing(mut self, req: &Req) -> Self {
        self.close = req.body.is_some();
        self
    }
}

/// One request as the handlers see it.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Form,
    pub(crate) headers: HeaderMap,
    body: Option<RequestBody>,
    /// The form body, once read.
    form: Option<Form>,
    pub(crate) secure: bool,
}

impl Req {
    pub(crate) fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The urlencoded form body (empty for other bodies).
    pub(crate) async fn form(&mut self) -> Result<Form, ConsoleError> {
        if let Some(f) = &self.form {
            return Ok(f.clone());
        }
        let is_form = self
            .header(header::CONTENT_TYPE)
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let form = match self.body.take() {
            Some(body) if is_form => {
                let bytes = Limited::new(body, MAX_FORM_LEN)
                    .collect()
                    .await
                    .map_err(|_| {
                        ConsoleError::invalid("The form could not be read or is too large.")
                    })?
                    .to_bytes();
                Form::parse(&bytes)
            }
            _ => Form::default(),
        };
        self.form = Some(form.clone());
        Ok(form)
    }

    /// Takes the body, for streaming uploads.
    pub(crate) fn take_body(&mut self) -> Option<RequestBody> {
        self.body.take()
    }
}

/// The logged-in principal and what the request observed: what every handler acts as.
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    pub(crate) who: String,
    pub(crate) session_id: String,
    pub(crate) csrf: String,
    pub(crate) facts: RequestFacts,
    pub(crate) ctx: RequestContext,
}

impl Caller {
    /// The grant for `action` on `target`, decided by the access layer exactly as for an API
    /// request of this principal.
    pub(crate) async fn authorize(
        &self,
        access: &Access,
        action: Action,
        target: Target<'_>,
    ) -> Result<Grant, ConsoleError> {
        Ok(access
            .authorize(&self.principal, action, target, &self.facts)
            .await?)
    }

    /// The layout's view of the session, with the message left for this page.
    pub(crate) fn chrome(&self, svc: &ConsoleService, section: Section) -> Chrome<'_> {
        Chrome {
            who: &self.who,
            csrf: &self.csrf,
            section,
            flash: svc.sessions.take_flash(&self.session_id),
        }
    }

    /// A page of the session.
    pub(crate) fn page(
        &self,
        svc: &ConsoleService,
        section: Section,
        title: &str,
        content: maud::Markup,
    ) -> Reply {
        Reply::html(
            StatusCode::OK,
            page::page(title, Some(&self.chrome(svc, section)), content),
        )
    }

    /// An error reported on a page of the session.
    pub(crate) fn error_page(
        &self,
        svc: &ConsoleService,
        section: Section,
        title: &str,
        mut e: ConsoleError,
        content: maud::Markup,
    ) -> ConsoleError {
        let body = html! {
            (page::banner_for(&e))
            (content)
        };
        e.page = Some(page::page(title, Some(&self.chrome(svc, section)), body));
        e
    }

    /// After a form: back to `to`, with the outcome shown there.
    pub(crate) fn done(
        &self,
        svc: &ConsoleService,
        to: &str,
        outcome: Result<String, ConsoleError>,
    ) -> Reply {
        let flash = match outcome {
            Ok(text) => Flash { code: None, text },
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::error!(code = %e.code, cause = ?e.cause, "console action failed");
                }
                Flash {
                    code: Some(e.code),
                    text: e.message,
                }
            }
        };
        svc.sessions.set_flash(&self.session_id, flash);
        Reply::redirect(to)
    }
}

async fn dispatch(
    svc: &ConsoleService,
    req: Request<RequestBody>,
    ex: &Exchange,
) -> Result<Reply, ConsoleError> {
    let (head, body) = req.into_parts();
    let mut req = Req {
        method: head.method,
        path: head.uri.path().to_owned(),
        query: Form::parse(head.uri.query().unwrap_or("").as_bytes()),
        headers: head.headers,
        body: Some(body),
        form: None,
        secure: ex.secure,
    };
    if req.method == Method::GET
        && let Some(reply) = crate::assets::serve(&req.path)
    {
        ex.set_op("Asset");
        return Ok(reply);
    }
    if req.method != Method::GET && req.method != Method::HEAD {
        same_origin(&req, ex).map_err(|e| e.closing(&req))?;
    }
    match (&req.method, req.path.as_str()) {
        (&Method::GET, "/login") => {
            ex.set_op("LoginPage");
            return Ok(login_page(&req, None, StatusCode::OK));
        }
        (&Method::POST, "/login") => {
            ex.set_op("Login");
            return login(svc, &mut req, ex.peer.ip()).await;
        }
        _ => {}
    }
    let caller = match session_of(svc, &req, ex) {
        Ok(c) => c,
        Err(missing) => return Ok(not_logged_in(&req, missing)),
    };
    tracing::Span::current().record(
        "access_key_id",
        caller.principal.access_key_id().unwrap_or(""),
    );
    if req.method != Method::GET
        && let Err(e) = check_csrf(&mut req, &caller).await
    {
        return Err(e.closing(&req));
    }
    if (&req.method, req.path.as_str()) == (&Method::POST, "/logout") {
        ex.set_op("Logout");
        svc.sessions.remove(&caller.session_id);
        return Ok(Reply::redirect("/login?bye=1").cookie(&session::set_cookie(
            session::SESSION_COOKIE,
            "",
            req.secure,
            Some(0),
        )));
    }
    crate::routes::route(svc, &caller, req, ex).await
}

/// A form posted from another site is refused before anything else: the browser says where a
/// request comes from (`Origin`, `Sec-Fetch-Site`), and the console's own pages never post
/// across origins. The CSRF token is the check that does not depend on the browser.
fn same_origin(req: &Req, ex: &Exchange) -> Result<(), ConsoleError> {
    let cross = || {
        ConsoleError::new(
            StatusCode::FORBIDDEN,
            "InvalidOrigin",
            "The form was sent from another site; the console accepts only its own forms.",
        )
    };
    if let Some(site) = req.header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(cross());
    }
    if let Some(origin) = req.header(header::ORIGIN) {
        let scheme = if ex.secure { "https" } else { "http" };
        if origin != format!("{scheme}://{}", ex.host) {
            return Err(cross());
        }
    }
    Ok(())
}

/// The session the cookie names, its key resolved again (a key disabled since login, or an
/// expired STS token, ends it now).
fn session_of(svc: &ConsoleService, req: &Req, ex: &Exchange) -> Result<Caller, Missing> {
    let id = req
        .header(header::COOKIE)
        .and_then(|h| session::cookie(h, session::SESSION_COOKIE))
        .ok_or(Missing::None)?
        .to_owned();
    let s = svc.sessions.touch(&id, Instant::now())?;
    let now = OffsetDateTime::now_utc();
    let (principal, _secret) = match svc.iam.credentials(
        &s.access_key_id,
        s.security_token.as_deref().map(|t| t.as_str()),
        now,
    ) {
        Ok(found) => found,
        Err(_) => {
            svc.sessions.remove(&id);
            return Err(Missing::Expired);
        }
    };
    let facts = RequestFacts {
        source_ip: Some(ex.peer.ip()),
        secure_transport: ex.secure,
        received: now,
        user_agent: req.header(header::USER_AGENT).map(str::to_owned),
        list_prefix: None,
        list_delimiter: None,
        write_headers: Vec::new(),
        object_tags: Vec::new(),
        sets_object_acl: false,
        sets_object_tags: false,
    };
    Ok(Caller {
        who: principal.to_string(),
        principal,
        session_id: id,
        csrf: s.csrf,
        facts,
        ctx: RequestContext {
            request_id: ex.request_id.clone(),
            source: Some(ex.peer),
            secure: ex.secure,
            customer_keys: Default::default(),
        },
    })
}

async fn check_csrf(req: &mut Req, caller: &Caller) -> Result<(), ConsoleError> {
    let given = match req.header("x-csrf-token") {
        Some(h) => h.to_owned(),
        None => {
            // Forms carry it as a field; read the form now and keep it for the handler.
            let form = req.form().await?;
            form.raw("csrf").unwrap_or("").to_owned()
        }
    };
    if session::tokens_match(&given, &caller.csrf) {
        Ok(())
    } else {
        Err(ConsoleError::new(
            StatusCode::FORBIDDEN,
            "InvalidCsrfToken",
            "The form's security token is missing or stale. Reload the page and try again.",
        ))
    }
}

fn not_logged_in(req: &Req, missing: Missing) -> Reply {
    let expired = missing == Missing::Expired;
    if req.method == Method::GET {
        let mut to = String::from("/login?");
        if expired {
            to.push_str("expired=1&");
        }
        to.push_str("next=");
        to.push_str(&crate::form::encode(&req.path));
        if let Some(q) = req.query.raw("prefix") {
            to.push_str(&crate::form::encode(&format!(
                "?prefix={}",
                crate::form::encode(q)
            )));
        }
        return Reply::redirect(&to);
    }
    let (code, text) = if expired {
        ("SessionExpired", "Your session has ended. Log in again.")
    } else {
        ("NotLoggedIn", "Log in to use the console.")
    };
    if req.header("x-csrf-token").is_some() {
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({ "Code": code, "Message": text }),
        );
    }
    login_page(
        req,
        Some(ConsoleError::new(StatusCode::UNAUTHORIZED, code, text)),
        StatusCode::UNAUTHORIZED,
    )
}

/// A `next=` target that stays on the console.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/buckets".to_owned(),
    }
}

fn login_page(req: &Req, error: Option<ConsoleError>, status: StatusCode) -> Reply {
    // One nonce per browser while it is fresh: a second tab (or a stray request that lands on
    // the login page) must not invalidate the form already shown.
    let nonce = req
        .header(header::COOKIE)
        .and_then(|h| session::cookie(h, session::LOGIN_COOKIE))
        .filter(|n| {
            n.len() == 43
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(session::random_token, str::to_owned);
    let next = safe_next(req.query.get("next"));
    let content = html! {
        div.login {
            h1 { "Log in to coffer" }
            @if let Some(e) = &error { (page::banner_for(e)) }
            @if req.query.get("expired").is_some() {
                div.notice.warn role="status" { "Your session ended after a period without activity. Log in again." }
            }
            @if req.query.get("bye").is_some() {
                div.notice.ok role="status" { "You are logged out." }
            }
            form method="post" action="/login" {
                input type="hidden" name="login" value=(nonce);
                input type="hidden" name="next" value=(next);
                label for="access_key_id" { "AccessKey ID" }
                input #access_key_id name="access_key_id" type="text" autocomplete="username" required autofocus;
                label for="access_key_secret" { "AccessKey secret" }
                input #access_key_secret name="access_key_secret" type="password" autocomplete="current-password" required;
                label for="security_token" { "Security token (STS credentials only)" }
                input #security_token name="security_token" type="password" autocomplete="off";
                button.primary type="submit" { "Log in" }
            }
            p.hint { "Use the root key pair, a RAM user's access key, or STS credentials. The session ends after a period without activity and when you log out." }
        }
    };
    Reply::html(status, page::page("Log in", None, content)).cookie(&session::set_cookie(
        session::LOGIN_COOKIE,
        &nonce,
        req.secure,
        Some(600),
    ))
}

async fn login(
    svc: &ConsoleService,
    req: &mut Req,
    peer: std::net::IpAddr,
) -> Result<Reply, ConsoleError> {
    let form = req.form().await?;
    let cookie_nonce = req
        .header(header::COOKIE)
        .and_then(|h| session::cookie(h, session::LOGIN_COOKIE))
        .unwrap_or("");
    if cookie_nonce.is_empty()
        || !session::tokens_match(form.raw("login").unwrap_or(""), cookie_nonce)
    {
        let e = ConsoleError::new(
            StatusCode::FORBIDDEN,
            "InvalidCsrfToken",
            "The login form is stale or was sent from another site. Try again.",
        );
        return Ok(login_page(req, Some(e), StatusCode::FORBIDDEN));
    }
    let ak = form.get("access_key_id").unwrap_or("").to_owned();
    let secret = Zeroizing::new(form.raw("access_key_secret").unwrap_or("").to_owned());
    let token = form
        .raw("security_token")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Zeroizing::new(t.to_owned()));
    if let Some(wait) = svc.logins.wait(&ak, peer, Instant::now()) {
        let e = ConsoleError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyLoginAttempts",
            format!(
                "Too many failed logins; try again in {} seconds.",
                wait.as_secs().max(1)
            ),
        );
        return Ok(login_page(req, Some(e), StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, &wait.as_secs().max(1).to_string()));
    }
    let refused = || {
        ConsoleError::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AccessKey ID or secret is not valid.",
        )
    };
    let outcome = match svc.iam.credentials(
        &ak,
        token.as_deref().map(|t| t.as_str()),
        OffsetDateTime::now_utc(),
    ) {
        Ok((principal, expected)) if expected.ct_eq(&secret) => Ok(principal),
        Ok(_) => Err(refused()),
        Err(coffer_iam::Error::InvalidAccessKeyId | coffer_iam::Error::AccessKeyDisabled) => {
            Err(refused())
        }
        Err(e) => Err(ConsoleError::from(e)),
    };
    match &outcome {
        Ok(_) => svc.logins.succeed(&ak),
        Err(e) if e.code == "InvalidAccessKeyId" => svc.logins.fail(&ak, peer, Instant::now()),
        Err(_) => {}
    }
    match outcome {
        Ok(principal) => {
            tracing::info!(principal = %principal, "console login");
            let id = svc.sessions.create(ak, token, Instant::now());
            Ok(Reply::redirect(&safe_next(form.get("next")))
                .cookie(&session::set_cookie(
                    session::SESSION_COOKIE,
                    &id,
                    req.secure,
                    None,
                ))
                .cookie(&session::set_cookie(
                    session::LOGIN_COOKIE,
                    "",
                    req.secure,
                    Some(0),
                )))
        }
        Err(e) => Ok(login_page(req, Some(e), StatusCode::FORBIDDEN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_the_console() {
        assert_eq!(safe_next(Some("/buckets/b/objects")), "/buckets/b/objects");
        assert_eq!(safe_next(Some("//evil.example/")), "/buckets");
        assert_eq!(safe_next(Some("https://evil.example/")), "/buckets");
        assert_eq!(safe_next(Some("/\\evil")), "/buckets");
        assert_eq!(safe_next(None), "/buckets");
    }
}
