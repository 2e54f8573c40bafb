//! `coffer kms key …` and `coffer kms alias …`: the KMS API (Alibaba KMS, RPC style, version
//! 2016-01-20) over the network, signed with the RPC v1 signature of `coffer-kms-api`.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::commands::{Common, OutputFormat};

/// The KMS API version every request names.
const VERSION: &str = "2016-01-20";

/// Remote KMS commands.
#[derive(Subcommand, Debug)]
pub enum KmsCommand {
    /// Customer master keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Aliases of keys.
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// `coffer kms key`.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Creates a key (Aliyun_AES_256 by default).
    Create {
        #[arg(long)]
        description: Option<String>,
        /// Aliyun_AES_256, Aliyun_SM4, RSA_2048, …
        #[arg(long)]
        key_spec: Option<String>,
        /// ENCRYPT/DECRYPT or SIGN/VERIFY.
        #[arg(long)]
        key_usage: Option<String>,
        /// Aliyun_KMS or EXTERNAL (then `kms key import`).
        #[arg(long)]
        origin: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Lists keys (JSON lines with --output json).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Shows a key's metadata.
    Describe {
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Enables a key.
    Enable {
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Disables a key.
    Disable {
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Creates a new key version (manual rotation).
    Rotate {
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Schedules deletion after a waiting period.
    ScheduleDeletion {
        key_id: String,
        /// Days to wait (7–366).
        #[arg(long, default_value_t = 30)]
        pending_window_in_days: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Cancels a scheduled deletion.
    CancelDeletion {
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Imports key material into a key made with `--origin EXTERNAL` (BYOK).
    ///
    /// With `--key-material FILE` (the raw bytes: 32 for Aliyun_AES_256, 16 for Aliyun_SM4), does
    /// the whole exchange: GetParametersForImport, wraps the material with the returned public key,
    /// ImportKeyMaterial. Or give material already wrapped with `--encrypted-key-material` and
    /// `--import-token` (from `--print-parameters`).
    #[command(after_help = "Examples:\n  head -c 32 /dev/urandom > material.bin\n  \
        coffer kms key import KEY_ID --key-material material.bin\n  \
        coffer kms key import KEY_ID --key-material material.bin --expire-unix 1893456000")]
    Import {
        key_id: String,
        /// File of the raw key material, to wrap and import.
        #[arg(long, conflicts_with_all = ["encrypted_key_material", "import_token", "print_parameters"])]
        key_material: Option<std::path::PathBuf>,
        /// Base64 of key material already wrapped.
        #[arg(long, required_unless_present_any = ["print_parameters", "key_material"])]
        encrypted_key_material: Option<String>,
        /// The import token of GetParametersForImport.
        #[arg(long, required_unless_present_any = ["print_parameters", "key_material"])]
        import_token: Option<String>,
        /// Only call GetParametersForImport and print its answer.
        #[arg(long)]
        print_parameters: bool,
        /// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5.
        #[arg(long, default_value = "RSAES_OAEP_SHA_256")]
        wrapping_algorithm: String,
        #[arg(long, default_value = "RSA_2048")]
        wrapping_key_spec: String,
        /// When the material expires (Unix seconds; 0: never).
        #[arg(long)]
        expire_unix: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
}

/// `coffer kms alias`.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum AliasCommand {
    /// Names a key: `alias/NAME`.
    Create {
        alias_name: String,
        key_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Lists aliases.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Deletes an alias.
    Delete {
        alias_name: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs a remote KMS command; returns the exit code.
pub fn run(command: KmsCommand) -> i32 {
    crate::commands::block_on(dispatch(command))
}

async fn dispatch(command: KmsCommand) -> Result<()> {
    match command {
        KmsCommand::Key(k) => key(k).await,
        KmsCommand::Alias(a) => alias(a).await,
    }
}

async fn key(k: KeyCommand) -> Result<()> {
    match k {
        KeyCommand::Create {
            description,
            key_spec,
            key_usage,
            origin,
            common,
        } => {
            let mut p = vec![];
            for (n, v) in [
                ("Description", description),
                ("KeySpec", key_spec),
                ("KeyUsage", key_usage),
                ("Origin", origin),
            ] {
                if let Some(v) = v {
                    p.push((n, v));
                }
            }
            let r = call(&common, "CreateKey", &p).await?;
            let meta = &r["KeyMetadata"];
            show(
                &common,
                meta,
                &format!("created {}", meta["KeyId"].as_str().unwrap_or("")),
            );
        }
        KeyCommand::List { common } => {
            let mut page = 1;
            loop {
                let r = call(
                    &common,
                    "ListKeys",
                    &[("PageNumber", page.to_string()), ("PageSize", "100".into())],
                )
                .await?;
                let keys = r["Keys"]["Key"].as_array().cloned().unwrap_or_default();
                for k in &keys {
                    show(&common, k, k["KeyId"].as_str().unwrap_or(""));
                }
                let total = r["TotalCount"].as_u64().unwrap_or(0);
                if keys.is_empty() || page * 100 >= total {
                    return Ok(());
                }
                page += 1;
            }
        }
        KeyCommand::Describe { key_id, common } => {
            let r = call(&common, "DescribeKey", &[("KeyId", key_id)]).await?;
            let meta = &r["KeyMetadata"];
            show(&common, meta, &serde_json::to_string_pretty(meta)?);
        }
        KeyCommand::Enable { key_id, common } => simple(&common, "EnableKey", key_id).await?,
        KeyCommand::Disable { key_id, common } => simple(&common, "DisableKey", key_id).await?,
        KeyCommand::Rotate { key_id, common } => {
            let r = call(&common, "CreateKeyVersion", &[("KeyId", key_id)]).await?;
            show(
                &common,
                &r,
                &format!(
                    "new version {}",
                    r["KeyVersion"]["KeyVersionId"].as_str().unwrap_or("")
                ),
            );
        }
        KeyCommand::ScheduleDeletion {
            key_id,
            pending_window_in_days,
            common,
        } => {
            let r = call(
                &common,
                "ScheduleKeyDeletion",
                &[
                    ("KeyId", key_id),
                    ("PendingWindowInDays", pending_window_in_days.to_string()),
                ],
            )
            .await?;
            show(&common, &r, "deletion scheduled");
        }
        KeyCommand::CancelDeletion { key_id, common } => {
            simple(&common, "CancelKeyDeletion", key_id).await?
        }
        KeyCommand::Import {
            key_id,
            key_material,
            encrypted_key_material,
            import_token,
            print_parameters,
            wrapping_algorithm,
            wrapping_key_spec,
            expire_unix,
            common,
        } => {
            let parameters = |key_id: String| {
                let p = vec![
                    ("KeyId", key_id),
                    ("WrappingAlgorithm", wrapping_algorithm.clone()),
                    ("WrappingKeySpec", wrapping_key_spec.clone()),
                ];
                let common = &common;
                async move { call(common, "GetParametersForImport", &p).await }
            };
            if print_parameters {
                let r = parameters(key_id).await?;
                show(&common, &r, &serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            let (material, token) = match key_material {
                Some(path) => {
                    let raw = zeroize::Zeroizing::new(
                        std::fs::read(&path).with_context(|| format!("read {}", path.display()))?,
                    );
                    let r = parameters(key_id.clone()).await?;
                    let public = r["PublicKey"]
                        .as_str()
                        .context("GetParametersForImport returned no PublicKey")?;
                    let token = r["ImportToken"]
                        .as_str()
                        .context("GetParametersForImport returned no ImportToken")?;
                    let wrapped = wrap_key_material(&wrapping_algorithm, public, &raw)?;
                    (wrapped, token.to_owned())
                }
                None => {
                    let (Some(material), Some(token)) = (encrypted_key_material, import_token)
                    else {
                        bail!("--key-material, or --encrypted-key-material and --import-token");
                    };
                    (material, token)
                }
            };
            let mut p = vec![
                ("KeyId", key_id),
                ("EncryptedKeyMaterial", material),
                ("ImportToken", token),
            ];
            if let Some(t) = expire_unix {
                p.push(("KeyMaterialExpireUnix", t.to_string()));
            }
            let r = call(&common, "ImportKeyMaterial", &p).await?;
            show(&common, &r, "imported");
        }
    }
    Ok(())
}

/// Encrypts `material` for the KMS with `public_key` (base64 of a DER SubjectPublicKeyInfo, as
/// GetParametersForImport returns it) under `algorithm`; returns the base64 the KMS expects as
/// `EncryptedKeyMaterial` (KMS documentation, "Import key material": the wrapping algorithms
/// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 and RSAES_PKCS1_V1_5 over an RSA_2048 public key).
pub fn wrap_key_material(algorithm: &str, public_key: &str, material: &[u8]) -> Result<String> {
    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey,
        Pkcs1PublicEncryptingKey, PublicEncryptingKey,
    };
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(public_key.trim())
        .context("the wrapping public key is not base64")?;
    let public = PublicEncryptingKey::from_der(&der)
        .map_err(|_| anyhow::anyhow!("the wrapping public key is not an RSA public key"))?;
    let mut out = vec![0u8; public.key_size_bytes()];
    let failed = |_| anyhow::anyhow!("cannot wrap {} bytes of key material", material.len());
    let len = match algorithm {
        "RSAES_OAEP_SHA_256" | "RSAES_OAEP_SHA_1" => {
            let oaep = if algorithm == "RSAES_OAEP_SHA_256" {
                &OAEP_SHA256_MGF1SHA256
            } else {
                &OAEP_SHA1_MGF1SHA1
            };
            OaepPublicEncryptingKey::new(public)
                .map_err(failed)?
                .encrypt(oaep, material, &mut out, None)
                .map_err(failed)?
                .len()
        }
        "RSAES_PKCS1_V1_5" => Pkcs1PublicEncryptingKey::new(public)
            .map_err(failed)?
            .encrypt(material, &mut out)
            .map_err(failed)?
            .len(),
        other => bail!(
            "cannot wrap with {other}: use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5"
        ),
    };
    out.truncate(len);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

async fn alias(a: AliasCommand) -> Result<()> {
    match a {
        AliasCommand::Create {
            alias_name,
            key_id,
            common,
        } => {
            let r = call(
                &common,
                "CreateAlias",
                &[("AliasName", alias_name.clone()), ("KeyId", key_id)],
            )
            .await?;
            show(&common, &r, &format!("created {alias_name}"));
        }
        AliasCommand::List { common } => {
            let mut page = 1;
            loop {
                let r = call(
                    &common,
                    "ListAliases",
                    &[("PageNumber", page.to_string()), ("PageSize", "100".into())],
                )
                .await?;
                let aliases = r["Aliases"]["Alias"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for a in &aliases {
                    show(
                        &common,
                        a,
                        &format!(
                            "{}  {}",
                            a["AliasName"].as_str().unwrap_or(""),
                            a["KeyId"].as_str().unwrap_or("")
                        ),
                    );
                }
                let total = r["TotalCount"].as_u64().unwrap_or(0);
                if aliases.is_empty() || page * 100 >= total {
                    return Ok(());
                }
                page += 1;
            }
        }
        AliasCommand::Delete { alias_name, common } => {
            let r = call(&common, "DeleteAlias", &[("AliasName", alias_name.clone())]).await?;
            show(&common, &r, &format!("deleted {alias_name}"));
        }
    }
    Ok(())
}

async fn simple(common: &Common, action: &str, key_id: String) -> Result<()> {
    let r = call(common, action, &[("KeyId", key_id)]).await?;
    show(common, &r, "ok");
    Ok(())
}

fn show(common: &Common, value: &Value, text: &str) {
    match common.output {
        OutputFormat::Json => println!("{value}"),
        OutputFormat::Text => println!("{text}"),
    }
}

/// The KMS API's error answer.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message} (HTTP {status}, request id {request_id})")]
pub struct KmsError {
    status: u16,
    code: String,
    message: String,
    request_id: String,
}

async fn call(common: &Common, action: &str, extra: &[(&str, String)]) -> Result<Value> {
    let profile = common.conn.resolve()?;
    let endpoint = profile.kms_endpoint.clone().context(
        "no KMS endpoint: set kms-endpoint in the profile, --kms-endpoint or COFFER_KMS_ENDPOINT",
    )?;
    let timestamp = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)?
        .format(&Rfc3339)?;
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let mut params: Vec<(&str, String)> = vec![
        ("Action", action.to_owned()),
        ("Version", VERSION.to_owned()),
        ("Format", "JSON".to_owned()),
        ("AccessKeyId", profile.access_key_id.clone()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureVersion", "1.0".to_owned()),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
    ];
    if let Some(t) = &profile.security_token {
        params.push(("SecurityToken", t.clone()));
    }
    params.extend(extra.iter().cloned());
    let signature = coffer_kms_api::rpc_signature(
        "POST",
        params.iter().map(|(n, v)| (*n, v.as_str())),
        profile.secret.expose_secret(),
    );
    params.push(("Signature", signature));
    let body: String = params
        .iter()
        .map(|(n, v)| {
            format!(
                "{}={}",
                coffer_signature::uri_encode(n),
                coffer_signature::uri_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let http = crate::client::http_client(profile.ca_file.as_deref())?;
    let resp = http
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {endpoint}/ ({action})"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{action}: HTTP {status} with a body that is not JSON"))?;
    if status == 200 {
        return Ok(value);
    }
    let field = |k: &str| value[k].as_str().unwrap_or("").to_owned();
    Err(KmsError {
        status,
        code: field("Code"),
        message: field("Message"),
        request_id: field("RequestId"),
    }
    .into())
}

/// `coffer kms usage` over the admin API (`/kms/GetUsage`): calls and failures per key and
/// operation, from the server's live counters. `key` is an id, alias or ARN.
pub async fn usage(common: &Common, key: Option<String>) -> Result<()> {
    let mut params = serde_json::Map::new();
    if let Some(k) = key {
        params.insert("KeyId".into(), Value::String(k));
    }
    let reply = admin_call(common, coffer_admin::Operation::GetUsage, params).await?;
    let rows = reply["Usage"].as_array().cloned().unwrap_or_default();
    if common.output == OutputFormat::Text {
        println!(
            "{:<38} {:<32} {:>8} {:>8}",
            "key", "operation", "calls", "failed"
        );
    }
    for row in &rows {
        let key = row["KeyId"].as_str().unwrap_or("-");
        let op = row["Operation"].as_str().unwrap_or("");
        let (calls, failed) = (
            row["Calls"].as_u64().unwrap_or(0),
            row["Failures"].as_u64().unwrap_or(0),
        );
        show(
            common,
            &serde_json::json!({"key_id": row["KeyId"], "operation": op, "calls": calls, "failed": failed}),
            &format!("{key:<38} {op:<32} {calls:>8} {failed:>8}"),
        );
    }
    Ok(())
}

/// What `coffer kms audit` asks for.
#[derive(Debug, Default)]
pub struct AuditQuery {
    /// Only this key (id, alias or ARN).
    pub key: Option<String>,
    /// Only this operation (`Decrypt`).
    pub operation: Option<String>,
    /// Only at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only before this RFC 3339 time.
    pub until: Option<String>,
    /// Only calls by this principal.
    pub principal: Option<String>,
    /// Only calls for this bucket or `bucket/key-prefix`.
    pub resource: Option<String>,
    /// Only the last N.
    pub tail: Option<usize>,
    /// Records per request (the server's maximum when absent).
    pub page_size: Option<usize>,
}

/// `coffer kms audit` over the admin API (`/kms/ListAuditRecords`), page after page: one line
/// per record, or the records as JSON lines (the audit log's own shape).
pub async fn audit(common: &Common, query: AuditQuery) -> Result<()> {
    let mut base = serde_json::Map::new();
    for (name, value) in [
        ("KeyId", query.key),
        ("Operation", query.operation),
        ("StartTime", query.since),
        ("EndTime", query.until),
        ("Principal", query.principal),
        ("Resource", query.resource),
    ] {
        if let Some(v) = value {
            base.insert(name.into(), Value::String(v));
        }
    }
    if let Some(n) = query.tail {
        base.insert("Tail".into(), n.into());
    }
    if let Some(n) = query.page_size {
        base.insert("MaxResults".into(), n.into());
    }
    let mut marker: Option<String> = None;
    loop {
        let mut params = base.clone();
        if let Some(m) = marker.take() {
            params.insert("Marker".into(), Value::String(m));
        }
        let reply = admin_call(common, coffer_admin::Operation::ListAuditRecords, params).await?;
        for r in reply["Records"].as_array().into_iter().flatten() {
            show(common, r, &audit_line(r));
        }
        match reply["NextMarker"].as_str() {
            Some(next) if reply["Truncated"] == Value::Bool(true) => marker = Some(next.to_owned()),
            _ => return Ok(()),
        }
    }
}

/// One audit record for people: time, who, what, on which key and version, for what, result.
pub fn audit_line(r: &Value) -> String {
    let field = |name: &str| match &r[name] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    format!(
        "{} {} {} {} key={} version={} resource={} result={}",
        field("time"),
        field("account"),
        field("principal"),
        field("operation"),
        field("key_id"),
        field("key_version_id"),
        field("resource"),
        field("result")
    )
}

async fn admin_call(
    common: &Common,
    op: coffer_admin::Operation,
    params: serde_json::Map<String, Value>,
) -> Result<Value> {
    let client = common.conn.resolve_admin()?.client()?;
    tokio::task::spawn_blocking(move || client.call(op, &Value::Object(params)))
        .await?
        .map_err(Into::into)
}
