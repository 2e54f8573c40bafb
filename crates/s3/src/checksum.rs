//! Additional checksums of request bodies (Amazon S3 user guide, "Checking object integrity in
//! Amazon S3"): `x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256`, given as a header or as the
//! trailer of an `aws-chunked` body (`x-amz-trailer`). The checksum is computed as the body
//! streams (no buffering) and compared at its end; on a mismatch the stream fails, so the store
//! discards the write, and the handler answers `BadDigest`. A body that passed hands its value
//! to the store (`coffer_core::BodyChecksum`), which keeps it with the object or part; GetObject
//! and HeadObject answer it under `x-amz-checksum-mode: ENABLED` ([`response_headers`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use coffer_core::{ChecksumAlgorithm, ObjectChecksum};

use crate::chunked::Trailers;
use crate::error::{S3Error, codes};
use crate::server::Parts;

/// Why a body failed its checksum (the handler turns the code into its S3 error).
pub(crate) const BAD_DIGEST: u8 = 20;
/// The trailer announced by `x-amz-trailer` is missing or not a checksum of its algorithm.
pub(crate) const MALFORMED_TRAILER: u8 = 21;

/// An additional checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// The header (and trailer) carrying the value: `x-amz-checksum-crc32`, ...
    pub(crate) fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name in `x-amz-sdk-checksum-algorithm` and in messages: `CRC32`, ...
    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The store's name for it.
    pub(crate) fn stored(self) -> ChecksumAlgorithm {
        match self {
            Algorithm::Crc32 => ChecksumAlgorithm::Crc32,
            Algorithm::Crc32c => ChecksumAlgorithm::Crc32c,
            Algorithm::Crc64Nvme => ChecksumAlgorithm::Crc64Nvme,
            Algorithm::Sha1 => ChecksumAlgorithm::Sha1,
            Algorithm::Sha256 => ChecksumAlgorithm::Sha256,
        }
    }

    /// The S3 algorithm of a stored checksum.
    pub(crate) fn of_stored(stored: ChecksumAlgorithm) -> Self {
        match stored {
            ChecksumAlgorithm::Crc32 => Algorithm::Crc32,
            ChecksumAlgorithm::Crc32c => Algorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme => Algorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1 => Algorithm::Sha1,
            ChecksumAlgorithm::Sha256 => Algorithm::Sha256,
        }
    }

    /// The element naming it in XML documents: `ChecksumCRC32`, ...
    pub(crate) fn element(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "ChecksumCRC32",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Sha1 => "ChecksumSHA1",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn from_header(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(name))
    }

    /// Length of the digest in bytes (CRCs big-endian, as S3 encodes them).
    fn len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Decodes a base64 value of this algorithm; `None` if it is not one.
    pub(crate) fn decode(self, value: &str) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .filter(|d| d.len() == self.len())
    }
}

/// A running checksum.
enum Hasher {
    Crc(Algorithm, crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Self {
        use crc_fast::CrcAlgorithm as C;
        match algorithm {
            Algorithm::Crc32 => Hasher::Crc(algorithm, crc_fast::Digest::new(C::Crc32IsoHdlc)),
            Algorithm::Crc32c => Hasher::Crc(algorithm, crc_fast::Digest::new(C::Crc32Iscsi)),
            Algorithm::Crc64Nvme => Hasher::Crc(algorithm, crc_fast::Digest::new(C::Crc64Nvme)),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(_, d) => d.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc(Algorithm::Crc64Nvme, d) => d.finalize().to_be_bytes().to_vec(),
            // The 32-bit CRCs are returned in the low half of the u64.
            Hasher::Crc(_, d) => (d.finalize() as u32).to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// The checksum of `data` under `algorithm`, base64 as S3 writes it.
#[cfg(test)]
pub(crate) fn of(algorithm: Algorithm, data: &[u8]) -> String {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    base64::engine::general_purpose::STANDARD.encode(h.finish())
}

/// Where the expected value comes from.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// The `x-amz-checksum-*` header.
    Header(Vec<u8>),
    /// The body's trailer (`x-amz-trailer`).
    Trailer,
    /// Nothing to compare: only `x-amz-sdk-checksum-algorithm` was given; the value is computed
    /// for the reply.
    Nothing,
}

/// The checksum a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Requested {
    algorithm: Algorithm,
    expected: Expected,
}

fn invalid(what: &str) -> S3Error {
    S3Error::new(
        codes::INVALID_REQUEST,
        format!("Value for {what} header is invalid."),
    )
}

/// The checksum the request's headers ask for: at most one `x-amz-checksum-*` header or an
/// `x-amz-trailer` naming one (with a trailer form of `x-amz-content-sha256`), agreeing with
/// `x-amz-sdk-checksum-algorithm` when both are given. `InvalidRequest` otherwise, as S3 answers.
pub(crate) fn requested(p: &Parts) -> Result<Option<Requested>, S3Error> {
    let mut in_headers = Algorithm::ALL
        .into_iter()
        .filter(|a| p.headers.contains_key(a.header()));
    let header = in_headers.next();
    if in_headers.next().is_some() {
        return Err(S3Error::new(
            codes::INVALID_REQUEST,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    let trailer = match p.header("x-amz-trailer") {
        None => None,
        Some(name) => {
            let Some(algorithm) = Algorithm::from_header(name.trim()) else {
                return Err(invalid("x-amz-trailer"));
            };
            if !p.payload_hash.ends_with("-TRAILER") {
                return Err(S3Error::new(
                    codes::INVALID_REQUEST,
                    "x-amz-trailer needs a trailer form of x-amz-content-sha256.",
                ));
            }
            Some(algorithm)
        }
    };
    let sdk = match p.header("x-amz-sdk-checksum-algorithm") {
        None => None,
        Some(name) => Some(
            Algorithm::from_name(name).ok_or_else(|| invalid("x-amz-sdk-checksum-algorithm"))?,
        ),
    };
    let requested = match (header, trailer) {
        (Some(_), Some(_)) => {
            return Err(S3Error::new(
                codes::INVALID_REQUEST,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        (Some(algorithm), None) => {
            let value = p.header(algorithm.header()).unwrap_or_default();
            let value = algorithm
                .decode(value)
                .ok_or_else(|| invalid(algorithm.header()))?;
            Requested {
                algorithm,
                expected: Expected::Header(value),
            }
        }
        (None, Some(algorithm)) => Requested {
            algorithm,
            expected: Expected::Trailer,
        },
        (None, None) => match sdk {
            Some(algorithm) => Requested {
                algorithm,
                expected: Expected::Nothing,
            },
            None => return Ok(None),
        },
    };
    if sdk.is_some_and(|a| a != requested.algorithm) {
        return Err(invalid("x-amz-sdk-checksum-algorithm"));
    }
    Ok(Some(requested))
}

/// The checksum of a body that passed, filled in when the body has ended: for the store to keep
/// and for the reply.
pub(crate) type Outcome = coffer_core::BodyChecksum;

/// A stored checksum as S3 writes it: base64 of the digest, with `-N` after a composite of N
/// parts (Amazon S3 user guide, "Checking object integrity in Amazon S3").
pub(crate) fn encode(c: &ObjectChecksum) -> String {
    let value = base64::engine::general_purpose::STANDARD.encode(&c.value);
    match c.composite_parts {
        Some(n) => format!("{value}-{n}"),
        None => value,
    }
}

/// `x-amz-checksum-type` of a stored checksum.
pub(crate) fn type_name(c: &ObjectChecksum) -> &'static str {
    if c.composite_parts.is_some() {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    }
}

/// The checksum headers of an object: `x-amz-checksum-<alg>` and `x-amz-checksum-type`.
pub(crate) fn response_headers(r: &mut crate::server::Reply, c: &ObjectChecksum) {
    r.header(Algorithm::of_stored(c.algorithm).header(), encode(c));
    r.header("x-amz-checksum-type", type_name(c));
}

/// `inner` with the requested checksum computed as it passes and compared at its end. On a
/// mismatch the stream fails and `failure` says why ([`BAD_DIGEST`], [`MALFORMED_TRAILER`]).
pub(crate) fn verify<S>(
    inner: S,
    requested: Requested,
    trailers: Trailers,
    failure: Arc<AtomicU8>,
    outcome: Outcome,
) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Send,
{
    let mut hasher = Some(Hasher::new(requested.algorithm));
    let algorithm = requested.algorithm;
    let mut expected = Some(requested.expected);
    inner
        .map(|item| item.map(Some))
        .chain(futures::stream::once(async { Ok(None) }))
        .filter_map(move |item| {
            let out = match item {
                Ok(Some(chunk)) => {
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                    Some(Ok(chunk))
                }
                Ok(None) => {
                    let got = hasher.take().map(Hasher::finish).unwrap_or_default();
                    let want = match expected.take() {
                        Some(Expected::Header(v)) => Some(Ok(v)),
                        Some(Expected::Trailer) => Some(
                            trailers
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .iter()
                                .find(|(name, _)| name == algorithm.header())
                                .and_then(|(_, v)| algorithm.decode(v))
                                .ok_or(MALFORMED_TRAILER),
                        ),
                        Some(Expected::Nothing) | None => None,
                    };
                    match want {
                        Some(Err(code)) => Some(Err(refuse(&failure, code))),
                        Some(Ok(want)) if want != got => Some(Err(refuse(&failure, BAD_DIGEST))),
                        _ => {
                            outcome.set(algorithm.stored(), got);
                            None
                        }
                    }
                }
                Err(e) => Some(Err(e)),
            };
            async move { out }
        })
}

fn refuse(failure: &AtomicU8, code: u8) -> io::Error {
    failure.store(code, Ordering::Relaxed);
    io::Error::new(io::ErrorKind::InvalidData, "checksum mismatch")
}

/// The S3 error of a body that failed its checksum, if that is why; `algorithm` names it in
/// the message.
pub(crate) fn failure_error(code: u8, algorithm: Option<Algorithm>) -> Option<S3Error> {
    let name = algorithm.map_or("checksum", Algorithm::name);
    match code {
        BAD_DIGEST => Some(S3Error::new(
            codes::BAD_DIGEST,
            format!("The {name} you specified did not match the calculated checksum."),
        )),
        MALFORMED_TRAILER => Some(S3Error::new(
            codes::MALFORMED_TRAILER,
            "The request contained trailing data that was not well-formed or did not conform to \
             our published schema.",
        )),
        _ => None,
    }
}

impl Requested {
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The check value of each algorithm over "123456789" (the CRC catalogue's `check`, and the
    // FIPS 180 digests), base64 of the big-endian bytes as S3 writes it.
    #[test]
    fn each_algorithm_gives_its_published_check_value() {
        let b64 = |hex_value: &str| {
            base64::engine::general_purpose::STANDARD
                .encode(hex::decode(hex_value).expect("test hex"))
        };
        for (algorithm, check) in [
            (Algorithm::Crc32, "cbf43926"),
            (Algorithm::Crc32c, "e3069283"),
            (Algorithm::Crc64Nvme, "ae8b14860a799888"),
            (Algorithm::Sha1, "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
            (
                Algorithm::Sha256,
                "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
            ),
        ] {
            assert_eq!(of(algorithm, b"123456789"), b64(check), "{algorithm:?}");
        }
    }

    fn run(
        body: &[&[u8]],
        requested: Requested,
        trailers: &[(&str, &str)],
    ) -> (bool, u8, Option<(Algorithm, String)>) {
        let b64 = |v: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(v);
        let failure = Arc::new(AtomicU8::new(0));
        let outcome = Outcome::default();
        let trailer_slot = Trailers::default();
        *trailer_slot.lock().expect("fresh") = trailers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let pieces: Vec<io::Result<Bytes>> =
            body.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let stream = verify(
            futures::stream::iter(pieces),
            requested,
            trailer_slot,
            failure.clone(),
            outcome.clone(),
        );
        let ok = futures::executor::block_on(async {
            futures::pin_mut!(stream);
            let mut ok = true;
            while let Some(item) = stream.next().await {
                ok &= item.is_ok();
            }
            ok
        });
        let outcome = outcome
            .get()
            .map(|(a, v)| (Algorithm::of_stored(a), b64(v)));
        (ok, failure.load(Ordering::Relaxed), outcome)
    }

    #[test]
    fn a_body_passes_or_fails_its_header_or_trailer_checksum() {
        let good = of(Algorithm::Crc32c, b"hello world");
        let header = |v: &str| Requested {
            algorithm: Algorithm::Crc32c,
            expected: Expected::Header(Algorithm::Crc32c.decode(v).expect("valid")),
        };
        let trailer = || Requested {
            algorithm: Algorithm::Crc32c,
            expected: Expected::Trailer,
        };
        assert_eq!(
            run(&[b"hello", b" world"], header(&good), &[]),
            (true, 0, Some((Algorithm::Crc32c, good.clone())))
        );
        assert_eq!(
            run(&[b"hello", b" worle"], header(&good), &[]),
            (false, BAD_DIGEST, None)
        );
        let name = "x-amz-checksum-crc32c";
        assert_eq!(run(&[b"hello world"], trailer(), &[(name, &good)]).1, 0);
        assert_eq!(
            run(&[b"hello world!"], trailer(), &[(name, &good)]).1,
            BAD_DIGEST
        );
        assert_eq!(run(&[b"x"], trailer(), &[]).1, MALFORMED_TRAILER);
        assert_eq!(
            run(&[b"x"], trailer(), &[(name, "not base64")]).1,
            MALFORMED_TRAILER
        );
    }
}
