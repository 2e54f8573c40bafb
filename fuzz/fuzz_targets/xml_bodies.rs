#![no_main]
// Every XML request body parser (Delete, CompleteMultipartUpload, CreateBucketConfiguration,
// ServerSideEncryptionRule) on arbitrary bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_oss::xml::parse_any(data));
