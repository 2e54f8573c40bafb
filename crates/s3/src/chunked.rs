//! `aws-chunked` request bodies (Amazon S3 API reference, "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks"): each chunk is
//! `hex-size[;chunk-signature=sig]\r\n<data>\r\n`, ended by a zero-size chunk and, in the
//! trailer forms, `name:value` trailer lines (the checksums current SDKs send) and an empty line.
//! With `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk's signature chains from the
//! request's, and the trailer's `x-amz-trailer-signature` from the last chunk's ("Signature
//! Calculation: Including Trailing Headers"). The trailer lines are handed to [`Trailers`] for
//! the checksum check (`crate::checksum`), which reads them once the data has ended.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::sigv4::ChunkSigner;

/// Why a chunked body was refused (the handler turns the code into its S3 error).
pub(crate) const MALFORMED: u8 = 1;
pub(crate) const BAD_SIGNATURE: u8 = 2;

/// Most bytes of a chunk header or trailer line.
const MAX_LINE: usize = 4096;

/// Most trailer lines read (a checksum and its signature; a little room for more).
const MAX_TRAILERS: usize = 16;

/// The trailer's signature line in the signed forms.
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// The trailer lines of a chunked body, `(lower-case name, value)`, filled in before the decoded
/// stream ends.
pub(crate) type Trailers = Arc<Mutex<Vec<(String, String)>>>;

struct State<S> {
    inner: S,
    buf: BytesMut,
    signer: Option<ChunkSigner>,
    /// The previous signature, for the chain.
    prev: String,
    finished: bool,
    failure: Arc<AtomicU8>,
    trailers: Trailers,
}

fn fail(failure: &AtomicU8, code: u8, what: &str) -> io::Error {
    failure.store(code, Ordering::Relaxed);
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> State<S> {
    /// Reads until `buf` holds at least `n` bytes; false at the end of the body.
    async fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() < n {
            match self.inner.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk?),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(at);
                self.buf.advance(2);
                return String::from_utf8(line.to_vec())
                    .map_err(|_| fail(&self.failure, MALFORMED, "chunk header is not text"));
            }
            if self.buf.len() > MAX_LINE {
                return Err(fail(&self.failure, MALFORMED, "chunk header too long"));
            }
            let want = self.buf.len() + 1;
            if !self.fill(want).await? {
                return Err(fail(
                    &self.failure,
                    MALFORMED,
                    "body ended inside a chunk header",
                ));
            }
        }
    }

    async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.finished {
            return Ok(None);
        }
        let header = self.line().await?;
        let (size, signature) = match header.split_once(';') {
            Some((size, ext)) => (size, ext.strip_prefix("chunk-signature=")),
            None => (header.as_str(), None),
        };
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| fail(&self.failure, MALFORMED, "chunk size is not hex"))?;
        if !self.fill(size).await? {
            return Err(fail(&self.failure, MALFORMED, "body ended inside a chunk"));
        }
        let data = self.buf.split_to(size).freeze();
        if let Some(signer) = &self.signer {
            let Some(signature) = signature else {
                return Err(fail(
                    &self.failure,
                    BAD_SIGNATURE,
                    "chunk without signature",
                ));
            };
            let expected = signer.chunk_signature(&self.prev, &Sha256::digest(&data));
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                signature.as_bytes(),
            )) {
                return Err(fail(
                    &self.failure,
                    BAD_SIGNATURE,
                    "chunk signature differs",
                ));
            }
            self.prev = expected;
        }
        if size == 0 {
            self.read_trailers().await?;
            self.finished = true;
            return Ok(None);
        }
        if !self.fill(2).await? || &self.buf[..2] != b"\r\n" {
            return Err(fail(&self.failure, MALFORMED, "chunk not followed by CRLF"));
        }
        self.buf.advance(2);
        Ok(Some(data))
    }
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> State<S> {
    /// Trailer lines (checksums), then the empty line; a body without trailers may end right
    /// after the last chunk's CRLF, or with it. Signed bodies must sign a trailer they carry.
    async fn read_trailers(&mut self) -> io::Result<()> {
        let mut lines = Vec::new();
        let mut signature = None;
        loop {
            if !self.fill(1).await? {
                break;
            }
            let line = self.line().await?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(fail(&self.failure, MALFORMED, "trailer line without ':'"));
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == TRAILER_SIGNATURE {
                signature = Some(value);
                continue;
            }
            if lines.len() == MAX_TRAILERS {
                return Err(fail(&self.failure, MALFORMED, "too many trailer lines"));
            }
            lines.push((name, value));
        }
        if let Some(signer) = &self.signer
            && !lines.is_empty()
        {
            let Some(signature) = signature else {
                return Err(fail(
                    &self.failure,
                    BAD_SIGNATURE,
                    "trailer without signature",
                ));
            };
            let mut canonical = String::new();
            for (name, value) in &lines {
                canonical.push_str(name);
                canonical.push(':');
                canonical.push_str(value);
                canonical.push('\n');
            }
            let expected = signer.trailer_signature(&self.prev, &Sha256::digest(canonical));
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                signature.as_bytes(),
            )) {
                return Err(fail(
                    &self.failure,
                    BAD_SIGNATURE,
                    "trailer signature differs",
                ));
            }
        }
        *self
            .trailers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = lines;
        Ok(())
    }
}

/// The decoded data of an `aws-chunked` body. `signer` (signed streaming) checks each chunk's
/// signature; `failure` says why the stream failed, if it did; `trailers` receives the trailer
/// lines before the stream ends.
pub(crate) fn decode<S>(
    inner: S,
    signer: Option<ChunkSigner>,
    failure: Arc<AtomicU8>,
    trailers: Trailers,
) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Unpin + Send,
{
    let prev = signer
        .as_ref()
        .map(|s| s.seed().to_owned())
        .unwrap_or_default();
    let state = State {
        inner,
        buf: BytesMut::new(),
        signer,
        prev,
        finished: false,
        failure,
        trailers,
    };
    futures::stream::unfold(state, |mut state| async move {
        match state.next_chunk().await {
            Ok(Some(data)) => Some((Ok(data), state)),
            Ok(None) => None,
            Err(e) => {
                state.finished = true;
                Some((Err(e), state))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &[u8], signer: Option<ChunkSigner>) -> (Result<Vec<u8>, io::Error>, u8) {
        let (out, failure, _) = run_with_trailers(body, signer);
        (out, failure)
    }

    /// What a decoded body gave: the bytes (or the error), the failure code, the trailers.
    type Decoded = (Result<Vec<u8>, io::Error>, u8, Vec<(String, String)>);

    fn run_with_trailers(body: &[u8], signer: Option<ChunkSigner>) -> Decoded {
        let failure = Arc::new(AtomicU8::new(0));
        let trailers = Trailers::default();
        let pieces: Vec<io::Result<Bytes>> = body
            .chunks(3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let stream = decode(
            futures::stream::iter(pieces),
            signer,
            failure.clone(),
            trailers.clone(),
        );
        let out = futures::executor::block_on(async {
            let mut out = Vec::new();
            futures::pin_mut!(stream);
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk?);
            }
            Ok(out)
        });
        let trailers = trailers.lock().expect("not poisoned").clone();
        (out, failure.load(Ordering::Relaxed), trailers)
    }

    #[test]
    fn unsigned_chunks_with_a_checksum_trailer_decode_split_anywhere() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        let (out, failure, trailers) = run_with_trailers(body, None);
        assert_eq!(out.unwrap(), b"hello world");
        assert_eq!(failure, 0);
        assert_eq!(
            trailers,
            vec![("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned())]
        );
    }

    #[test]
    fn truncated_or_malformed_bodies_fail_with_a_reason() {
        for body in [
            &b"5\r\nhel"[..],
            b"zz\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nno-colon\r\n\r\n",
        ] {
            let (out, failure) = run(body, None);
            assert!(out.is_err(), "{body:?}");
            assert_eq!(failure, MALFORMED);
        }
    }

    // The worked example of "Transferring Payload in Multiple Chunks": a 66560-byte object of
    // 'a' in chunks of 65536 and 1024 bytes.
    #[test]
    fn the_published_signed_chunk_example_verifies_and_a_changed_byte_does_not() {
        let key = crate::sigv4::signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
        );
        let signer = || {
            ChunkSigner::new(
                key,
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            )
        };
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        body.extend(std::iter::repeat_n(b'a', 65536));
        body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        body.extend(std::iter::repeat_n(b'a', 1024));
        body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        let (out, failure) = run(&body, Some(signer()));
        assert_eq!(out.unwrap().len(), 66560);
        assert_eq!(failure, 0);
        body[200] = b'b';
        let (out, failure) = run(&body, Some(signer()));
        assert!(out.is_err());
        assert_eq!(failure, BAD_SIGNATURE);
    }
}
