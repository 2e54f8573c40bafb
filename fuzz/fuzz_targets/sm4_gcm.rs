#![no_main]
// coffer-sm4 on every backend this CPU runs against RustCrypto's table-based SM4 under its generic
// GCM: block function, ciphertext, tag, round trip and a forged tag; the input picks key, nonce,
// aad and message.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_sm4::differential(data));
