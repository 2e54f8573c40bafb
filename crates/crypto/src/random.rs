//! The one source of randomness: aws-lc's CTR-DRBG, seeded from the operating system.

/// Fills `dest` with random bytes.
pub(crate) fn fill(dest: &mut [u8]) {
    // aws-lc documents that RAND_bytes "returns one. In the event that sufficient random data can not
    // be obtained, |abort| is called", so the error branch of the Rust wrapper is unreachable.
    aws_lc_rs::rand::fill(dest).expect("aws-lc RAND_bytes aborts instead of failing");
}
