//! [`PgMetaStore`]: the metadata store in PostgreSQL tables.
//!
//! | table | primary key | holds |
//! |---|---|---|
//! | `meta_buckets` | name | `encode_bucket` of the record (with its policy) |
//! | `meta_objects` | (bucket, key bytes) | `encode_record` of the `ObjectRecord` |
//! | `meta_uploads` | (bucket, key bytes, upload id); unique (bucket, upload id) | `UploadRecord` |
//! | `meta_parts` | (bucket, upload id, part number) | `PartRecord`, and its blob id |
//! | `meta_live_blobs`, `meta_garbage` | blob id | blob tracking |
//!
//! Each method is one serializable transaction (see [`crate::pool`]); its checks read the rows the
//! write depends on in that transaction, so a conflicting writer on another node makes one of the
//! two retry and see the other's result. Row order comes from `bytea` keys, never from a collation.

use std::collections::HashSet;

use async_trait::async_trait;
use coffer_meta::{
    BucketRecord, Error as MetaError, MetaStore, ObjectRecord, PartRecord, PutCondition, Result,
    UploadCursor, UploadRecord, decode_bucket, decode_record, encode_bucket, encode_record,
};
use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};
use deadpool_postgres::Transaction;

use crate::pool::{TxnError, serializable};
use crate::{Error, Pool};

/// A [`MetaStore`] in a PostgreSQL database; any number of nodes may share one.
#[derive(Debug, Clone)]
pub struct PgMetaStore {
    pool: Pool,
}

impl PgMetaStore {
    /// The store's connections, for their metrics.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A store on `pool` (whose schema [`crate::connect`] has brought up to date).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

/// Why a transaction body stopped: the operation was refused, or the database failed.
#[derive(Debug)]
enum Fail {
    Meta(MetaError),
    Db(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Db(e)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Db(Error::Db(e))
    }
}

impl From<MetaError> for Fail {
    fn from(e: MetaError) -> Self {
        Fail::Meta(e)
    }
}

impl TxnError for Fail {
    fn is_retryable(&self) -> bool {
        matches!(self, Fail::Db(e) if e.is_retryable())
    }
    fn is_database_error(&self) -> bool {
        matches!(self, Fail::Db(_))
    }
}

impl From<Fail> for MetaError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Meta(e) => e,
            Fail::Db(e) => MetaError::Internal(Box::new(e)),
        }
    }
}

/// A trait `limit` as a SQL `LIMIT`.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The smallest byte string greater than every string starting with `prefix`, if there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn blob_ids(object: &ObjectRecord) -> Vec<String> {
    object
        .segments
        .iter()
        .map(|s| s.blob.as_str().to_owned())
        .collect()
}

/// Makes `adopted` live (and not garbage), then moves `dropped` except the adopted ones from live
/// to garbage: the same rule as every backend.
async fn track(tx: &Transaction<'_>, adopted: &[String], dropped: &[String]) -> Result<(), Fail> {
    let kept: HashSet<&String> = adopted.iter().collect();
    if !adopted.is_empty() {
        tx.execute("DELETE FROM meta_garbage WHERE id = ANY($1)", &[&adopted])
            .await?;
        tx.execute(
            "INSERT INTO meta_live_blobs (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            &[&adopted],
        )
        .await?;
    }
    let dropped: Vec<&String> = dropped.iter().filter(|id| !kept.contains(id)).collect();
    if !dropped.is_empty() {
        tx.execute(
            "DELETE FROM meta_live_blobs WHERE id = ANY($1)",
            &[&dropped],
        )
        .await?;
        tx.execute(
            "INSERT INTO meta_garbage (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            &[&dropped],
        )
        .await?;
    }
    Ok(())
}

async fn require_bucket(tx: &Transaction<'_>, bucket: &BucketName) -> Result<(), Fail> {
    require_row(
        tx,
        "SELECT 1 FROM meta_buckets WHERE name = $1",
        &[&bucket.as_str()],
        MetaError::NoSuchBucket,
    )
    .await
}

/// Runs a query that names one row; `missing` if there is none.
async fn require_row(
    tx: &Transaction<'_>,
    query: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    missing: MetaError,
) -> Result<(), Fail> {
    tx.query_opt(query, params)
        .await?
        .map(|_| ())
        .ok_or(Fail::Meta(missing))
}

async fn current_object(
    tx: &Transaction<'_>,
    bucket: &BucketName,
    key: &ObjectKey,
) -> Result<Option<ObjectRecord>, Fail> {
    let row = tx
        .query_opt(
            "SELECT record FROM meta_objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
            &[&bucket.as_str(), &key.as_str().as_bytes()],
        )
        .await?;
    Ok(row
        .map(|r| decode_record(r.get::<_, &[u8]>(0)))
        .transpose()?)
}

async fn upsert_object(
    tx: &Transaction<'_>,
    bucket: &BucketName,
    object: &ObjectRecord,
) -> Result<(), Fail> {
    tx.execute(
        "INSERT INTO meta_objects (bucket, key, record) VALUES ($1, $2, $3)
         ON CONFLICT (bucket, key) DO UPDATE SET record = excluded.record",
        &[
            &bucket.as_str(),
            &object.key.as_str().as_bytes(),
            &encode_record(object),
        ],
    )
    .await?;
    Ok(())
}

/// Locks upload `id` for the rest of the transaction; `NoSuchUpload` if it is gone.
async fn lock_upload(tx: &Transaction<'_>, bucket: &BucketName, id: &UploadId) -> Result<(), Fail> {
    require_row(
        tx,
        "SELECT 1 FROM meta_uploads WHERE bucket = $1 AND upload_id = $2 FOR UPDATE",
        &[&bucket.as_str(), &id.as_str()],
        MetaError::NoSuchUpload,
    )
    .await
}

/// Removes upload `id` and its parts; the parts' blob ids. `NoSuchUpload` if it is gone.
async fn take_upload(
    tx: &Transaction<'_>,
    bucket: &BucketName,
    id: &UploadId,
) -> Result<Vec<String>, Fail> {
    let removed = tx
        .execute(
            "DELETE FROM meta_uploads WHERE bucket = $1 AND upload_id = $2",
            &[&bucket.as_str(), &id.as_str()],
        )
        .await?;
    if removed == 0 {
        return Err(Fail::Meta(MetaError::NoSuchUpload));
    }
    let rows = tx
        .query(
            "DELETE FROM meta_parts WHERE bucket = $1 AND upload_id = $2 RETURNING blob",
            &[&bucket.as_str(), &id.as_str()],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

#[async_trait]
impl MetaStore for PgMetaStore {
    async fn ping(&self) -> Result<()> {
        let probe = async {
            let client = self.pool.client().await?;
            client.simple_query("SELECT 1").await?;
            Ok::<(), Fail>(())
        };
        Ok(probe.await?)
    }

    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let record = encode_bucket(&bucket);
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO meta_buckets (name, record) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&bucket.name.as_str(), &record],
                )
                .await?;
            if inserted == 0 {
                return Err(Fail::Meta(MetaError::BucketExists));
            }
        });
        Ok(out?)
    }

    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            tx.query_opt(
                "SELECT record FROM meta_buckets WHERE name = $1",
                &[&name.as_str()],
            )
            .await?
            .map(|r| decode_bucket(r.get::<_, &[u8]>(0)))
            .transpose()?
        });
        Ok(out?)
    }

    async fn update_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            let row = tx
                .query_opt(
                    "SELECT record FROM meta_buckets WHERE name = $1 FOR UPDATE",
                    &[&bucket.name.as_str()],
                )
                .await?
                .ok_or(Fail::Meta(MetaError::NoSuchBucket))?;
            let stored = decode_bucket(row.get::<_, &[u8]>(0))?;
            let updated = BucketRecord {
                policy: stored.policy,
                ..bucket.clone()
            };
            tx.execute(
                "UPDATE meta_buckets SET record = $2 WHERE name = $1",
                &[&bucket.name.as_str(), &encode_bucket(&updated)],
            )
            .await?;
        });
        Ok(out?)
    }

    async fn set_bucket_policy(&self, name: &BucketName, policy: Option<String>) -> Result<()> {
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            let row = tx
                .query_opt(
                    "SELECT record FROM meta_buckets WHERE name = $1 FOR UPDATE",
                    &[&name.as_str()],
                )
                .await?
                .ok_or(Fail::Meta(MetaError::NoSuchBucket))?;
            let mut stored = decode_bucket(row.get::<_, &[u8]>(0))?;
            stored.policy = policy.clone();
            tx.execute(
                "UPDATE meta_buckets SET record = $2 WHERE name = $1",
                &[&name.as_str(), &encode_bucket(&stored)],
            )
            .await?;
        });
        Ok(out?)
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        let out: Result<Vec<BucketRecord>, Fail> = serializable!(self.pool, |tx| {
            let rows = tx.query("SELECT record FROM meta_buckets", &[]).await?;
            rows.iter()
                .map(|r| decode_bucket(r.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>>>()?
        });
        // Sorted here, not by the database: bucket names are compared as bytes whatever the
        // database's collation.
        let mut buckets = out?;
        buckets.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Ok(buckets)
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<()> {
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            tx.query_opt(
                "SELECT 1 FROM meta_buckets WHERE name = $1 FOR UPDATE",
                &[&name.as_str()],
            )
            .await?
            .ok_or(Fail::Meta(MetaError::NoSuchBucket))?;
            let busy: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM meta_objects WHERE bucket = $1)
                         OR EXISTS (SELECT 1 FROM meta_uploads WHERE bucket = $1)",
                    &[&name.as_str()],
                )
                .await?
                .get(0);
            if busy {
                return Err(Fail::Meta(MetaError::BucketNotEmpty));
            }
            tx.execute(
                "DELETE FROM meta_buckets WHERE name = $1",
                &[&name.as_str()],
            )
            .await?;
        });
        Ok(out?)
    }

    async fn object(&self, bucket: &BucketName, key: &ObjectKey) -> Result<Option<ObjectRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            tx.query_opt(
                "SELECT record FROM meta_objects WHERE bucket = $1 AND key = $2",
                &[&bucket.as_str(), &key.as_str().as_bytes()],
            )
            .await?
            .map(|r| decode_record(r.get::<_, &[u8]>(0)))
            .transpose()?
        });
        Ok(out?)
    }

    async fn put_object(
        &self,
        bucket: &BucketName,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            require_bucket(&tx, bucket).await?;
            let old = current_object(&tx, bucket, &object.key).await?;
            condition.check(old.as_ref())?;
            upsert_object(&tx, bucket, &object).await?;
            let dropped = old.as_ref().map(blob_ids).unwrap_or_default();
            track(&tx, &blob_ids(&object), &dropped).await?;
            old
        });
        Ok(out?)
    }

    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Option<ObjectRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            let old = tx
                .query_opt(
                    "DELETE FROM meta_objects WHERE bucket = $1 AND key = $2 RETURNING record",
                    &[&bucket.as_str(), &key.as_str().as_bytes()],
                )
                .await?
                .map(|r| decode_record::<ObjectRecord>(r.get::<_, &[u8]>(0)))
                .transpose()?;
            if let Some(old) = &old {
                track(&tx, &[], &blob_ids(old)).await?;
            }
            old
        });
        Ok(out?)
    }

    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let start = prefix.max(from).as_bytes();
        let end = prefix_end(prefix.as_bytes());
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            require_bucket(&tx, bucket).await?;
            let rows = tx
                .query(
                    "SELECT record FROM meta_objects
                     WHERE bucket = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3)
                     ORDER BY key LIMIT $4",
                    &[&bucket.as_str(), &start, &end, &sql_limit(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| decode_record(r.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>>>()?
        });
        Ok(out?)
    }

    async fn create_upload(&self, bucket: &BucketName, upload: UploadRecord) -> Result<()> {
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            require_bucket(&tx, bucket).await?;
            tx.execute(
                "INSERT INTO meta_uploads (bucket, key, upload_id, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (bucket, key, upload_id) DO UPDATE SET record = excluded.record",
                &[
                    &bucket.as_str(),
                    &upload.key.as_str().as_bytes(),
                    &upload.upload_id.as_str(),
                    &encode_record(&upload),
                ],
            )
            .await?;
        });
        Ok(out?)
    }

    async fn upload(&self, bucket: &BucketName, id: &UploadId) -> Result<Option<UploadRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            tx.query_opt(
                "SELECT record FROM meta_uploads WHERE bucket = $1 AND upload_id = $2",
                &[&bucket.as_str(), &id.as_str()],
            )
            .await?
            .map(|r| decode_record(r.get::<_, &[u8]>(0)))
            .transpose()?
        });
        Ok(out?)
    }

    async fn put_part(&self, bucket: &BucketName, id: &UploadId, part: PartRecord) -> Result<()> {
        let number = i64::from(part.part_number);
        let blob = part.segment.blob.as_str().to_owned();
        let record = encode_record(&part);
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            lock_upload(&tx, bucket, id).await?;
            let old: Vec<String> = tx
                .query(
                    "SELECT blob FROM meta_parts
                     WHERE bucket = $1 AND upload_id = $2 AND part_number = $3 FOR UPDATE",
                    &[&bucket.as_str(), &id.as_str(), &number],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.execute(
                "INSERT INTO meta_parts (bucket, upload_id, part_number, blob, record)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (bucket, upload_id, part_number)
                 DO UPDATE SET blob = excluded.blob, record = excluded.record",
                &[&bucket.as_str(), &id.as_str(), &number, &blob, &record],
            )
            .await?;
            track(&tx, std::slice::from_ref(&blob), &old).await?;
        });
        Ok(out?)
    }

    async fn parts(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            require_row(
                &tx,
                "SELECT 1 FROM meta_uploads WHERE bucket = $1 AND upload_id = $2",
                &[&bucket.as_str(), &id.as_str()],
                MetaError::NoSuchUpload,
            )
            .await?;
            let rows = tx
                .query(
                    "SELECT record FROM meta_parts
                     WHERE bucket = $1 AND upload_id = $2 AND part_number > $3
                     ORDER BY part_number LIMIT $4",
                    &[
                        &bucket.as_str(),
                        &id.as_str(),
                        &i64::from(after),
                        &sql_limit(limit),
                    ],
                )
                .await?;
            rows.iter()
                .map(|r| decode_record(r.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>>>()?
        });
        Ok(out?)
    }

    async fn complete_upload(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            lock_upload(&tx, bucket, id).await?;
            let old = current_object(&tx, bucket, &object.key).await?;
            condition.check(old.as_ref())?;
            let mut dropped = take_upload(&tx, bucket, id).await?;
            upsert_object(&tx, bucket, &object).await?;
            dropped.extend(old.as_ref().map(blob_ids).unwrap_or_default());
            track(&tx, &blob_ids(&object), &dropped).await?;
            old
        });
        Ok(out?)
    }

    async fn abort_upload(&self, bucket: &BucketName, id: &UploadId) -> Result<()> {
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            let dropped = take_upload(&tx, bucket, id).await?;
            track(&tx, &[], &dropped).await?;
        });
        Ok(out?)
    }

    async fn scan_uploads(
        &self,
        bucket: &BucketName,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        let end = prefix_end(prefix.as_bytes());
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            require_bucket(&tx, bucket).await?;
            // A cursor without an id skips its key: no id sorts after every id then.
            let rows = tx
                .query(
                    "SELECT record FROM meta_uploads
                     WHERE bucket = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3)
                       AND (key > $4 OR (key = $4 AND $5::text IS NOT NULL AND upload_id > $5))
                     ORDER BY key, upload_id LIMIT $6",
                    &[
                        &bucket.as_str(),
                        &prefix.as_bytes(),
                        &end,
                        &after.key.as_bytes(),
                        &after.upload_id,
                        &sql_limit(limit),
                    ],
                )
                .await?;
            rows.iter()
                .map(|r| decode_record(r.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>>>()?
        });
        Ok(out?)
    }

    async fn garbage(&self, limit: usize) -> Result<Vec<BlobId>> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            let rows = tx
                .query(
                    "SELECT id FROM meta_garbage ORDER BY id LIMIT $1",
                    &[&sql_limit(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let id: &str = r.get(0);
                    BlobId::parse(id)
                        .ok_or_else(|| MetaError::Corrupt(format!("garbage blob id {id:?}")))
                })
                .collect::<Result<Vec<_>>>()?
        });
        Ok(out?)
    }

    async fn forget_garbage(&self, ids: &[BlobId]) -> Result<()> {
        let ids: Vec<&str> = ids.iter().map(BlobId::as_str).collect();
        let out: Result<(), Fail> = serializable!(self.pool, |tx| {
            tx.execute("DELETE FROM meta_garbage WHERE id = ANY($1)", &[&ids])
                .await?;
        });
        Ok(out?)
    }

    async fn is_blob_known(&self, id: &BlobId) -> Result<bool> {
        let out: Result<_, Fail> = serializable!(self.pool, |tx| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM meta_live_blobs WHERE id = $1)
                     OR EXISTS (SELECT 1 FROM meta_garbage WHERE id = $1)",
                &[&id.as_str()],
            )
            .await?
            .get::<_, bool>(0)
        });
        Ok(out?)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_first_string_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
