//! The subcommands and their output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{OssClient, OssError, Req};
use crate::ops::{EncryptionRule, Sse};
use crate::profile::{ConfigFile, ConnArgs, Profile, SignatureVersion, config_path};
use crate::transfer::Transfers;
use crate::uri::Location;

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON document, or JSON lines for listings.
    Json,
}

/// Options of every remote command.
#[derive(Args, Clone, Debug)]
pub struct Common {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
}

impl Common {
    /// These options, printing JSON when `json` (a command's own `--json` flag) says so.
    #[must_use]
    pub fn json(mut self, json: bool) -> Self {
        if json {
            self.output = OutputFormat::Json;
        }
        self
    }
}

/// Encryption options of writes.
#[derive(Args, Clone, Debug, Default)]
pub struct SseArgs {
    /// Server-side encryption of what is written.
    #[arg(long, value_parser = ["AES256", "SM4", "KMS"])]
    sse: Option<String>,
    /// The CMK for `--sse KMS` (default: the server's default key).
    #[arg(long, requires = "sse")]
    kms_key_id: Option<String>,
    /// `SM4` to encrypt the data with SM4 under the KMS key.
    #[arg(long, requires = "sse", value_parser = ["SM4"])]
    kms_data_encryption: Option<String>,
}

impl SseArgs {
    fn sse(&self) -> Option<Sse> {
        self.sse.as_ref().map(|a| Sse {
            algorithm: a.clone(),
            kms_key_id: self.kms_key_id.clone(),
            data_encryption: self.kms_data_encryption.clone(),
        })
    }
}

/// Transfer tuning.
#[derive(Args, Clone, Debug)]
pub struct TransferArgs {
    /// Requests (files or parts) in flight at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    parallel: usize,
    /// Multipart (and ranged download) above this many MiB.
    #[arg(long, default_value_t = 16)]
    multipart_threshold_mib: u64,
    /// Part size in MiB.
    #[arg(long, default_value_t = 8)]
    part_size_mib: u64,
    /// Server-side copies above this many MiB go part by part (UploadPartCopy) [default: 1024,
    /// CopyObject's limit in OSS].
    #[arg(long, hide = true)]
    copy_threshold_mib: Option<u64>,
    /// Where resume checkpoints are kept [default: ~/.cache/coffer/checkpoints].
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
}

/// The client subcommands of `coffer`.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Writes a profile to ~/.config/coffer/config.toml (0600).
    #[command(
        after_help = "Example:\n  coffer config --endpoint http://127.0.0.1:9000 \
        --kms-endpoint http://127.0.0.1:9001 --access-key-id AK --access-key-secret SK"
    )]
    Config(ConfigArgs),
    /// Lists buckets, or objects under oss://BUCKET[/PREFIX].
    #[command(after_help = "Examples:\n  coffer ls\n  coffer ls oss://photos/2024/ -r --long")]
    Ls {
        /// What to list (nothing: the buckets).
        target: Option<String>,
        /// Every key under the prefix, not one level.
        #[arg(short, long)]
        recursive: bool,
        /// Size and date too.
        #[arg(short, long)]
        long: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Creates a bucket, optionally with default encryption.
    #[command(after_help = "Example:\n  coffer mb oss://secrets --sse KMS --kms-key-id alias/app")]
    Mb {
        /// oss://BUCKET
        bucket: String,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Deletes a bucket (with --force, its objects first).
    Rb {
        /// oss://BUCKET
        bucket: String,
        /// Delete every object (and multipart upload) first.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Copies files and objects: local→remote, remote→local, remote→remote (server side).
    #[command(after_help = "Examples:\n  coffer cp big.iso oss://b/isos/\n  \
        coffer cp -r ./site oss://b/site --exclude '*.tmp'\n  \
        coffer cp oss://b/k oss://b/k2 --sse KMS\n\
        An interrupted transfer resumes when the same command runs again.")]
    Cp {
        /// Source.
        src: String,
        /// Destination (a trailing `/` means "into").
        dst: String,
        /// Copy a directory or prefix.
        #[arg(short, long)]
        recursive: bool,
        /// Only paths matching these globs (relative to SRC).
        #[arg(long)]
        include: Vec<String>,
        /// Skip paths matching these globs.
        #[arg(long)]
        exclude: Vec<String>,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        transfer: TransferArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Makes DST hold what SRC holds: copies what differs (by size and mtime, or checksum).
    #[command(
        after_help = "A file or object is copied unless DST has one of the same size \
        that is at least as new: a file's mtime is compared with the object's Last-Modified (no \
        metadata of coffer's own, so it works on objects any client wrote), and a download takes \
        the object's Last-Modified as its mtime, so the next sync either way copies nothing. \
        --checksum compares CRC-64s instead of times (the file is read; the server's CRC is \
        asked for).\n\nExamples:\n  coffer sync ./site oss://b/site --delete\n  \
        coffer sync oss://b/backup ./restore --checksum"
    )]
    Sync {
        /// Source directory or prefix.
        src: String,
        /// Destination.
        dst: String,
        /// Delete what DST has and SRC does not.
        #[arg(long)]
        delete: bool,
        /// Compare CRC-64 rather than size and time.
        #[arg(long)]
        checksum: bool,
        #[arg(long)]
        /// Only paths matching these globs.
        include: Vec<String>,
        /// Skip paths matching these globs.
        #[arg(long)]
        exclude: Vec<String>,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        transfer: TransferArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Deletes objects (-r: everything under a prefix, 1000 per request).
    Rm {
        /// oss://BUCKET/KEY
        target: String,
        /// Every key under the prefix.
        #[arg(short, long)]
        recursive: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Shows an object's metadata (encryption, CMK, CRC-64) or a bucket's.
    Stat {
        /// oss://BUCKET[/KEY]
        target: String,
        #[command(flatten)]
        common: Common,
    },
    /// Writes an object to standard output.
    Cat {
        /// oss://BUCKET/KEY
        target: String,
        #[command(flatten)]
        common: Common,
    },
    /// Prints a presigned URL.
    #[command(after_help = "Example:\n  coffer presign oss://b/k --expires 1h --method PUT")]
    Presign {
        /// oss://BUCKET/KEY
        target: String,
        /// Validity: 30s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        expires: String,
        /// Method the URL is for.
        #[arg(long, default_value = "GET")]
        method: String,
        #[command(flatten)]
        common: Common,
    },
    /// A bucket's default encryption.
    #[command(subcommand)]
    BucketEncryption(BucketEncryption),
    /// Rewrites objects (CopyObject onto themselves) so each is encrypted as asked.
    #[command(
        after_help = "Example:\n  coffer reencrypt oss://b --sse KMS --kms-key-id alias/app --dry-run\n  \
        coffer reencrypt oss://b --sse KMS --kms-key-id KEY --rewrap\n\
        Running it again resumes: objects already encrypted as asked are skipped."
    )]
    Reencrypt {
        /// oss://BUCKET[/PREFIX]
        target: String,
        #[command(flatten)]
        sse: SseArgs,
        /// Say what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where only the key changes (to KMS, same data cipher), rewrap each object's data key
        /// in place instead of copying its data (coffer's UpdateObjectEncryption); other
        /// objects are still copied.
        #[arg(long)]
        rewrap: bool,
        /// Objects rewritten at once.
        #[arg(long, short = 'j', default_value_t = 8)]
        parallel: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Prints a shell completion script.
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },
}

/// `coffer config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Profile to write.
    #[arg(long, default_value = "default")]
    profile: String,
    /// OSS endpoint.
    #[arg(long)]
    endpoint: Option<String>,
    /// KMS API endpoint.
    #[arg(long)]
    kms_endpoint: Option<String>,
    /// Admin API endpoint.
    #[arg(long)]
    admin_endpoint: Option<String>,
    /// Region.
    #[arg(long)]
    region: Option<String>,
    /// Access key id.
    #[arg(long)]
    access_key_id: Option<String>,
    /// Access key secret (read from standard input when omitted on a terminal).
    #[arg(long)]
    access_key_secret: Option<String>,
    /// STS security token.
    #[arg(long)]
    security_token: Option<String>,
    /// CA file for HTTPS.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Signature version.
    #[arg(long, value_enum)]
    signature_version: Option<SignatureVersion>,
    /// Path-style addressing (host/bucket).
    #[arg(long)]
    path_style: Option<bool>,
    /// Print the profile (secret hidden) instead of writing.
    #[arg(long)]
    show: bool,
}

/// `coffer bucket-encryption`.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum BucketEncryption {
    /// Sets the default encryption.
    Put {
        /// oss://BUCKET
        bucket: String,
        /// AES256, KMS or SM4.
        #[arg(long, value_parser = ["AES256", "KMS", "SM4"])]
        sse_algorithm: String,
        /// CMK for KMS.
        #[arg(long)]
        kms_master_key_id: Option<String>,
        /// SM4 data under KMS.
        #[arg(long, value_parser = ["SM4"])]
        kms_data_encryption: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Shows the default encryption.
    Get {
        /// oss://BUCKET
        bucket: String,
        #[command(flatten)]
        common: Common,
    },
    /// Removes the default encryption.
    Delete {
        /// oss://BUCKET
        bucket: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs one client command (`C` is the whole command line, for completions); returns the exit
/// code, 0 only on full success.
pub fn run<C: clap::CommandFactory>(command: Command) -> i32 {
    block_on(dispatch::<C>(command))
}

/// Runs `work` on a small runtime, stopping at Ctrl-C (every checkpoint is already on disk, so
/// the interrupted command resumes when run again); returns the exit code.
pub fn block_on(work: impl std::future::Future<Output = Result<()>>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e.into()),
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = work => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(
                "interrupted: run the same command again to resume from the checkpoint"
            )),
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> i32 {
    if let Some(oss) = e.downcast_ref::<OssError>() {
        eprintln!("coffer: error: {oss}");
    } else if let Some(kms) = e.downcast_ref::<crate::kms::KmsError>() {
        eprintln!("coffer: error: {kms}");
    } else {
        eprintln!("coffer: error: {}", format!("{e:#}").replace('\n', " "));
    }
    1
}

async fn dispatch<C: clap::CommandFactory>(command: Command) -> Result<()> {
    match command {
        Command::Config(args) => config(args),
        Command::Completions { shell } => {
            let mut cmd = C::command();
            clap_complete::generate(shell, &mut cmd, "coffer", &mut std::io::stdout());
            Ok(())
        }
        Command::Ls {
            target,
            recursive,
            long,
            common,
        } => ls(target, recursive, long, &common).await,
        Command::Mb {
            bucket,
            sse,
            common,
        } => mb(&bucket, &sse, &common).await,
        Command::Rb {
            bucket,
            force,
            common,
        } => rb(&bucket, force, &common).await,
        Command::Cp {
            src,
            dst,
            recursive,
            include,
            exclude,
            sse,
            transfer,
            common,
        } => {
            let filter = Filter::new(&include, &exclude)?;
            cp(
                &src, &dst, recursive, &filter, &sse, &transfer, &common, None,
            )
            .await
        }
        Command::Sync {
            src,
            dst,
            delete,
            checksum,
            include,
            exclude,
            sse,
            transfer,
            common,
        } => {
            let filter = Filter::new(&include, &exclude)?;
            let opts = SyncOpts { delete, checksum };
            cp(
                &src,
                &dst,
                true,
                &filter,
                &sse,
                &transfer,
                &common,
                Some(opts),
            )
            .await
        }
        Command::Rm {
            target,
            recursive,
            common,
        } => rm(&target, recursive, &common).await,
        Command::Stat { target, common } => stat(&target, &common).await,
        Command::Cat { target, common } => cat(&target, &common).await,
        Command::Presign {
            target,
            expires,
            method,
            common,
        } => {
            let client = OssClient::new(common.conn.resolve()?)?;
            let (bucket, key) = Location::remote(&target)?;
            let url = client.presign(
                &method.to_ascii_uppercase(),
                &bucket,
                &key,
                parse_duration(&expires)?,
            )?;
            emit(&common, &json!({"url": url}), &url);
            Ok(())
        }
        Command::BucketEncryption(b) => bucket_encryption(b).await,
        Command::Reencrypt {
            target,
            sse,
            dry_run,
            rewrap,
            parallel,
            common,
        } => reencrypt(&target, &sse, dry_run, rewrap, parallel, &common).await,
    }
}

fn emit(common: &Common, value: &Value, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = match common.output {
        OutputFormat::Json => writeln!(out, "{value}"),
        OutputFormat::Text => writeln!(out, "{text}"),
    };
}

fn parse_duration(s: &str) -> Result<time::Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .with_context(|| format!("bad duration `{s}`: use 30s, 15m, 1h, 7d"))?;
    Ok(match unit {
        "" | "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => bail!("bad duration `{s}`: use 30s, 15m, 1h, 7d"),
    })
}

fn config(args: ConfigArgs) -> Result<()> {
    let path = config_path()?;
    let mut file = ConfigFile::load(&path)?;
    if args.show {
        let p = file
            .profiles
            .get(&args.profile)
            .cloned()
            .unwrap_or_default();
        let shown = json!({
            "profile": args.profile, "endpoint": p.endpoint, "kms-endpoint": p.kms_endpoint,
            "admin-endpoint": p.admin_endpoint, "region": p.region,
            "access-key-id": p.access_key_id,
            "access-key-secret": p.access_key_secret.map(|_| "<hidden>"),
            "signature-version": p.signature_version, "ca-file": p.ca_file,
        });
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(());
    }
    let mut secret = args.access_key_secret;
    if secret.is_none() && args.access_key_id.is_some() && std::io::stdin().is_terminal() {
        eprint!("Access key secret: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        secret = Some(line.trim().to_owned());
    }
    let p = file
        .profiles
        .entry(args.profile.clone())
        .or_insert_with(Profile::default);
    macro_rules! set {
        ($($f:ident = $v:expr),*) => { $( if let Some(v) = $v { p.$f = Some(v); } )* };
    }
    set!(
        endpoint = args.endpoint,
        kms_endpoint = args.kms_endpoint,
        admin_endpoint = args.admin_endpoint,
        region = args.region,
        access_key_id = args.access_key_id,
        access_key_secret = secret,
        security_token = args.security_token,
        ca_file = args.ca_file,
        signature_version = args.signature_version,
        path_style = args.path_style
    );
    file.save(&path)?;
    eprintln!("wrote profile `{}` to {}", args.profile, path.display());
    Ok(())
}

async fn ls(target: Option<String>, recursive: bool, long: bool, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let Some(target) = target else {
        for b in client.list_buckets().await? {
            let text = if long {
                format!(
                    "{:<24} {:<16} oss://{}",
                    b.creation_date, b.location, b.name
                )
            } else {
                format!("oss://{}", b.name)
            };
            emit(common, &serde_json::to_value(&b)?, &text);
        }
        return Ok(());
    };
    let (bucket, prefix) = Location::remote(&target)?;
    let delimiter = (!recursive).then_some("/");
    let mut token = None;
    loop {
        let page = client
            .list_page(&bucket, &prefix, delimiter, token.as_deref())
            .await?;
        for p in &page.prefixes {
            emit(
                common,
                &json!({"prefix": p}),
                &if long {
                    format!("{:>38} oss://{bucket}/{p}", "DIR")
                } else {
                    format!("oss://{bucket}/{p}")
                },
            );
        }
        for o in &page.objects {
            let text = if long {
                format!(
                    "{:>12} {:<25} oss://{bucket}/{}",
                    o.size, o.last_modified, o.key
                )
            } else {
                format!("oss://{bucket}/{}", o.key)
            };
            emit(common, &serde_json::to_value(o)?, &text);
        }
        match page.next {
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

async fn mb(bucket: &str, sse: &SseArgs, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, _) = Location::remote(bucket)?;
    client
        .text(Req::new(Method::PUT, Some(&bucket), None), None)
        .await?;
    if let Some(s) = sse.sse() {
        let rule = EncryptionRule {
            sse_algorithm: s.algorithm,
            kms_master_key_id: s.kms_key_id,
            kms_data_encryption: s.data_encryption,
        };
        client.put_bucket_encryption(&bucket, &rule).await?;
    }
    emit(
        common,
        &json!({"bucket": bucket, "created": true}),
        &format!("made oss://{bucket}"),
    );
    Ok(())
}

async fn rb(bucket: &str, force: bool, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, _) = Location::remote(bucket)?;
    let mut deleted = 0;
    if force {
        deleted = delete_prefix(&client, &bucket, "").await?;
    }
    client
        .text(Req::new(Method::DELETE, Some(&bucket), None), None)
        .await?;
    emit(
        common,
        &json!({"bucket": bucket, "removed": true, "objects_deleted": deleted}),
        &format!("removed oss://{bucket}"),
    );
    Ok(())
}

async fn delete_prefix(client: &OssClient, bucket: &str, prefix: &str) -> Result<usize> {
    let mut deleted = 0;
    let mut failed = Vec::new();
    loop {
        // Listing from the start each time: what was deleted is gone from the listing.
        let page = client.list_page(bucket, prefix, None, None).await?;
        if page.objects.is_empty() {
            break;
        }
        let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
        let errors = client.delete_many(bucket, &keys).await?;
        deleted += keys.len() - errors.len();
        if !errors.is_empty() {
            failed.extend(errors);
            break;
        }
    }
    if let Some((key, code)) = failed.first() {
        bail!(
            "{} objects could not be deleted; first: {key}: {code}",
            failed.len()
        );
    }
    Ok(deleted)
}

async fn rm(target: &str, recursive: bool, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, key) = Location::remote(target)?;
    if recursive {
        let n = delete_prefix(&client, &bucket, &key).await?;
        emit(
            common,
            &json!({"bucket": bucket, "prefix": key, "deleted": n}),
            &format!("deleted {n} objects"),
        );
    } else {
        if key.is_empty() {
            bail!("`{target}` names no key; use -r to delete under a prefix");
        }
        client
            .text(Req::new(Method::DELETE, Some(&bucket), Some(&key)), None)
            .await?;
        emit(
            common,
            &json!({"bucket": bucket, "key": key, "deleted": 1}),
            &format!("deleted oss://{bucket}/{key}"),
        );
    }
    Ok(())
}

async fn stat(target: &str, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, key) = Location::remote(target)?;
    if key.is_empty() {
        let info = client
            .text(
                Req::new(Method::GET, Some(&bucket), None).q("bucketInfo", ""),
                None,
            )
            .await?;
        let enc = client.get_bucket_encryption(&bucket).await?;
        let v = json!({"bucket": bucket, "encryption": enc, "bucket_info_xml": info});
        let text = format!(
            "bucket:      oss://{bucket}\nencryption:  {}",
            enc.map_or("none".to_owned(), |r| format!(
                "{}{}",
                r.sse_algorithm,
                r.kms_master_key_id
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default()
            ))
        );
        emit(common, &v, &text);
        return Ok(());
    }
    let info = client.head(&bucket, &key).await?;
    let mut text = format!(
        "object:         oss://{bucket}/{key}\nsize:           {}\netag:           {}\nlast-modified:  {}\n\
         crc64ecma:      {}\nencryption:     {}\nkms-key-id:     {}\n",
        info.size,
        info.etag,
        info.last_modified,
        info.crc64.map(|c| c.to_string()).unwrap_or_default(),
        info.sse.as_deref().unwrap_or("none"),
        info.kms_key_id.as_deref().unwrap_or("-"),
    );
    for (n, v) in &info.headers {
        text.push_str(&format!("  {n}: {v}\n"));
    }
    emit(common, &serde_json::to_value(&info)?, text.trim_end());
    Ok(())
}

async fn cat(target: &str, common: &Common) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, key) = Location::remote(target)?;
    let resp = client
        .send(Req::new(Method::GET, Some(&bucket), Some(&key)), None)
        .await?;
    let server_crc = crate::client::header(&resp, "x-oss-hash-crc64ecma");
    let mut stream = resp.bytes_stream();
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz);
    let mut out = tokio::io::stdout();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        digest.update(&chunk);
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out).await?;
    if let Some(s) = server_crc
        && s != digest.finalize().to_string()
    {
        bail!("{key}: CRC-64 mismatch with the server's {s}");
    }
    Ok(())
}

async fn bucket_encryption(b: BucketEncryption) -> Result<()> {
    match b {
        BucketEncryption::Put {
            bucket,
            sse_algorithm,
            kms_master_key_id,
            kms_data_encryption,
            common,
        } => {
            let client = OssClient::new(common.conn.resolve()?)?;
            let (bucket, _) = Location::remote(&bucket)?;
            let rule = EncryptionRule {
                sse_algorithm,
                kms_master_key_id,
                kms_data_encryption,
            };
            client.put_bucket_encryption(&bucket, &rule).await?;
            emit(&common, &json!({"bucket": bucket, "rule": rule}), "ok");
        }
        BucketEncryption::Get { bucket, common } => {
            let client = OssClient::new(common.conn.resolve()?)?;
            let (bucket, _) = Location::remote(&bucket)?;
            let rule = client.get_bucket_encryption(&bucket).await?;
            let text = match &rule {
                None => "none".to_owned(),
                Some(r) => format!(
                    "SSEAlgorithm:       {}\nKMSMasterKeyID:     {}\nKMSDataEncryption:  {}",
                    r.sse_algorithm,
                    r.kms_master_key_id.as_deref().unwrap_or(""),
                    r.kms_data_encryption.as_deref().unwrap_or("")
                ),
            };
            emit(&common, &json!({"bucket": bucket, "rule": rule}), &text);
        }
        BucketEncryption::Delete { bucket, common } => {
            let client = OssClient::new(common.conn.resolve()?)?;
            let (bucket, _) = Location::remote(&bucket)?;
            client
                .text(
                    Req::new(Method::DELETE, Some(&bucket), None).q("encryption", ""),
                    None,
                )
                .await?;
            emit(&common, &json!({"bucket": bucket, "deleted": true}), "ok");
        }
    }
    Ok(())
}

/// The total progress bar on standard error, in a [`MultiProgress`] where large transfers add
/// their own bars above it; all drawn only when standard output and standard error are terminals
/// (so a pipe or a script's capture gets no escape codes).
fn bars(total: u64) -> (MultiProgress, ProgressBar) {
    let target = if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let multi = MultiProgress::with_draw_target(target);
    let bar = multi.add(ProgressBar::new(total));
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    (multi, bar)
}

/// Prints a line above the bars, or, when they are hidden (a pipe), plainly: a hidden bar's
/// `println` prints nothing. `to_stderr` for messages that are not results.
pub(crate) fn say(bar: &ProgressBar, to_stderr: bool, line: String) {
    if !bar.is_hidden() {
        bar.println(line);
    } else if to_stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Include/exclude globs over paths relative to the source.
pub(crate) struct Filter {
    include: Option<globset::GlobSet>,
    exclude: globset::GlobSet,
}

impl Filter {
    fn new(include: &[String], exclude: &[String]) -> Result<Self> {
        let set = |globs: &[String]| -> Result<globset::GlobSet> {
            let mut b = globset::GlobSetBuilder::new();
            for g in globs {
                b.add(globset::Glob::new(g).with_context(|| format!("bad glob `{g}`"))?);
                // `*.tmp` should match in every directory, as in ossutil.
                if !g.contains('/') {
                    b.add(globset::Glob::new(&format!("**/{g}"))?);
                }
            }
            Ok(b.build()?)
        };
        Ok(Self {
            include: if include.is_empty() {
                None
            } else {
                Some(set(include)?)
            },
            exclude: set(exclude)?,
        })
    }

    fn admits(&self, rel: &str) -> bool {
        self.include.as_ref().is_none_or(|i| i.is_match(rel)) && !self.exclude.is_match(rel)
    }
}

/// `sync` options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SyncOpts {
    delete: bool,
    checksum: bool,
}

/// One file to move, relative name and size.
struct Item {
    rel: String,
    size: u64,
    mtime: i64,
}

fn walk(root: &Path, filter: &Filter) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                if filter.admits(&rel) {
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs() as i64);
                    out.push(Item {
                        rel,
                        size: meta.len(),
                        mtime,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn join_key(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{rel}")
    } else {
        format!("{prefix}/{rel}")
    }
}

fn default_checkpoint_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("coffer/checkpoints")
}

#[allow(clippy::too_many_arguments)]
async fn cp(
    src: &str,
    dst: &str,
    recursive: bool,
    filter: &Filter,
    sse: &SseArgs,
    t: &TransferArgs,
    common: &Common,
    sync: Option<SyncOpts>,
) -> Result<()> {
    let client = OssClient::new(common.conn.resolve()?)?;
    let parallel = t.parallel.max(1);
    let (multi, total_bar) = bars(0);
    let transfers = Arc::new(Transfers {
        client: client.clone(),
        permits: Arc::new(tokio::sync::Semaphore::new(parallel)),
        parallel,
        threshold: t.multipart_threshold_mib.max(1) << 20,
        copy_threshold: t
            .copy_threshold_mib
            .map_or(crate::transfer::COPY_OBJECT_LIMIT, |m| m.max(1) << 20),
        part_size: t.part_size_mib.max(1) << 20,
        checkpoint_dir: t
            .checkpoint_dir
            .clone()
            .unwrap_or_else(default_checkpoint_dir),
        sse: sse.sse(),
        bar: total_bar,
        bars: multi,
    });
    let src_loc = Location::parse(src)?;
    let dst_loc = Location::parse(dst)?;

    // (what, source, destination, size) of each job.
    enum Job {
        Up(PathBuf, String, String),
        /// With the object's Last-Modified (Unix seconds), which becomes the file's mtime.
        Down(String, String, PathBuf, i64),
        /// With the source's size.
        Copy(String, String, String, String, u64),
    }
    let mut jobs: Vec<(Job, u64, String)> = Vec::new();
    let mut to_delete_remote: Vec<(String, String)> = Vec::new();
    let mut to_delete_local: Vec<PathBuf> = Vec::new();
    match (&src_loc, &dst_loc) {
        (Location::Local(_), Location::Local(_)) => bail!("both sides are local; use cp(1)"),
        (Location::Local(path), Location::Remote { bucket, key }) => {
            if recursive {
                let items = walk(path, filter)?;
                let existing = match sync {
                    Some(_) => remote_index(&client, bucket, &dir_prefix(key)).await?,
                    None => Default::default(),
                };
                for it in &items {
                    let k = join_key(&dir_prefix(key), &it.rel);
                    // The object was written after the file last changed (or, with --checksum,
                    // holds the same bytes).
                    if let Some(s) = sync
                        && let Some(o) = existing.get(&k)
                        && o.0 == it.size
                        && (s.checksum || o.1 >= it.mtime)
                        && (!s.checksum
                            || same_crc_local(&client, bucket, &k, &path.join(&it.rel)).await?)
                    {
                        continue;
                    }
                    jobs.push((
                        Job::Up(path.join(&it.rel), bucket.clone(), k.clone()),
                        it.size,
                        k,
                    ));
                }
                if sync.is_some_and(|s| s.delete) {
                    let wanted: std::collections::HashSet<String> = items
                        .iter()
                        .map(|i| join_key(&dir_prefix(key), &i.rel))
                        .collect();
                    to_delete_remote = existing
                        .keys()
                        .filter(|k| !wanted.contains(*k))
                        .map(|k| (bucket.clone(), k.clone()))
                        .collect();
                }
            } else {
                let name = path
                    .file_name()
                    .context("the source names no file")?
                    .to_string_lossy();
                let k = if key.is_empty() || key.ends_with('/') {
                    format!("{key}{name}")
                } else {
                    key.clone()
                };
                let size = std::fs::metadata(path)
                    .with_context(|| format!("stat {}", path.display()))?
                    .len();
                jobs.push((Job::Up(path.clone(), bucket.clone(), k.clone()), size, k));
            }
        }
        (Location::Remote { bucket, key }, Location::Local(path)) => {
            if recursive {
                let prefix = dir_prefix(key);
                let mut wanted = std::collections::HashSet::new();
                for o in client.list_all(bucket, &prefix).await? {
                    let rel = o.key[prefix.len()..].to_owned();
                    if rel.is_empty() || rel.ends_with('/') || !filter.admits(&rel) {
                        continue;
                    }
                    let local = path.join(&rel);
                    wanted.insert(local.clone());
                    let modified = unix_time(&o.last_modified);
                    // The file changed after the object was written (downloads take the object's
                    // Last-Modified as their mtime), or, with --checksum, holds the same bytes.
                    if let Some(s) = sync
                        && let Ok(m) = std::fs::metadata(&local)
                        && m.len() == o.size
                        && (s.checksum || file_mtime(&m) >= modified)
                        && (!s.checksum || same_crc_local(&client, bucket, &o.key, &local).await?)
                    {
                        continue;
                    }
                    jobs.push((
                        Job::Down(bucket.clone(), o.key.clone(), local, modified),
                        o.size,
                        o.key,
                    ));
                }
                if sync.is_some_and(|s| s.delete) && path.is_dir() {
                    to_delete_local = walk(path, filter)?
                        .into_iter()
                        .map(|it| path.join(&it.rel))
                        .filter(|p| !wanted.contains(p))
                        .collect();
                }
            } else {
                let name = key.rsplit('/').next().unwrap_or(key);
                let local = if path.is_dir() || dst.ends_with('/') {
                    path.join(name)
                } else {
                    path.clone()
                };
                let head = client.head(bucket, key).await?;
                jobs.push((
                    Job::Down(
                        bucket.clone(),
                        key.clone(),
                        local,
                        unix_time_http(&head.last_modified),
                    ),
                    head.size,
                    key.clone(),
                ));
            }
        }
        (
            Location::Remote {
                bucket: sb,
                key: sk,
            },
            Location::Remote {
                bucket: db,
                key: dk,
            },
        ) => {
            if recursive {
                let prefix = dir_prefix(sk);
                let existing = match sync {
                    Some(_) => remote_index(&client, db, &dir_prefix(dk)).await?,
                    None => Default::default(),
                };
                let mut wanted = std::collections::HashSet::new();
                for o in client.list_all(sb, &prefix).await? {
                    let rel = o.key[prefix.len()..].to_owned();
                    if rel.is_empty() || !filter.admits(&rel) {
                        continue;
                    }
                    let k = join_key(&dir_prefix(dk), &rel);
                    wanted.insert(k.clone());
                    // The copy was made after the source was written, or, with --checksum, their
                    // CRC-64s agree.
                    if let Some(s) = sync
                        && let Some(d) = existing.get(&k)
                        && d.0 == o.size
                        && (s.checksum || d.1 >= unix_time(&o.last_modified))
                        && (!s.checksum
                            || client.head(sb, &o.key).await?.crc64
                                == client.head(db, &k).await?.crc64)
                    {
                        continue;
                    }
                    jobs.push((
                        Job::Copy(sb.clone(), o.key.clone(), db.clone(), k.clone(), o.size),
                        o.size,
                        k,
                    ));
                }
                if sync.is_some_and(|s| s.delete) {
                    to_delete_remote = existing
                        .keys()
                        .filter(|k| !wanted.contains(*k))
                        .map(|k| (db.clone(), k.clone()))
                        .collect();
                }
            } else {
                let name = sk.rsplit('/').next().unwrap_or(sk);
                let k = if dk.is_empty() || dk.ends_with('/') {
                    format!("{dk}{name}")
                } else {
                    dk.clone()
                };
                let size = client.head(sb, sk).await?.size;
                jobs.push((
                    Job::Copy(sb.clone(), sk.clone(), db.clone(), k.clone(), size),
                    size,
                    k,
                ));
            }
        }
    }

    let total: u64 = jobs.iter().map(|j| j.1).sum();
    transfers.bar.set_message(format!("0/{} files", jobs.len()));
    transfers.bar.set_length(total);
    // Only now: a bar drawn before the listing is done would show 0 of 0 bytes.
    transfers.bar.enable_steady_tick(Duration::from_millis(200));
    let files = jobs.len();
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results: Vec<(String, Result<crate::transfer::Outcome>)> = futures::stream::iter(jobs)
        .map(|(job, _, name)| {
            let t = transfers.clone();
            let finished = finished.clone();
            async move {
                let r = match job {
                    Job::Up(p, b, k) => t.upload(&p, &b, &k).await,
                    Job::Down(b, k, p, modified) => {
                        let r = t.download(&b, &k, &p).await;
                        if r.is_ok() {
                            // As `aws s3 sync` does, so that the next sync in either direction
                            // sees the file and the object as the same age.
                            set_mtime(&p, modified);
                        }
                        r
                    }
                    Job::Copy(sb, sk, db, dk, size) => t.copy(&sb, &sk, size, &db, &dk, &[]).await,
                };
                let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                t.bar.set_message(format!("{n}/{files} files"));
                (name, r)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    transfers.bar.finish_and_clear();

    let mut deleted = 0usize;
    if !to_delete_remote.is_empty() {
        let bucket = to_delete_remote[0].0.clone();
        let keys: Vec<String> = to_delete_remote.into_iter().map(|(_, k)| k).collect();
        for chunk in keys.chunks(1000) {
            let errs = client.delete_many(&bucket, chunk).await?;
            deleted += chunk.len() - errs.len();
        }
    }

    for p in &to_delete_local {
        match std::fs::remove_file(p) {
            Ok(()) => deleted += 1,
            Err(e) => eprintln!("coffer: cannot delete {}: {e}", p.display()),
        }
    }

    let mut failed = 0usize;
    let mut first_error = None;
    let (mut bytes, mut parts_transferred, mut parts_resumed) = (0u64, 0u64, 0u64);
    for (name, r) in results {
        match r {
            Ok(o) => {
                bytes += o.bytes;
                parts_transferred += u64::from(o.parts_transferred);
                parts_resumed += u64::from(o.parts_resumed);
                if common.output == OutputFormat::Json && files <= 1 {
                    continue;
                }
            }
            Err(e) => {
                failed += 1;
                if common.output == OutputFormat::Json {
                    println!("{}", json!({"key": name, "error": format!("{e:#}")}));
                } else {
                    eprintln!("coffer: {name}: {e:#}");
                }
                first_error.get_or_insert(e);
            }
        }
    }
    let summary = json!({
        "files": files, "failed": failed, "bytes": bytes,
        "parts_transferred": parts_transferred, "parts_resumed": parts_resumed,
        "deleted": deleted,
    });
    emit(
        common,
        &summary,
        &format!(
            "{} of {files} files, {bytes} bytes{}{}",
            files - failed,
            if parts_resumed > 0 {
                format!(" ({parts_resumed} parts resumed)")
            } else {
                String::new()
            },
            if deleted > 0 {
                format!(", {deleted} deleted")
            } else {
                String::new()
            },
        ),
    );
    match first_error {
        Some(e) if failed == 1 && files == 1 => Err(e),
        Some(e) => Err(e.context(format!("{failed} of {files} transfers failed"))),
        None => Ok(()),
    }
}

fn dir_prefix(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        key.to_owned()
    } else {
        format!("{key}/")
    }
}

/// Unix seconds of a listing's `LastModified` (ISO 8601); 0 when unreadable, so the object counts
/// as old.
fn unix_time(iso: &str) -> i64 {
    time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .map_or(0, |t| t.unix_timestamp())
}

/// Unix seconds of a `Last-Modified` header (RFC 7231 date); 0 when unreadable.
fn unix_time_http(date: &str) -> i64 {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(date, &format).map_or(0, |t| t.assume_utc().unix_timestamp())
}

fn file_mtime(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Gives the file `secs` as its mtime; a failure only costs the next sync a re-download.
fn set_mtime(path: &Path, secs: i64) {
    let Ok(secs) = u64::try_from(secs) else {
        return;
    };
    if secs == 0 {
        return;
    }
    let when = std::time::UNIX_EPOCH + Duration::from_secs(secs);
    if let Err(e) = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
    {
        eprintln!("coffer: cannot set the mtime of {}: {e}", path.display());
    }
}

async fn remote_index(
    client: &OssClient,
    bucket: &str,
    prefix: &str,
) -> Result<std::collections::HashMap<String, (u64, i64)>> {
    let mut out = std::collections::HashMap::new();
    for o in client.list_all(bucket, prefix).await? {
        let t = unix_time(&o.last_modified);
        out.insert(o.key, (o.size, t));
    }
    Ok(out)
}

async fn same_crc_local(client: &OssClient, bucket: &str, key: &str, path: &Path) -> Result<bool> {
    let remote = client.head(bucket, key).await?.crc64;
    let path = path.to_owned();
    // In pieces: memory stays flat whatever the file's size.
    let local = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        use std::io::Read;
        let mut f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 1 << 20];
        let (mut crc, mut len) = (0u64, 0u64);
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(crc);
            }
            let piece = crate::transfer::crc64(&buf[..n]);
            crc = if len == 0 {
                piece
            } else {
                crate::transfer::crc64_combine(crc, piece, n as u64)
            };
            len += n as u64;
        }
    })
    .await??;
    Ok(remote == Some(local))
}

async fn reencrypt(
    target: &str,
    sse: &SseArgs,
    dry_run: bool,
    rewrap: bool,
    parallel: usize,
    common: &Common,
) -> Result<()> {
    let Some(want) = sse.sse() else {
        bail!("reencrypt needs --sse AES256|SM4|KMS")
    };
    if rewrap && want.algorithm != "KMS" {
        bail!("--rewrap moves objects to KMS only: give --sse KMS [--kms-key-id ID]")
    }
    let client = OssClient::new(common.conn.resolve()?)?;
    let (bucket, prefix) = Location::remote(target)?;
    // The total grows as the listing goes, page by page.
    let (multi, bar) = bars(0);
    bar.enable_steady_tick(Duration::from_millis(200));
    let transfers = Transfers {
        client,
        permits: Arc::new(tokio::sync::Semaphore::new(parallel.max(1))),
        parallel: parallel.max(1),
        threshold: u64::MAX,
        copy_threshold: crate::transfer::COPY_OBJECT_LIMIT,
        part_size: 8 << 20,
        checkpoint_dir: default_checkpoint_dir(),
        sse: Some(want.clone()),
        bar: bar.clone(),
        bars: multi,
    };
    let backend = crate::reencrypt::OssBackend {
        transfers: &transfers,
        bucket,
        prefix,
        to: want.algorithm.clone(),
        kms_key_id: want.kms_key_id.clone(),
        json: common.output == OutputFormat::Json,
        listed: Default::default(),
    };
    let progress = coffer_reencrypt::Progress::new();
    let options = coffer_reencrypt::Options {
        parallel,
        dry_run,
        mode: if rewrap {
            coffer_reencrypt::Mode::Rewrap
        } else {
            coffer_reencrypt::Mode::Copy
        },
    };
    coffer_reencrypt::run(&backend, &want.encryption(), options, &progress).await;
    bar.finish_and_clear();
    let c = progress.counts();
    let first = progress.take_first_error();
    // A listing refused at once (no such bucket, access denied): only the error, as any
    // other command.
    if let Some(f) = &first
        && f.key.is_none()
        && c.listed == 0
    {
        return Err(first.map(|f| f.error.0).expect("checked just above"));
    }
    let summary = json!({
        "objects": c.listed, "rewritten": c.rewritten, "rewrapped": c.rewrapped, "bytes": c.bytes,
        "already_right": c.already, "skipped": c.skipped, "failed": c.failed, "dry_run": dry_run,
    });
    emit(
        common,
        &summary,
        &format!(
            "{} objects: {} {} ({} by rewrapping the key only), {} bytes copied; {} already \
             right; {} changed meanwhile (left as written); {} failed",
            c.listed,
            c.rewritten,
            if dry_run { "to rewrite" } else { "rewritten" },
            c.rewrapped,
            c.bytes,
            c.already,
            c.skipped,
            c.failed
        ),
    );
    match first {
        Some(f) if f.key.is_none() => Err(f
            .error
            .0
            .context(format!("the listing stopped after {} objects", c.listed))),
        Some(f) => Err(f.error.0.context(format!("{} objects failed", c.failed))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_in_every_directory() {
        let f = Filter::new(&[], &["*.tmp".into()]).unwrap();
        assert!(f.admits("a/b.txt"));
        assert!(!f.admits("a/b.tmp"));
        assert!(!f.admits("b.tmp"));
        let f = Filter::new(&["big/*".into()], &[]).unwrap();
        assert!(f.admits("big/x"));
        assert!(!f.admits("small/x"));
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(unix_time_http("Thu, 01 Jan 1970 00:01:40 GMT"), 100);
        assert_eq!(unix_time("1970-01-01T00:01:40.000Z"), 100);
        assert_eq!(unix_time_http("yesterday"), 0);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1h").unwrap(), time::Duration::hours(1));
        assert_eq!(parse_duration("30").unwrap(), time::Duration::seconds(30));
        assert!(parse_duration("1y").is_err());
        assert_eq!(join_key("p", "a/b"), "p/a/b");
        assert_eq!(join_key("", "a"), "a");
    }
}
