//! Listing objects and multipart uploads, with prefixes, delimiters and markers.

use coffer_iam::{Action, Grant};
use coffer_meta::{ObjectRecord, UploadCursor, UploadRecord};
use coffer_types::BucketName;

use crate::store::{bucket_resource, in_bucket, require};
use crate::{RequestContext, Result, Store};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to common prefixes at the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) strictly after this.
    pub marker: String,
    /// At most this many entries (objects plus common prefixes).
    pub max_keys: usize,
}

/// One entry of a listing.
#[derive(Debug, Clone)]
// Listings hold at most 1000 entries, so boxing records to save the space of short prefixes would
// buy nothing but an allocation per object.
#[allow(clippy::large_enum_variant)]
pub enum ListEntry {
    /// An object.
    Object(ObjectRecord),
    /// A common prefix (ends with the delimiter).
    Prefix(String),
}

impl ListEntry {
    /// The key or prefix: where the next page starts after this entry.
    pub fn marker(&self) -> &str {
        match self {
            ListEntry::Object(o) => o.key.as_str(),
            ListEntry::Prefix(p) => p,
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Objects and common prefixes in key order.
    pub entries: Vec<ListEntry>,
    /// More entries follow.
    pub truncated: bool,
}

impl ListPage {
    /// Where the next page starts, when truncated.
    pub fn next_marker(&self) -> Option<&str> {
        if self.truncated {
            self.entries.last().map(ListEntry::marker)
        } else {
            None
        }
    }
}

/// The smallest string greater than every string that starts with `prefix` and is reachable in a
/// listing: jumping here skips a whole common prefix in one seek.
fn after_prefix(prefix: &str) -> String {
    let mut s = prefix.to_owned();
    s.push(char::MAX);
    s
}

/// The smallest string strictly greater than `s` (keys never contain NUL).
pub(crate) fn just_after(s: &str) -> String {
    let mut next = s.to_owned();
    next.push('\0');
    next
}

pub(crate) const SCAN_BATCH: usize = 1000;

impl Store {
    /// ListObjects / ListObjectsV2.
    pub async fn list_objects(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        query: &ListQuery,
    ) -> Result<ListPage> {
        require(grant, Action::ListObjects, bucket_resource(bucket))?;
        self.existing_bucket(bucket).await?;
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut entries: Vec<ListEntry> = Vec::new();
        let mut from = if query.marker.is_empty() {
            query.prefix.clone()
        } else {
            just_after(&query.marker).max(query.prefix.clone())
        };
        // Collect one entry more than asked: its presence is what "truncated" means.
        let want = query.max_keys + 1;
        'scan: while entries.len() < want {
            let limit = (want - entries.len()).min(SCAN_BATCH);
            let batch = self
                .meta
                .scan_objects(bucket, &query.prefix, &from, limit)
                .await
                .map_err(in_bucket(bucket))?;
            let exhausted = batch.len() < limit;
            let Some(last) = batch.last() else { break };
            from = just_after(last.key.as_str());
            for object in batch {
                let rest = &object.key.as_str()[query.prefix.len()..];
                let common = delimiter.and_then(|d| {
                    rest.find(d).map(|at| {
                        object.key.as_str()[..query.prefix.len() + at + d.len()].to_owned()
                    })
                });
                match common {
                    Some(p) => {
                        // A prefix at or before the marker was already returned on an earlier page.
                        if p.as_str() > query.marker.as_str() {
                            entries.push(ListEntry::Prefix(p.clone()));
                        }
                        from = after_prefix(&p);
                        if entries.len() >= want {
                            break 'scan;
                        }
                        continue 'scan;
                    }
                    None => entries.push(ListEntry::Object(object)),
                }
                if entries.len() >= want {
                    break 'scan;
                }
            }
            if exhausted {
                break;
            }
        }
        let truncated = entries.len() > query.max_keys;
        entries.truncate(query.max_keys);
        Ok(ListPage { entries, truncated })
    }
}

/// What multipart uploads to list.
#[derive(Debug, Clone, Default)]
pub struct UploadListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to common prefixes.
    pub delimiter: Option<String>,
    /// Start after this key (with `upload_id_marker`: after that upload of this key).
    pub key_marker: String,
    /// See `key_marker`.
    pub upload_id_marker: String,
    /// At most this many entries.
    pub max_uploads: usize,
}

/// A page of ListMultipartUploads.
#[derive(Debug, Clone)]
pub struct UploadListPage {
    /// Uploads in (key, upload id) order.
    pub uploads: Vec<UploadRecord>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// Next key marker (when truncated).
    pub next_key_marker: String,
    /// Next upload id marker (when truncated).
    pub next_upload_id_marker: String,
}

impl Store {
    /// ListMultipartUploads.
    pub async fn list_uploads(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        query: &UploadListQuery,
    ) -> Result<UploadListPage> {
        require(grant, Action::ListMultipartUploads, bucket_resource(bucket))?;
        self.existing_bucket(bucket).await?;
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut cursor = UploadCursor {
            key: query.key_marker.clone(),
            upload_id: (!query.key_marker.is_empty() && !query.upload_id_marker.is_empty())
                .then(|| query.upload_id_marker.clone()),
        };
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut last: Option<(String, String)> = None;
        let want = query.max_uploads + 1;
        'scan: while uploads.len() + prefixes.len() < want {
            let limit = (want - uploads.len() - prefixes.len()).min(SCAN_BATCH);
            let batch = self
                .meta
                .scan_uploads(bucket, &query.prefix, &cursor, limit)
                .await
                .map_err(in_bucket(bucket))?;
            let exhausted = batch.len() < limit;
            if batch.is_empty() {
                break;
            }
            for upload in batch {
                cursor = UploadCursor {
                    key: upload.key.to_string(),
                    upload_id: Some(upload.upload_id.to_string()),
                };
                let key = upload.key.as_str();
                let common = delimiter.and_then(|d| {
                    key[query.prefix.len()..]
                        .find(d)
                        .map(|at| key[..query.prefix.len() + at + d.len()].to_owned())
                });
                if let Some(p) = common {
                    if p.as_str() > query.key_marker.as_str() {
                        last = Some((p.clone(), String::new()));
                        prefixes.push(p.clone());
                    }
                    cursor = UploadCursor {
                        key: after_prefix(&p),
                        upload_id: None,
                    };
                    if uploads.len() + prefixes.len() >= want {
                        break 'scan;
                    }
                    continue 'scan;
                }
                last = Some((key.to_owned(), upload.upload_id.to_string()));
                uploads.push(upload);
                if uploads.len() + prefixes.len() >= want {
                    break 'scan;
                }
            }
            if exhausted {
                break;
            }
        }
        let truncated = uploads.len() + prefixes.len() > query.max_uploads;
        if truncated {
            // Drop the one extra entry, whichever kind sorts last.
            let last_upload = uploads.last().map(|u| u.key.as_str().to_owned());
            let last_prefix = prefixes.last().cloned();
            match (last_upload, last_prefix) {
                (Some(u), Some(p)) if p > u => {
                    prefixes.pop();
                }
                (_, None) => {
                    uploads.pop();
                }
                (None, Some(_)) => {
                    prefixes.pop();
                }
                _ => {
                    uploads.pop();
                }
            }
            let last_upload = uploads
                .last()
                .map(|u| (u.key.to_string(), u.upload_id.to_string()));
            let last_prefix = prefixes.last().map(|p| (p.clone(), String::new()));
            last = match (last_upload, last_prefix) {
                (Some(u), Some(p)) => Some(if p.0 > u.0 { p } else { u }),
                (u, p) => u.or(p),
            };
        }
        let (next_key_marker, next_upload_id_marker) = if truncated {
            last.unwrap_or_default()
        } else {
            Default::default()
        };
        Ok(UploadListPage {
            uploads,
            prefixes,
            truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }
}
