#![no_main]
// The Authorization header parser (V1 and V4 layouts).
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = coffer_signature::parse_authorization(text);
});
