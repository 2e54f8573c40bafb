//! `coffer server`: opens the backends, builds the services over them, recovers from any crash,
//! serves until SIGTERM or SIGINT, then stops in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};
use coffer_core::Store;
use coffer_iam::Iam;
use coffer_oss::OssService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;
use tracing_subscriber::EnvFilter;

use crate::backends::{Backends, open_backends};
use crate::config::{LogFormat, ServerConfig};
use crate::credentials;
use crate::duties::{Duties, Duty};

/// Logs go to stderr; `RUST_LOG` overrides the default level (info).
pub(crate) fn init_tracing(config: &ServerConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.sections.server.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server can still be stopped by SIGKILL.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
}

/// Rotates the SSE-OSS master key when due, checking hourly, on the node holding the duties.
async fn rotate_keyring(
    duties: Arc<Duties>,
    keyring: coffer_keyring::Keyring,
    interval: Option<i64>,
    stop: watch::Receiver<bool>,
) {
    let Some(interval) = interval else {
        return;
    };
    let pass = || {
        let keyring = keyring.clone();
        async move {
            if let Err(e) = keyring.rotate_if_due(crate::keyring_cmd::now(), interval) {
                tracing::error!(error = %e, "SSE master key rotation failed");
            }
        }
    };
    duties
        .every(
            Duty::KeyringRotation,
            std::time::Duration::from_secs(3600),
            pass,
            stop,
        )
        .await;
}

/// The KMS's clock and how often its schedule runs: the wall clock and once a minute, except in
/// a binary built with the `testing` feature when `COFFER_TEST_KMS_CLOCK_FILE` is set.
fn kms_clock(
    #[allow(unused_variables)] config: &ServerConfig,
) -> (Arc<dyn coffer_kms::Clock>, std::time::Duration) {
    #[cfg(feature = "testing")]
    if let Some(path) = &config.test_kms_clock_file {
        tracing::warn!(path = %path.display(), "KMS test clock enabled: time is read from a file");
        return (
            Arc::new(crate::test_clock::FileOffsetClock::new(path.clone())),
            std::time::Duration::from_millis(200),
        );
    }
    (
        Arc::new(coffer_kms::SystemClock),
        std::time::Duration::from_secs(60),
    )
}

/// Runs the KMS's due rotations, deletions and material expiries on its schedule, on the node
/// holding the duties.
async fn tick_kms(
    duties: Arc<Duties>,
    kms: Arc<coffer_kms::Kms>,
    clock: Arc<dyn coffer_kms::Clock>,
    every: std::time::Duration,
    stop: watch::Receiver<bool>,
) {
    let pass = || {
        let (k, now) = (kms.clone(), clock.now());
        async move {
            match tokio::task::spawn_blocking(move || k.tick(now)).await {
                Ok(Ok(report)) => tracing::debug!(?report, "KMS tick"),
                Ok(Err(e)) => tracing::error!(error = %e, "KMS tick failed"),
                Err(e) => tracing::error!(error = %e, "KMS tick panicked"),
            }
        }
    };
    duties.every(Duty::KmsSchedule, every, pass, stop).await;
}

/// Applies the buckets' lifecycle rules hourly (in a binary built with the `testing` feature
/// and a test clock, as often as the KMS's schedule), on the node holding the duties. Time is
/// the KMS's clock, so a test that moves it forward makes objects expire.
async fn apply_lifecycle(
    duties: Arc<Duties>,
    store: Arc<Store>,
    clock: Arc<dyn coffer_kms::Clock>,
    every: std::time::Duration,
    stop: watch::Receiver<bool>,
) {
    let pass = || {
        let (store, now) = (store.clone(), clock.now());
        async move {
            let now = coffer_core::UnixMillis(now.unix_seconds().saturating_mul(1000));
            if let Err(e) = store.apply_lifecycle(now).await {
                tracing::error!(error = %e, "lifecycle pass failed");
            }
        }
    };
    duties.every(Duty::Lifecycle, every, pass, stop).await;
}

/// Hourly; as often as the KMS's schedule when a test clock makes that sub-second.
fn lifecycle_every(kms_tick_every: std::time::Duration) -> std::time::Duration {
    if kms_tick_every < std::time::Duration::from_secs(1) {
        kms_tick_every
    } else {
        std::time::Duration::from_secs(3600)
    }
}

/// How often a node checks the shared identity and KMS stores for changes other nodes made: the
/// bound on how long a revocation (a disabled key, a detached policy, a disabled CMK) made on one
/// node goes unseen on another. What another node creates or grants is seen at once: lookups
/// that would answer "unknown" or "denied" check the store first.
const SHARED_STATE_STALENESS: std::time::Duration = std::time::Duration::from_secs(1);

/// Reloads the identities, the KMS's keys and a shared SSE keyring when another node changed
/// them, and adds this node's KMS usage to shared counters.
async fn follow_shared_state(
    iam: Arc<Iam>,
    kms: Arc<coffer_kms::Kms>,
    keyring: coffer_keyring::Keyring,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (i, k, r) = (iam.clone(), kms.clone(), keyring.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            [
                i.refresh().map(|_| ()).map_err(|e| e.to_string()),
                k.refresh().map(|_| ()).map_err(|e| e.to_string()),
                if r.is_shared() {
                    r.reload().map_err(|e| e.to_string())
                } else {
                    Ok(())
                },
                // Shared counters show other nodes' calls as of their last flush: flushing here
                // bounds that lag by the same period.
                if k.has_shared_usage() {
                    k.flush().map_err(|e| e.to_string())
                } else {
                    Ok(())
                },
            ]
        })
        .await;
        match outcome {
            Ok(outcomes) => {
                for e in outcomes.into_iter().filter_map(Result::err) {
                    tracing::warn!(error = %e, "could not follow the shared state");
                }
            }
            Err(e) => tracing::error!(error = %e, "following the shared state panicked"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(SHARED_STATE_STALENESS) => {}
        }
    }
}

/// `coffer server`, start to stop.
pub(crate) async fn run(mut config: ServerConfig) -> Result<()> {
    let started = SystemTime::now();
    let backends = open_backends(&config).await?;
    // Unknown blobs younger than this may still be another node's write in progress.
    let orphans_before = started
        .checked_sub(backends.orphan_grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let services = build_services(&mut config, backends).await?;
    services
        .store
        .collector()
        .recover(orphans_before)
        .await
        .context("recover from interrupted writes")?;
    let edge = prepare_edge(&mut config)?;
    let listeners = Listeners::bind(&config).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = serve(&config, &services, listeners, edge, &stop_rx);
    let duties = start_background_duties(&config, &services, &stop_rx);
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    shutdown(servers, duties, &services.kms).await;
    Ok(())
}

/// The services the listeners serve and the background duties tend.
struct Services {
    store: Arc<Store>,
    iam: Arc<Iam>,
    access: Arc<coffer_access::Access>,
    kms: Arc<coffer_kms::Kms>,
    kms_clock: Arc<dyn coffer_kms::Clock>,
    kms_tick_every: std::time::Duration,
    keyring: coffer_keyring::Keyring,
    /// The signature nonces every node spent, when nodes share a database.
    nonces: Option<Arc<dyn coffer_signature::replay::SpentNonces>>,
    duties: Arc<Duties>,
    backend_metrics: coffer_oss::MetricsSource,
}

/// Unseals the keyring, the KMS and the identities with the root key and builds the store over
/// the backends.
async fn build_services(config: &mut ServerConfig, backends: Backends) -> Result<Services> {
    let root_key = crate::root_key::load_or_create(
        &config.root_key_file,
        config
            .secrets
            .root_key
            .take()
            .map(|mut s| std::mem::take(&mut *s)),
    )?;
    let root = credentials::load_or_create(
        &config.data_dir.root_credentials(),
        &root_key,
        config.secrets.root_access_key_id.take(),
        config
            .secrets
            .root_access_key_secret
            .take()
            .map(|mut s| std::mem::take(&mut *s)),
    )?;
    let sections = &config.sections;
    let region = &sections.server.region;
    let (kms_clock, kms_tick_every) = kms_clock(config);
    let (kms_usage, nonces, shared_keyring) = match backends.shared {
        Some(s) => (Some(s.kms_usage), Some(s.nonces), Some(s.keyring)),
        None => (None, None, None),
    };
    let kms = coffer_kms::Kms::with_store(
        backends.kms,
        backends.kms_audit,
        &root_key,
        coffer_kms::Config {
            region: region.clone(),
            ..Default::default()
        },
        kms_clock.clone(),
    )
    .context("open the KMS (is the root key the one it was sealed with?)")?;
    let kms = Arc::new(match kms_usage {
        Some(usage) => kms.with_usage_store(usage),
        None => kms,
    });
    let keyring = match shared_keyring {
        // A node that kept its own keyring file seeds the shared keyring with it if there is none
        // yet, so what it wrote stays readable.
        Some(shared) => coffer_keyring::Keyring::open_shared(
            shared,
            Some(&config.data_dir.keyring()),
            &root_key,
            crate::keyring_cmd::now(),
        ),
        None => coffer_keyring::Keyring::open(
            &config.data_dir.keyring(),
            &root_key,
            crate::keyring_cmd::now(),
        ),
    }
    .context("open the SSE keyring (is the root key the one it was sealed with?)")?;
    // Identities first: the access layer (and SSE-KMS through it) decides with them, and moves
    // bucket policies an older version kept in iam.redb into their buckets.
    let account_id = Iam::shared_account_id(&*backends.identities, &root.account_id)
        .context("settle the account id in the shared identity store")?;
    if account_id != root.account_id {
        info!(%account_id, "serving the account of the shared identity store");
    }
    let iam = Arc::new(
        Iam::open(
            coffer_iam::RootAccount {
                account_id,
                access_key_id: root.access_key_id,
                secret: root.secret,
            },
            backends.identities,
            &root_key,
        )
        .context("open the identity store (is the root key the one it was sealed with?)")?
        .with_min_session_duration(sections.iam.min_session_duration()),
    );
    drop(root_key);
    let access = Arc::new(
        coffer_access::Access::open(
            iam.clone(),
            backends.meta.clone(),
            Some(kms.clone()),
            region.clone(),
        )
        .await
        .context("open the access layer (moving bucket policies into the metadata store)")?,
    );
    let store = Arc::new(
        Store::new(
            backends.meta,
            backends.blobs,
            coffer_core::Config {
                owner_id: iam.account_id().to_owned(),
                ..sections.core.clone()
            },
        )
        .with_keyring(keyring.clone())
        .with_kms(access.sse_kms().context("SSE-KMS needs the KMS")?),
    );
    Ok(Services {
        store,
        iam,
        access,
        kms,
        kms_clock,
        kms_tick_every,
        keyring,
        nonces,
        duties: Arc::new(Duties::new(backends.duty_lease)),
        backend_metrics: backends.metrics,
    })
}

/// The SSE-OSS keyring's primary version and generation as this node uses them, for `/metrics`
/// (on several nodes: whether a rotation has reached this one).
fn keyring_metrics(keyring: &coffer_keyring::Keyring) -> String {
    let primary = keyring
        .versions()
        .iter()
        .find(|v| v.primary)
        .map_or(0, |v| v.version);
    format!(
        "# HELP coffer_sse_keyring_primary_version The SSE-OSS master key version new objects use.\n\
         # TYPE coffer_sse_keyring_primary_version gauge\n\
         coffer_sse_keyring_primary_version {primary}\n\
         # HELP coffer_sse_keyring_generation The SSE-OSS keyring's generation this node holds.\n\
         # TYPE coffer_sse_keyring_generation gauge\n\
         coffer_sse_keyring_generation {}\n",
        keyring.generation()
    )
}

/// The network edge every listener shares: refuses to expose the KMS and admin APIs in the
/// clear, settles the TLS files (a self-signed pair on first start if asked) and the limits.
fn prepare_edge(config: &mut ServerConfig) -> Result<coffer_http::Edge> {
    let server = &config.sections.server;
    let listen_names = [
        server.listen,
        server.kms_listen,
        server.admin_listen(),
        config.sections.s3.listen(server.listen.port() == 0),
        config.sections.console.listen(server.listen.port() == 0),
    ];
    let http = &mut config.sections.http;
    http.check_exposure("KMS", listen_names[1])
        .and_then(|()| http.check_exposure("admin", listen_names[2]))
        .and_then(|()| http.check_exposure("console", listen_names[4]))
        .map_err(anyhow::Error::msg)?;
    if let Some(fingerprint) = http.prepare_tls(config.data_dir.root(), &listen_names)? {
        info!(sha256 = %fingerprint, "TLS with a self-signed certificate (trust it by this fingerprint)");
    }
    Ok(coffer_http::Edge::new(http)?)
}

/// The API listeners, bound.
struct Listeners {
    oss: TcpListener,
    s3: TcpListener,
    kms: TcpListener,
    admin: TcpListener,
    console: TcpListener,
}

impl Listeners {
    /// Binds every listener, then announces the addresses (log line and ready file).
    async fn bind(config: &ServerConfig) -> Result<Self> {
        let server = &config.sections.server;
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen on {addr}{what}"))
        };
        let listeners = Self {
            oss: bind(server.listen, "").await?,
            s3: bind(
                config.sections.s3.listen(server.listen.port() == 0),
                " (S3 API)",
            )
            .await?,
            kms: bind(server.kms_listen, " (KMS API)").await?,
            admin: bind(server.admin_listen(), " (admin API)").await?,
            console: bind(
                config.sections.console.listen(server.listen.port() == 0),
                " (web console)",
            )
            .await?,
        };
        let (oss, s3, kms, admin, console) = (
            listeners.oss.local_addr()?,
            listeners.s3.local_addr()?,
            listeners.kms.local_addr()?,
            listeners.admin.local_addr()?,
            listeners.console.local_addr()?,
        );
        info!(%oss, %s3, %kms, %admin, %console, data_dir = %config.data_dir.root().display(), region = %server.region, "coffer listening");
        if let Some(path) = &server.ready_file {
            let tmp = path.with_extension("tmp");
            let ready = serde_json::json!({
                "oss": oss.to_string(),
                "s3": s3.to_string(),
                "kms": kms.to_string(),
                "admin": admin.to_string(),
                "console": console.to_string(),
            });
            std::fs::write(&tmp, ready.to_string()).context("write ready file")?;
            std::fs::rename(&tmp, path).context("write ready file")?;
        }
        Ok(listeners)
    }
}

type Task = tokio::task::JoinHandle<()>;
type Server = tokio::task::JoinHandle<std::io::Result<()>>;

/// Resolves once `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Starts the OSS, S3, KMS and admin APIs and the web console, each stopping gracefully when `stop` turns true.
fn serve(
    config: &ServerConfig,
    services: &Services,
    listeners: Listeners,
    edge: coffer_http::Edge,
    stop: &watch::Receiver<bool>,
) -> Vec<(&'static str, Server)> {
    let sections = &config.sections;
    let region = &sections.server.region;
    let listening = listeners
        .oss
        .local_addr()
        .map_or_else(|_| sections.server.listen.to_string(), |a| a.to_string());
    let (duties, backend_metrics) = (services.duties.clone(), services.backend_metrics.clone());
    let keyring = services.keyring.clone();
    let oss = Arc::new(
        OssService::new(
            services.store.clone(),
            services.access.clone(),
            coffer_oss::Config {
                region: region.clone(),
                hosts: sections.oss.host_config(),
                public_endpoint: sections.oss.public_endpoint(listening),
            },
        )
        .with_metrics(Arc::new(move || {
            duties.render() + &keyring_metrics(&keyring) + &backend_metrics()
        })),
    );
    let s3 = Arc::new(coffer_s3::S3Service::new(
        services.store.clone(),
        services.access.clone(),
        sections.s3.config(),
    ));
    let mut kms = coffer_kms_api::KmsApiService::new(
        services.kms.clone(),
        services.iam.clone(),
        region.clone(),
    );
    let mut admin = coffer_admin::AdminService::new(services.iam.clone(), region.clone())
        .with_kms(services.kms.clone());
    if let Some(nonces) = &services.nonces {
        kms = kms.with_shared_nonces(nonces.clone());
        admin = admin.with_shared_nonces(nonces.clone());
    }
    let (kms, admin) = (Arc::new(kms), Arc::new(admin));
    let console = Arc::new(coffer_console::ConsoleService::new(
        services.store.clone(),
        services.access.clone(),
        kms.clone(),
        admin.clone(),
        sections.console.config(region),
    ));
    vec![
        (
            "OSS",
            tokio::spawn(coffer_oss::serve(
                edge.clone(),
                listeners.oss,
                oss,
                stopped(stop.clone()),
            )),
        ),
        (
            "S3",
            tokio::spawn(coffer_s3::serve(
                edge.clone(),
                listeners.s3,
                s3,
                stopped(stop.clone()),
            )),
        ),
        (
            "KMS",
            tokio::spawn(coffer_kms_api::serve(
                edge.clone(),
                listeners.kms,
                kms,
                stopped(stop.clone()),
            )),
        ),
        (
            "console",
            tokio::spawn(coffer_console::serve(
                edge.clone(),
                listeners.console,
                console,
                stopped(stop.clone()),
            )),
        ),
        (
            "admin",
            tokio::spawn(coffer_admin::serve(
                edge,
                listeners.admin,
                admin,
                stopped(stop.clone()),
            )),
        ),
    ]
}

/// Garbage collection, SSE master key rotation, the KMS's schedule and the lifecycle rules (on
/// the node holding the duties), and following the shared state (on every node).
fn start_background_duties(
    config: &ServerConfig,
    services: &Services,
    stop: &watch::Receiver<bool>,
) -> Vec<Task> {
    let (gc_duties, gc_count) = (services.duties.clone(), services.duties.clone());
    vec![
        tokio::spawn(services.store.collector().run_while(
            move || gc_duties.mine(),
            move |_| gc_count.ran(Duty::GarbageCollection),
            stopped(stop.clone()),
        )),
        tokio::spawn(rotate_keyring(
            services.duties.clone(),
            services.keyring.clone(),
            config.sections.keyring.rotation_interval_secs(),
            stop.clone(),
        )),
        tokio::spawn(follow_shared_state(
            services.iam.clone(),
            services.kms.clone(),
            services.keyring.clone(),
            stop.clone(),
        )),
        tokio::spawn(tick_kms(
            services.duties.clone(),
            services.kms.clone(),
            services.kms_clock.clone(),
            services.kms_tick_every,
            stop.clone(),
        )),
        tokio::spawn(apply_lifecycle(
            services.duties.clone(),
            services.store.clone(),
            services.kms_clock.clone(),
            lifecycle_every(services.kms_tick_every),
            stop.clone(),
        )),
    ]
}

/// Waits for the servers to drain and the duties to stop, then saves the KMS's counters.
async fn shutdown(servers: Vec<(&'static str, Server)>, duties: Vec<Task>, kms: &coffer_kms::Kms) {
    for (name, server) in servers {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "{name} API server failed"),
            Err(e) => tracing::error!(error = %e, "{name} API server panicked"),
        }
    }
    for duty in duties {
        let _ = duty.await;
    }
    if let Err(e) = kms.flush() {
        tracing::error!(error = %e, "could not save KMS usage counters");
    }
    info!("stopped");
}
