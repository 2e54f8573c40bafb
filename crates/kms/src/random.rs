//! The one source of randomness: aws-lc's CTR-DRBG, seeded from the operating system.

/// Fills `dest` with random bytes.
pub(crate) fn fill(dest: &mut [u8]) {
    // aws-lc's RAND_bytes aborts the process rather than return failure, so the error branch of the
    // Rust wrapper is unreachable.
    aws_lc_rs::rand::fill(dest).expect("aws-lc RAND_bytes aborts instead of failing");
}
