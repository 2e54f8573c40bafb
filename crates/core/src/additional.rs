//! Additional checksums (Amazon S3 user guide, "Checking object integrity in Amazon S3"): kept
//! with objects and parts, and combined for a completed multipart upload.
//!
//! **Invariant:** the store never computes a checksum of object data. The front-end computes
//! and verifies a body's checksum as it streams and hands the value over in a [`BodyChecksum`];
//! the store keeps it. Only for CompleteMultipartUpload does the store derive a value, from the
//! parts' stored ones: a CRC combined into the whole object's (`FULL_OBJECT`), or a digest of the
//! parts' digests (`COMPOSITE`), as S3 does.

use std::sync::{Arc, Mutex, PoisonError};

use coffer_meta::{ChecksumAlgorithm, ObjectChecksum, PartRecord, UploadChecksum};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// The additional checksum of a request body, known only once the body has ended: the
/// front-end fills it when its verifying stream reaches the end, the store reads it after the
/// body has been written. Empty: the body had none.
#[derive(Debug, Clone, Default)]
pub struct BodyChecksum(Arc<Mutex<Option<Verified>>>);

/// A verified checksum: the algorithm and the digest bytes (CRCs big-endian).
type Verified = (ChecksumAlgorithm, Vec<u8>);

impl BodyChecksum {
    /// Records the verified checksum of the body (digest bytes, CRCs big-endian).
    pub fn set(&self, algorithm: ChecksumAlgorithm, value: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((algorithm, value));
    }

    /// The checksum recorded, if any.
    pub fn get(&self) -> Option<(ChecksumAlgorithm, Vec<u8>)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// As a record field: a checksum of the whole body.
    pub(crate) fn stored(&self) -> Option<ObjectChecksum> {
        self.get().map(|(algorithm, value)| ObjectChecksum {
            algorithm,
            value,
            composite_parts: None,
        })
    }
}

/// Whether `algorithm` can give a multipart object a checksum of the whole data (S3: CRC64NVME
/// only so, CRC32 and CRC32C either way, the SHAs only as composites).
pub fn supports_full_object(algorithm: ChecksumAlgorithm) -> bool {
    matches!(
        algorithm,
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
    )
}

/// Whether `algorithm` can give a multipart object a composite checksum (all but CRC64NVME).
pub fn supports_composite(algorithm: ChecksumAlgorithm) -> bool {
    algorithm != ChecksumAlgorithm::Crc64Nvme
}

fn crc_algorithm(algorithm: ChecksumAlgorithm) -> Option<crc_fast::CrcAlgorithm> {
    use crc_fast::CrcAlgorithm as C;
    match algorithm {
        ChecksumAlgorithm::Crc32 => Some(C::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(C::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(C::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// A CRC value as a number (the big-endian bytes S3 writes).
fn crc_value(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn crc_bytes(algorithm: ChecksumAlgorithm, value: u64) -> Vec<u8> {
    match algorithm {
        ChecksumAlgorithm::Crc64Nvme => value.to_be_bytes().to_vec(),
        // The 32-bit CRCs are in the low half of the u64.
        _ => (value as u32).to_be_bytes().to_vec(),
    }
}

/// The digest of `data` under `algorithm`: only ever over the parts' digests, never object data.
fn digest_of_digests(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    match crc_algorithm(algorithm) {
        Some(crc) => crc_bytes(algorithm, crc_fast::checksum(crc, data)),
        None if algorithm == ChecksumAlgorithm::Sha1 => Sha1::digest(data).to_vec(),
        None => Sha256::digest(data).to_vec(),
    }
}

/// The completed object's checksum from its parts' (in order), as the upload was initiated to
/// have it; `None` when the upload was initiated without one. A part without a checksum of the
/// upload's algorithm is `InvalidPart`.
pub(crate) fn of_parts(
    wanted: Option<UploadChecksum>,
    parts: &[PartRecord],
) -> Result<Option<ObjectChecksum>> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(parts.len());
    for part in parts {
        match &part.checksum {
            Some(c) if c.algorithm == wanted.algorithm => {
                values.push((c.value.as_slice(), part.size))
            }
            _ => {
                return Err(Error::InvalidPart(format!(
                    "Part {} has no checksum of the algorithm the upload was initiated with.",
                    part.part_number
                )));
            }
        }
    }
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    if wanted.composite {
        let concatenated: Vec<u8> = values.iter().flat_map(|(v, _)| v.iter().copied()).collect();
        return Ok(Some(ObjectChecksum {
            algorithm: wanted.algorithm,
            value: digest_of_digests(wanted.algorithm, &concatenated),
            composite_parts: Some(count),
        }));
    }
    let Some(crc) = crc_algorithm(wanted.algorithm) else {
        return Err(Error::invalid_argument(
            "x-amz-checksum-type",
            "FULL_OBJECT",
            "The SHA checksums of a multipart upload can only be composite.",
        ));
    };
    let mut combined: Option<u64> = None;
    for (value, len) in values {
        let value = crc_value(value);
        combined = Some(match combined {
            None => value,
            Some(_) if len == 0 => combined.unwrap_or(value),
            Some(acc) => crc_fast::checksum_combine(crc, acc, value, len),
        });
    }
    Ok(Some(ObjectChecksum {
        algorithm: wanted.algorithm,
        value: crc_bytes(wanted.algorithm, combined.unwrap_or(0)),
        composite_parts: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_meta::{Segment, UnixMillis};
    use coffer_types::BlobId;

    fn whole(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        // Test-only: the front-end's job, done here to build expected values.
        match crc_algorithm(algorithm) {
            Some(crc) => crc_bytes(algorithm, crc_fast::checksum(crc, data)),
            None => digest_of_digests(algorithm, data),
        }
    }

    fn part(n: u32, algorithm: ChecksumAlgorithm, data: &[u8]) -> PartRecord {
        PartRecord {
            part_number: n,
            size: data.len() as u64,
            etag: String::new(),
            crc64: 0,
            last_modified: UnixMillis(0),
            segment: Segment {
                blob: BlobId::parse(&"0A".repeat(16)).expect("valid"),
                len: data.len() as u64,
                crypto: None,
                inline: None,
            },
            checksum: Some(ObjectChecksum {
                algorithm,
                value: whole(algorithm, data),
                composite_parts: None,
            }),
        }
    }

    #[test]
    fn full_object_crcs_equal_the_crc_of_the_whole_data() {
        let (a, b, c) = (
            b"hello ".as_slice(),
            b"multipart".as_slice(),
            b" world".as_slice(),
        );
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts = [
                part(1, algorithm, a),
                part(2, algorithm, b),
                part(3, algorithm, c),
            ];
            let wanted = UploadChecksum {
                algorithm,
                composite: false,
            };
            let got = of_parts(Some(wanted), &parts)
                .expect("combines")
                .expect("some");
            assert_eq!(
                got.value,
                whole(algorithm, b"hello multipart world"),
                "{algorithm:?}"
            );
            assert_eq!(got.composite_parts, None);
        }
    }

    #[test]
    fn composites_are_the_digest_of_the_part_digests() {
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
        ] {
            let parts = [part(1, algorithm, b"one"), part(2, algorithm, b"two")];
            let mut both = whole(algorithm, b"one");
            both.extend(whole(algorithm, b"two"));
            let wanted = UploadChecksum {
                algorithm,
                composite: true,
            };
            let got = of_parts(Some(wanted), &parts)
                .expect("combines")
                .expect("some");
            assert_eq!(got.value, whole(algorithm, &both), "{algorithm:?}");
            assert_eq!(got.composite_parts, Some(2));
        }
    }

    #[test]
    fn a_part_without_the_uploads_algorithm_is_an_invalid_part() {
        let parts = [part(1, ChecksumAlgorithm::Crc32c, b"x")];
        let wanted = UploadChecksum {
            algorithm: ChecksumAlgorithm::Crc32,
            composite: true,
        };
        assert!(matches!(
            of_parts(Some(wanted), &parts),
            Err(Error::InvalidPart(_))
        ));
        assert_eq!(of_parts(None, &parts).expect("no checksum asked"), None);
    }
}
