#![no_main]
// The encrypted-segment header codec, and the range arithmetic on whatever it accepts.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(header) = coffer_crypto::SegmentHeader::decode(data) {
        let _ = header.ciphertext_range_for(0..1, 1);
        let _ = header.ciphertext_len(u64::MAX);
    }
});
