#![no_main]
// Decoding of persisted metadata records (a damaged meta.redb must never crash the server).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = coffer_meta::decode_record::<coffer_meta::ObjectRecord>(data);
    let _ = coffer_meta::decode_record::<coffer_meta::BucketRecord>(data);
    let _ = coffer_meta::decode_record::<coffer_meta::UploadRecord>(data);
});
