//! `coffer server`: opens the embedded backends, recovers from any crash, and serves until
//! SIGTERM or SIGINT.

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

use crate::config::{LogFormat, ServerConfig};
use crate::credentials;

/// Logs go to stderr; `RUST_LOG` overrides the default level (info).
pub(crate) fn init_tracing(config: &ServerConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log_format {
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

/// The identity store (RAM users, keys, policies, roles, bucket policies) in the data directory.
pub(crate) const IAM_FILE: &str = "iam.redb";

/// The SSE keyring's file in the data directory.
pub(crate) const KEYRING_FILE: &str = "keyring.sealed";

/// Rotates the SSE-OSS master key when due, checking hourly.
async fn rotate_keyring(
    keyring: coffer_keyring::Keyring,
    days: u32,
    mut stop: watch::Receiver<bool>,
) {
    if days == 0 {
        return;
    }
    let interval = i64::from(days) * 86_400;
    loop {
        if let Err(e) = keyring.rotate_if_due(crate::keyring_cmd::now(), interval) {
            tracing::error!(error = %e, "SSE master key rotation failed");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

/// The KMS's clock and how often its schedule runs: the wall clock and once a minute, except in
/// a binary built with the `testing` feature when `COFFER_TEST_KMS_CLOCK_FILE` is set.
fn kms_clock() -> (Arc<dyn coffer_kms::Clock>, std::time::Duration) {
    #[cfg(feature = "testing")]
    if let Ok(path) = std::env::var("COFFER_TEST_KMS_CLOCK_FILE") {
        tracing::warn!(%path, "KMS test clock enabled: time is read from a file");
        return (
            Arc::new(crate::test_clock::FileOffsetClock::new(path.into())),
            std::time::Duration::from_millis(200),
        );
    }
    (
        Arc::new(coffer_kms::SystemClock),
        std::time::Duration::from_secs(60),
    )
}

/// Runs the KMS's due rotations, deletions and material expiries on its schedule.
async fn tick_kms(
    kms: Arc<coffer_kms::Kms>,
    clock: Arc<dyn coffer_kms::Clock>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let k = kms.clone();
        let now = clock.now();
        match tokio::task::spawn_blocking(move || k.tick(now)).await {
            Ok(Ok(report)) => tracing::debug!(?report, "KMS tick"),
            Ok(Err(e)) => tracing::error!(error = %e, "KMS tick failed"),
            Err(e) => tracing::error!(error = %e, "KMS tick panicked"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

pub(crate) async fn run(config: ServerConfig) -> Result<()> {
    let started = SystemTime::now();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
    let root = credentials::load_or_create(
        &config.data_dir,
        std::env::var("COFFER_ROOT_ACCESS_KEY_ID").ok(),
        std::env::var("COFFER_ROOT_ACCESS_KEY_SECRET").ok(),
    )?;
    let meta = coffer_meta_redb::RedbMetaStore::open(&config.data_dir.join("meta.redb"))
        .context("open metadata store")?;
    let blobs = coffer_blob_fs::FsBlobStore::open(&config.data_dir.join("blobs"))
        .context("open blob store")?;
    let root_key = crate::root_key::load_or_create(
        &config.root_key_file,
        std::env::var("COFFER_ROOT_KEY").ok(),
    )?;
    let (kms_clock, kms_tick_every) = kms_clock();
    let kms_root = coffer_kms::RootKey::from(coffer_crypto::MasterKey::from_bytes(
        *root_key.expose_secret(),
    ));
    let kms = Arc::new(
        coffer_kms::Kms::open(
            &config.data_dir.join("kms.redb"),
            kms_root,
            coffer_kms::Config {
                region: config.region.clone(),
                ..Default::default()
            },
            kms_clock.clone(),
        )
        .context("open the KMS (is the root key the one it was sealed with?)")?,
    );
    // Access key secrets are sealed under a key derived from the root key (HKDF, so independent of
    // the KMS's and the keyring's keys).
    let iam_sealing = coffer_iam::SealingKey::derive(root_key.expose_secret());
    let keyring = coffer_keyring::Keyring::open(
        &config.data_dir.join(KEYRING_FILE),
        root_key,
        crate::keyring_cmd::now(),
    )
    .context("open the SSE keyring (is the root key the one it was sealed with?)")?;
    let sse_kms = Arc::new(crate::sse_kms::InProcessKms::new(
        kms.clone(),
        config.region.clone(),
    ));
    let store = Arc::new(
        Store::new(
            Arc::new(meta),
            Arc::new(blobs),
            coffer_core::Config {
                owner_id: root.account_id.clone(),
                ..Default::default()
            },
        )
        .with_keyring(keyring.clone())
        .with_kms(sse_kms.clone()),
    );
    let collector = store.collector();
    collector
        .recover(started)
        .await
        .context("recover from interrupted writes")?;
    let iam_store = coffer_iam::RedbIdentityStore::open(&config.data_dir.join(IAM_FILE))
        .context("open the identity store")?;
    let iam = Arc::new(
        Iam::open(
            coffer_iam::RootAccount {
                account_id: root.account_id,
                access_key_id: root.access_key_id,
                secret: root.secret,
            },
            Arc::new(iam_store),
            &iam_sealing,
        )
        .context("open the identity store (is the root key the one it was sealed with?)")?
        .with_min_session_duration(time::Duration::seconds(i64::from(
            config.sts_min_session_seconds,
        ))),
    );
    drop(iam_sealing);
    let iam_for_kms = iam.clone();
    sse_kms.set_iam(iam.clone());
    let service = Arc::new(OssService::new(
        store,
        iam.clone(),
        coffer_oss::Config {
            region: config.region.clone(),
            hosts: coffer_oss::router::HostConfig {
                base_domains: config.virtual_host_domains.clone(),
            },
        },
    ));
    let mut http = config.http.clone();
    http.check_exposure("KMS", config.kms_listen)
        .and_then(|()| http.check_exposure("admin", config.admin_listen))
        .map_err(anyhow::Error::msg)?;
    let listen_names = [config.listen, config.kms_listen, config.admin_listen];
    if let Some(fingerprint) = http.prepare_tls(&config.data_dir, &listen_names)? {
        info!(sha256 = %fingerprint, "TLS with a self-signed certificate (trust it by this fingerprint)");
    }
    let edge = coffer_http::Edge::new(&http)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let kms_listener = TcpListener::bind(config.kms_listen)
        .await
        .with_context(|| format!("listen on {} (KMS API)", config.kms_listen))?;
    let kms_addr = kms_listener.local_addr()?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("listen on {} (admin API)", config.admin_listen))?;
    let admin_addr = admin_listener.local_addr()?;
    info!(oss = %addr, kms = %kms_addr, admin = %admin_addr, data_dir = %config.data_dir.display(), region = %config.region, "coffer listening");
    if let Some(path) = &config.ready_file {
        let tmp = path.with_extension("tmp");
        let ready = serde_json::json!({
            "oss": addr.to_string(),
            "kms": kms_addr.to_string(),
            "admin": admin_addr.to_string(),
        });
        std::fs::write(&tmp, ready.to_string()).context("write ready file")?;
        std::fs::rename(&tmp, path).context("write ready file")?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let kms_api = Arc::new(coffer_kms_api::KmsApiService::new(
        kms.clone(),
        iam_for_kms,
        config.region.clone(),
    ));
    let mut kms_stop = stop_rx.clone();
    let kms_server = tokio::spawn(coffer_kms_api::serve(
        edge.clone(),
        kms_listener,
        kms_api,
        async move {
            let _ = kms_stop.wait_for(|s| *s).await;
        },
    ));
    let mut gc_stop = stop_rx.clone();
    let gc = tokio::spawn(collector.run(async move {
        let _ = gc_stop.wait_for(|stop| *stop).await;
    }));
    let rotation = tokio::spawn(rotate_keyring(
        keyring,
        config.sse_rotation_days,
        stop_rx.clone(),
    ));
    let kms_ticks = tokio::spawn(tick_kms(
        kms.clone(),
        kms_clock,
        kms_tick_every,
        stop_rx.clone(),
    ));
    let mut admin_stop = stop_rx.clone();
    let admin_server = tokio::spawn(coffer_admin::serve(
        edge.clone(),
        admin_listener,
        Arc::new(coffer_admin::AdminService::new(iam, config.region.clone())),
        async move {
            let _ = admin_stop.wait_for(|s| *s).await;
        },
    ));
    let mut oss_stop = stop_rx.clone();
    let oss_server = tokio::spawn(coffer_oss::serve(edge, listener, service, async move {
        let _ = oss_stop.wait_for(|s| *s).await;
    }));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    for (name, server) in [
        ("OSS", oss_server),
        ("KMS", kms_server),
        ("admin", admin_server),
    ] {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "{name} API server failed"),
            Err(e) => tracing::error!(error = %e, "{name} API server panicked"),
        }
    }
    let _ = gc.await;
    let _ = rotation.await;
    let _ = kms_ticks.await;
    if let Err(e) = kms.flush() {
        tracing::error!(error = %e, "could not save KMS usage counters");
    }
    info!("stopped");
    Ok(())
}
