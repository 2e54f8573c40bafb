//! A stand-alone KMS API on a fresh temporary KMS, for running the real-SDK tests
//! (`tests/sdk/test_kms_api.py`) before the `coffer` binary serves the KMS API:
//!
//! ```text
//! COFFER_ROOT_ACCESS_KEY_ID=ak COFFER_ROOT_ACCESS_KEY_SECRET=secret \
//!     cargo run -p coffer-kms-api --example serve -- [ADDR] [READY_FILE]
//! ```
//!
//! Listens on ADDR (default `127.0.0.1:0`), writes `{"kms": "HOST:PORT"}` to READY_FILE if given,
//! and serves until Ctrl-C. The KMS lives in a temporary directory removed on exit.

use std::sync::Arc;

use coffer_iam::Iam;
use coffer_kms::{Config, Kms, RootKey, SystemClock};
use coffer_kms_api::{KmsApiService, serve};
use coffer_types::AccessKeySecret;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let ready_file = args.next();
    let ak = std::env::var("COFFER_ROOT_ACCESS_KEY_ID")?;
    let secret = std::env::var("COFFER_ROOT_ACCESS_KEY_SECRET")?;
    let dir = tempfile::tempdir()?;
    let kms = Kms::open(
        &coffer_types::DataDir::new(dir.path()).kms(),
        &RootKey::generate(),
        Config::default(),
        Arc::new(SystemClock),
    )?;
    let iam = Iam::new("1234567890123456".into(), ak, AccessKeySecret::new(secret));
    let service = Arc::new(KmsApiService::new(
        Arc::new(kms),
        Arc::new(iam),
        "cn-hangzhou".into(),
    ));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    eprintln!("KMS API listening on {local}");
    if let Some(path) = ready_file {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{{\"kms\": \"{local}\"}}"))?;
        std::fs::rename(&tmp, &path)?;
    }
    serve(coffer_http::Edge::default(), listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
