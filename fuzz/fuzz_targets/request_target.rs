#![no_main]
// Query strings, Host headers and paths as the router resolves them.
libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str)| {
    let (query, host, path) = input;
    let _ = coffer_oss::router::Query::parse(query);
    let _ = coffer_oss::router::resolve_target(host, path, &Default::default());
});
