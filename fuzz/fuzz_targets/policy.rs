#![no_main]
// The RAM policy language parser.
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = coffer_iam::policy::PolicyDocument::parse(text);
});
