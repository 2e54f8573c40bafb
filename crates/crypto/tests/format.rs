//! Properties of the encrypted-segment format, through the public API only: round trips for any
//! size, chunking and piece sizes; ranges; and every tampering the format promises to detect.

// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them; a panic in a test helper is a test failure, which is what we want.
#![allow(clippy::unwrap_used)]

use std::ops::Range;

use coffer_crypto::{
    Cipher, DataKey, Decryptor, Encryptor, Error, HEADER_LEN, SegmentHeader, TAG_LEN,
    decrypt_segment, encode_context, encrypt_segment,
};
use proptest::prelude::*;

const CIPHERS: [Cipher; 2] = [Cipher::Aes256Gcm, Cipher::Sm4Gcm];

fn context() -> Vec<u8> {
    encode_context(&[b"bucket", b"dir/object", b"upload-1", b"7"])
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// Encrypts `pt`, pushing it in pieces of the sizes in `pieces` (cycled; empty means one piece).
fn seal(
    key: &DataKey,
    cipher: Cipher,
    chunk_len: u32,
    pt: &[u8],
    pieces: &[usize],
) -> ([u8; HEADER_LEN], Vec<u8>) {
    seal_with(key, cipher, chunk_len, pt, pieces, false)
}

/// [`seal`], and with `drain` the output buffer is emptied after every push, as the server does
/// (which takes the encryptor's zero-copy hand-over path).
fn seal_with(
    key: &DataKey,
    cipher: Cipher,
    chunk_len: u32,
    pt: &[u8],
    pieces: &[usize],
    drain: bool,
) -> ([u8; HEADER_LEN], Vec<u8>) {
    let mut enc = Encryptor::new(key, cipher, chunk_len, &context()).unwrap();
    let mut out = Vec::new();
    let mut body = Vec::new();
    for piece in split(pt, pieces) {
        enc.push(piece, &mut out).unwrap();
        if drain {
            body.append(&mut out);
        }
    }
    assert_eq!(enc.plaintext_len(), pt.len() as u64);
    let header = enc.header().encode();
    enc.finish(&mut out).unwrap();
    body.append(&mut out);
    (header, body)
}

/// Decrypts `plain` of a segment whose plaintext is `total` long, feeding the fetched ciphertext in
/// pieces of the sizes in `pieces`.
fn open_range(
    key: &DataKey,
    header: &[u8],
    ctx: &[u8],
    body: &[u8],
    plain: Range<u64>,
    total: u64,
    pieces: &[usize],
) -> Result<Vec<u8>, Error> {
    open_range_with(key, header, ctx, body, plain, total, pieces, false)
}

/// [`open_range`], and with `drain` the output buffer is emptied after every push.
#[allow(clippy::too_many_arguments)]
fn open_range_with(
    key: &DataKey,
    header: &[u8],
    ctx: &[u8],
    body: &[u8],
    plain: Range<u64>,
    total: u64,
    pieces: &[usize],
    drain: bool,
) -> Result<Vec<u8>, Error> {
    let header = SegmentHeader::decode(header)?;
    let range = header.ciphertext_range_for(plain, total)?;
    let mut dec = Decryptor::new(key, &header, ctx, &range)?;
    let ct = range.ciphertext();
    let end = (ct.end as usize).min(body.len());
    let fetched = body.get(ct.start as usize..end).unwrap_or(&[]);
    let mut out = Vec::new();
    let mut plain = Vec::new();
    for piece in split(fetched, pieces) {
        dec.push(piece, &mut out)?;
        if drain {
            plain.append(&mut out);
        }
    }
    dec.finish()?;
    plain.append(&mut out);
    Ok(plain)
}

/// Decrypts `plain` with [`Decryptor::push_in_place`], in pieces of whole chunks whose counts are
/// cycled from `chunks_per_piece` (empty means all at once); each piece is decrypted where it lies.
fn open_range_in_place(
    key: &DataKey,
    header: &[u8],
    body: &[u8],
    plain: Range<u64>,
    total: u64,
    chunks_per_piece: &[usize],
) -> Result<Vec<u8>, Error> {
    let header = SegmentHeader::decode(header)?;
    let range = header.ciphertext_range_for(plain, total)?;
    let mut dec = Decryptor::new(key, &header, &context(), &range)?;
    let ct = range.ciphertext();
    let mut fetched = body[ct.start as usize..(ct.end as usize).min(body.len())].to_vec();
    let mut rest = &mut fetched[..];
    let mut plain = Vec::new();
    let mut counts = chunks_per_piece.iter().cycle();
    while !rest.is_empty() {
        // The longest prefix of at most `want` whole chunks.
        let want = counts.next().copied().unwrap_or(usize::MAX);
        let mut len = 0;
        let mut chunks = 0;
        let step = header.chunk_len() as usize + TAG_LEN;
        while chunks < want && len < rest.len() {
            let next = (len + step).min(rest.len());
            if !dec.takes_whole_chunks(next) {
                break;
            }
            len = next;
            chunks += 1;
        }
        if len == 0 {
            // A truncated body: what is left is not a whole chunk, which the push refuses.
            let refused = dec.push_in_place(rest);
            assert!(matches!(refused, Err(Error::InvalidArgument { .. })));
            return Err(Error::Decrypt);
        }
        let (piece, tail) = rest.split_at_mut(len);
        let n = dec.push_in_place(piece)?;
        plain.extend_from_slice(&piece[..n]);
        rest = tail;
    }
    dec.finish()?;
    Ok(plain)
}

fn open_all(key: &DataKey, header: &[u8], body: &[u8], total: u64) -> Result<Vec<u8>, Error> {
    open_range(key, header, &context(), body, 0..total, total, &[])
}

fn split<'a>(mut data: &'a [u8], pieces: &[usize]) -> Vec<&'a [u8]> {
    if pieces.is_empty() {
        return vec![data];
    }
    let mut out = Vec::new();
    for &n in pieces.iter().cycle() {
        if data.is_empty() {
            break;
        }
        let (head, rest) = data.split_at(n.clamp(1, data.len()));
        out.push(head);
        data = rest;
    }
    out
}

fn is_decrypt<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Decrypt))
}

#[test]
fn round_trip_at_chunk_boundaries() {
    for cipher in CIPHERS {
        for chunk_len in [16u32, 17, 64, 1000] {
            let c = chunk_len as usize;
            for len in [0, 1, c - 1, c, c + 1, 2 * c, 3 * c - 1, 3 * c + 5] {
                let key = DataKey::generate();
                let pt = plaintext(len);
                let (header, body) = seal(&key, cipher, chunk_len, &pt, &[]);
                let h = SegmentHeader::decode(&header).unwrap();
                assert_eq!(body.len() as u64, h.ciphertext_len(len as u64).unwrap());
                assert_eq!(
                    h.chunk_count(len as u64),
                    (len as u64).div_ceil(c as u64).max(1)
                );
                assert_eq!(open_all(&key, &header, &body, len as u64).unwrap(), pt);
                assert_eq!(decrypt_segment(&key, &h, &context(), &body).unwrap(), pt);
            }
        }
    }
}

#[test]
fn one_shot_and_streaming_agree_on_layout() {
    let key = DataKey::generate();
    let pt = plaintext(5000);
    let (h, body) = encrypt_segment(&key, Cipher::Aes256Gcm, 1024, b"c", &pt).unwrap();
    assert_eq!(h.chunk_len(), 1024);
    assert_eq!(h.cipher(), Cipher::Aes256Gcm);
    assert_eq!(body.len(), 5000 + 5 * TAG_LEN);
    assert_eq!(decrypt_segment(&key, &h, b"c", &body).unwrap(), pt);
}

#[test]
fn every_single_bit_flip_in_header_or_body_is_detected() {
    for cipher in CIPHERS {
        let key = DataKey::generate();
        let pt = plaintext(70);
        let (header, body) = seal(&key, cipher, 16, &pt, &[]);
        let mut blob = header.to_vec();
        blob.extend_from_slice(&body);
        for i in 0..blob.len() {
            for bit in 0..8 {
                let mut bad = blob.clone();
                bad[i] ^= 1 << bit;
                let (h, b) = bad.split_at(HEADER_LEN);
                assert!(
                    is_decrypt(open_all(&key, h, b, 70)),
                    "{cipher:?} byte {i} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn wrong_key_context_or_header_is_detected_before_any_chunk() {
    for cipher in CIPHERS {
        let key = DataKey::generate();
        let pt = plaintext(100);
        let (header, body) = seal(&key, cipher, 32, &pt, &[]);
        let h = SegmentHeader::decode(&header).unwrap();
        let range = h.ciphertext_range_for(0..100, 100).unwrap();
        // Decryptor::new already refuses, before any ciphertext is fetched.
        let other_ctx = encode_context(&[b"bucket", b"dir/object", b"upload-1", b"8"]);
        assert!(is_decrypt(Decryptor::new(&key, &h, &other_ctx, &range)));
        assert!(is_decrypt(Decryptor::new(
            &DataKey::generate(),
            &h,
            &context(),
            &range
        )));
        // The header of another segment written with the same key and context (a retry).
        let (other_header, _) = seal(&key, cipher, 32, &pt, &[]);
        assert!(is_decrypt(open_all(&key, &other_header, &body, 100)));
        assert_eq!(open_all(&key, &header, &body, 100).unwrap(), pt);
    }
}

#[test]
fn splicing_chunks_between_segments_is_detected() {
    for cipher in CIPHERS {
        // Same data key, same context, same plaintext: only the salt differs (a retried upload).
        let key = DataKey::generate();
        let pt = plaintext(64);
        let (h1, b1) = seal(&key, cipher, 16, &pt, &[]);
        let (_, b2) = seal(&key, cipher, 16, &pt, &[]);
        assert_ne!(b1, b2, "fresh salt must give a fresh chunk key");
        let stride = 16 + TAG_LEN;
        for chunk in 0..4 {
            let mut spliced = b1.clone();
            spliced[chunk * stride..(chunk + 1) * stride]
                .copy_from_slice(&b2[chunk * stride..(chunk + 1) * stride]);
            assert!(is_decrypt(open_all(&key, &h1, &spliced, 64)));
        }
    }
}

#[test]
fn reordered_or_duplicated_chunks_are_detected() {
    for cipher in CIPHERS {
        let key = DataKey::generate();
        let pt = plaintext(16 * 4);
        let (header, body) = seal(&key, cipher, 16, &pt, &[]);
        let chunks: Vec<&[u8]> = body.chunks(16 + TAG_LEN).collect();
        assert_eq!(chunks.len(), 4);
        for order in [
            [1, 0, 2, 3],
            [0, 1, 3, 2],
            [3, 1, 2, 0],
            [0, 0, 2, 3],
            [0, 1, 2, 2],
        ] {
            let shuffled: Vec<u8> = order.iter().flat_map(|&i| chunks[i].to_vec()).collect();
            assert!(
                is_decrypt(open_all(&key, &header, &shuffled, 64)),
                "{order:?}"
            );
        }
        // A single middle chunk read from the position of another.
        let h = SegmentHeader::decode(&header).unwrap();
        let range = h.ciphertext_range_for(16..32, 64).unwrap();
        let mut dec = Decryptor::new(&key, &h, &context(), &range).unwrap();
        assert!(is_decrypt(dec.push(chunks[2], &mut Vec::new())));
    }
}

#[test]
fn truncation_is_detected() {
    for cipher in CIPHERS {
        for len in [0usize, 1, 15, 16, 17, 48, 50] {
            let key = DataKey::generate();
            let pt = plaintext(len);
            let (header, body) = seal(&key, cipher, 16, &pt, &[]);
            let h = SegmentHeader::decode(&header).unwrap();
            for cut in 1..=body.len() {
                let short = &body[..body.len() - cut];
                // With the true length from the metadata: bytes are missing.
                assert!(
                    is_decrypt(open_all(&key, &header, short, len as u64)),
                    "{len} {cut}"
                );
                // With a length made to match the shorter blob: the new last chunk is not final.
                assert!(
                    is_decrypt(decrypt_segment(&key, &h, &context(), short)),
                    "{len} {cut}"
                );
            }
            // Dropping whole chunks and claiming a shorter plaintext.
            for shorter in 0..len as u64 {
                let ct_len = h.ciphertext_len(shorter).unwrap() as usize;
                if ct_len <= body.len() {
                    assert!(is_decrypt(open_all(
                        &key,
                        &header,
                        &body[..ct_len],
                        shorter
                    )));
                }
            }
        }
    }
}

#[test]
fn extension_is_detected() {
    for cipher in CIPHERS {
        let key = DataKey::generate();
        let pt = plaintext(40);
        let (header, body) = seal(&key, cipher, 16, &pt, &[]);
        let h = SegmentHeader::decode(&header).unwrap();
        // Claiming a longer plaintext: the real final chunk carries the final flag too early.
        for longer in [41u64, 48, 49, 64, 100] {
            let mut padded = body.clone();
            padded.resize(h.ciphertext_len(longer).unwrap() as usize, 0);
            assert!(
                is_decrypt(open_all(&key, &header, &padded, longer)),
                "{longer}"
            );
        }
        // Extra bytes after the last chunk, fed to a decryptor: refused.
        let mut extended = body.clone();
        extended.push(0);
        let range = h.ciphertext_range_for(0..40, 40).unwrap();
        let mut dec = Decryptor::new(&key, &h, &context(), &range).unwrap();
        assert!(is_decrypt(dec.push(&extended, &mut Vec::new())));
        assert!(is_decrypt(decrypt_segment(&key, &h, &context(), &extended)));
    }
}

#[test]
fn a_failed_decryptor_stays_failed_and_leaks_nothing() {
    let key = DataKey::generate();
    let pt = plaintext(64);
    let (header, mut body) = seal(&key, Cipher::Aes256Gcm, 16, &pt, &[]);
    body[40] ^= 1; // in chunk 1
    let h = SegmentHeader::decode(&header).unwrap();
    let range = h.ciphertext_range_for(0..64, 64).unwrap();
    let mut dec = Decryptor::new(&key, &h, &context(), &range).unwrap();
    let mut out = Vec::new();
    assert!(is_decrypt(dec.push(&body, &mut out)));
    // Chunk 0 was authentic and is delivered; nothing of chunk 1 is.
    assert_eq!(out, &pt[..16]);
    assert!(is_decrypt(dec.push(&[], &mut out)));
    assert!(is_decrypt(dec.push(&body[..1], &mut out)));
    assert!(is_decrypt(dec.finish()));
}

#[test]
fn range_computed_for_another_chunk_length_is_refused() {
    let key = DataKey::generate();
    let (h16, _) = encrypt_segment(&key, Cipher::Aes256Gcm, 16, b"", b"abc").unwrap();
    let (h32, _) = encrypt_segment(&key, Cipher::Aes256Gcm, 32, b"", b"abc").unwrap();
    let range = h32.ciphertext_range_for(0..3, 3).unwrap();
    assert!(matches!(
        Decryptor::new(&key, &h16, b"", &range),
        Err(Error::InvalidArgument { .. })
    ));
}

/// Golden segments written by format version 1 (see `testdata/README.md`); new code must still read
/// them byte for byte.
#[test]
fn golden_segments_still_decrypt() {
    let key = DataKey::from_bytes(*b"coffer golden data key 32 bytes!");
    let ctx = encode_context(&[b"golden-bucket", b"golden/object.bin"]);
    let pt = plaintext(300);
    for (cipher, blob) in [
        (
            Cipher::Aes256Gcm,
            &include_bytes!("../testdata/segment-v1-aes256gcm.bin")[..],
        ),
        (
            Cipher::Sm4Gcm,
            &include_bytes!("../testdata/segment-v1-sm4gcm.bin")[..],
        ),
    ] {
        let (header, body) = blob.split_at(HEADER_LEN);
        let h = SegmentHeader::decode(header).unwrap();
        assert_eq!(h.cipher(), cipher);
        assert_eq!(h.chunk_len(), 128);
        assert_eq!(decrypt_segment(&key, &h, &ctx, body).unwrap(), pt);
    }
}

/// Writes the golden files. Run by hand only when adding a format version:
/// `cargo test -p coffer-crypto --test format -- --ignored write_golden_segments`.
#[test]
#[ignore = "writes testdata; run by hand for a new format version"]
fn write_golden_segments() {
    let key = DataKey::from_bytes(*b"coffer golden data key 32 bytes!");
    let ctx = encode_context(&[b"golden-bucket", b"golden/object.bin"]);
    for (cipher, name) in [(Cipher::Aes256Gcm, "aes256gcm"), (Cipher::Sm4Gcm, "sm4gcm")] {
        let (h, body) = encrypt_segment(&key, cipher, 128, &ctx, &plaintext(300)).unwrap();
        let mut blob = h.encode().to_vec();
        blob.extend_from_slice(&body);
        let path = format!(
            "{}/testdata/segment-v1-{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::write(path, blob).unwrap();
    }
}

fn cipher_strategy() -> impl Strategy<Value = Cipher> {
    prop_oneof![Just(Cipher::Aes256Gcm), Just(Cipher::Sm4Gcm)]
}

fn pieces_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..300, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_any_size_and_pieces(
        cipher in cipher_strategy(),
        chunk_len in 16u32..200,
        len in 0usize..3000,
        push_pieces in pieces_strategy(),
        read_pieces in pieces_strategy(),
        drain in any::<bool>(),
    ) {
        let key = DataKey::generate();
        let pt = plaintext(len);
        let (header, body) = seal_with(&key, cipher, chunk_len, &pt, &push_pieces, drain);
        let h = SegmentHeader::decode(&header).unwrap();
        prop_assert_eq!(body.len() as u64, h.ciphertext_len(len as u64).unwrap());
        prop_assert_eq!(h.plaintext_len(body.len() as u64).unwrap(), len as u64);
        let got = open_range_with(&key, &header, &context(), &body, 0..len as u64, len as u64, &read_pieces, drain).unwrap();
        prop_assert_eq!(got, pt);
    }

    #[test]
    fn any_range_decrypts_to_the_same_slice(
        cipher in cipher_strategy(),
        chunk_len in 16u32..100,
        len in 0usize..1500,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        read_pieces in pieces_strategy(),
        drain in any::<bool>(),
    ) {
        let key = DataKey::generate();
        let pt = plaintext(len);
        let (header, body) = seal(&key, cipher, chunk_len, &pt, &[]);
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let (start, end) = (x.min(y), x.max(y));
        let got = open_range_with(&key, &header, &context(), &body, start as u64..end as u64, len as u64, &read_pieces, drain).unwrap();
        prop_assert_eq!(&got[..], &pt[start..end]);
    }

    #[test]
    fn a_flipped_bit_never_yields_wrong_bytes(
        cipher in cipher_strategy(),
        chunk_len in 16u32..64,
        len in 0usize..600,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let key = DataKey::generate();
        let pt = plaintext(len);
        let (header, body) = seal(&key, cipher, chunk_len, &pt, &[]);
        let mut blob = header.to_vec();
        blob.extend_from_slice(&body);
        let i = flip.index(blob.len());
        blob[i] ^= 1 << bit;
        let (h, b_) = blob.split_at(HEADER_LEN);
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let (start, end) = (x.min(y), x.max(y));
        let result = open_range(&key, h, &context(), b_, start as u64..end as u64, len as u64, &[]);
        // The flip is caught whenever the reader touches the flipped byte: always in the header,
        // and in the body when it lies within the fetched chunks.
        let fetched = SegmentHeader::decode(&header).unwrap()
            .ciphertext_range_for(start as u64..end as u64, len as u64).unwrap().ciphertext();
        let touched = i < HEADER_LEN || fetched.contains(&((i - HEADER_LEN) as u64));
        match result {
            Ok(got) => {
                prop_assert!(!touched, "flip at {} went unnoticed", i);
                prop_assert_eq!(&got[..], &pt[start..end]);
            }
            Err(e) => prop_assert!(matches!(e, Error::Decrypt)),
        }
    }

    #[test]
    fn in_place_decryption_matches_the_plaintext(
        cipher in cipher_strategy(),
        chunk_len in 16u32..100,
        len in 0usize..1500,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        chunks_per_piece in prop::collection::vec(1usize..5, 0..4),
    ) {
        let key = DataKey::generate();
        let pt = plaintext(len);
        let (header, body) = seal(&key, cipher, chunk_len, &pt, &[]);
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let (start, end) = (x.min(y), x.max(y));
        let got = open_range_in_place(&key, &header, &body, start as u64..end as u64, len as u64, &chunks_per_piece).unwrap();
        prop_assert_eq!(&got[..], &pt[start..end]);
    }

    #[test]
    fn in_place_a_flipped_bit_never_yields_wrong_bytes(
        cipher in cipher_strategy(),
        chunk_len in 16u32..64,
        len in 1usize..600,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        chunks_per_piece in prop::collection::vec(1usize..4, 0..3),
    ) {
        let key = DataKey::generate();
        let pt = plaintext(len);
        let (header, mut body) = seal(&key, cipher, chunk_len, &pt, &[]);
        let i = flip.index(body.len());
        body[i] ^= 1 << bit;
        let result = open_range_in_place(&key, &header, &body, 0..len as u64, len as u64, &chunks_per_piece);
        prop_assert!(is_decrypt(result));
    }

    /// The header parser and the decryptor take untrusted bytes: they never panic, and garbage never
    /// decrypts (the same functions are the fuzz targets' bodies).
    #[test]
    fn arbitrary_bytes_never_panic_and_never_decrypt(
        header in prop::collection::vec(any::<u8>(), 0..100),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let key = DataKey::from_bytes([1; 32]);
        if let Ok(h) = SegmentHeader::decode(&header) {
            prop_assert!(decrypt_segment(&key, &h, b"", &body).is_err());
        }
    }

    #[test]
    fn arbitrary_bodies_under_a_valid_header_never_decrypt(
        cipher in cipher_strategy(),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let key = DataKey::generate();
        let (h, _) = encrypt_segment(&key, cipher, 16, b"ctx", b"").unwrap();
        prop_assert!(is_decrypt(decrypt_segment(&key, &h, b"ctx", &body)));
    }
}

#[test]
fn debug_of_streams_shows_no_data_or_key() {
    let key = DataKey::from_bytes([0xab; 32]);
    let mut enc = Encryptor::new(&key, Cipher::Aes256Gcm, 1024, b"ctx").unwrap();
    let mut body = Vec::new();
    enc.push(b"SECRET-PLAINTEXT", &mut body).unwrap();
    let shown = format!("{enc:?}");
    assert!(!shown.contains("83, 69, 67, 82, 69, 84"), "{shown}"); // "SECRET" as bytes
    assert!(!shown.contains("SECRET"));
    assert!(!shown.contains("171, 171"), "{shown}"); // the key's bytes
    let header = enc.header().clone();
    enc.finish(&mut body).unwrap();
    let range = header.ciphertext_range_for(0..16, 16).unwrap();
    let mut dec = Decryptor::new(&key, &header, b"ctx", &range).unwrap();
    dec.push(&body[..10], &mut Vec::new()).unwrap();
    let shown = format!("{dec:?}");
    assert!(!shown.contains("171, 171"), "{shown}");
}

#[test]
fn in_place_refuses_pieces_that_are_not_whole_chunks_and_changes_nothing() {
    let key = DataKey::generate();
    let pt = plaintext(100);
    let (header, body) = seal(&key, Cipher::Aes256Gcm, 32, &pt, &[]);
    let h = SegmentHeader::decode(&header).unwrap();
    let range = h.ciphertext_range_for(0..100, 100).unwrap();
    let mut dec = Decryptor::new(&key, &h, &context(), &range).unwrap();
    let mut data = body.clone();
    let chunk = 32 + TAG_LEN;
    assert!(!dec.takes_whole_chunks(chunk - 1));
    assert!(matches!(
        dec.push_in_place(&mut data[..chunk + 1]),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(data, body, "a refused piece is left as it was");
    // The decryptor is still at the start of the range.
    let n = dec.push_in_place(&mut data[..chunk]).unwrap();
    assert_eq!(&data[..n], &pt[..32]);
    // A piece that mixes a copied push with in-place pushes is refused while a chunk is partial.
    dec.push(&body[chunk..chunk + 5], &mut Vec::new()).unwrap();
    assert!(!dec.takes_whole_chunks(chunk));
    let mut out = Vec::new();
    dec.push(&body[chunk + 5..], &mut out).unwrap();
    dec.finish().unwrap();
    assert_eq!(out, &pt[32..]);
}
