//! SM4 on x86-64 SIMD: the S-box through the CPU's AES or GFNI instructions, several blocks at a
//! time. Constant-time: the only table lookups are `pshufb` on registers, and the AES/GFNI
//! instructions take the same time for every input.
//!
//! Layout (as in the Linux kernel's sm4-aesni-avx): four blocks are loaded into four 128-bit
//! registers, each 32-bit word byte-swapped into a native integer, and the 4×4 matrix of words
//! transposed, so register i holds word i of four blocks and one round is a handful of vector
//! operations on whole registers. The AVX-512 path does the same in each 128-bit lane of a 512-bit
//! register: sixteen blocks per group.
//!
//! `unsafe` here, and nowhere else in the crate: unaligned loads and stores through pointers made
//! from references of the right size, and calls into `#[target_feature]` functions, which are
//! sound only after the features were detected. The types [`AesNi`] and [`Gfni512`] are the proof
//! of detection: their only constructors check `is_x86_feature_detected!`.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use crate::consts::{
    POST_AES, POST_AES_C, POST_INV, POST_INV_C, PRE, PRE_C, gfni_matrix, nibble_tables,
};

/// The CPU has AES-NI and SSSE3 (checked when this was made).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AesNi(());

impl AesNi {
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("aes") && is_x86_feature_detected!("ssse3")).then_some(Self(()))
    }

    /// `4·G` blocks in place.
    pub(crate) fn encrypt<const G: usize>(self, rk: &[u32; 32], blocks: &mut [[[u8; 16]; 4]; G]) {
        // SAFETY: `self` exists only if `detect` found every feature `aesni_encrypt` enables.
        unsafe { aesni_encrypt(rk, blocks) }
    }
}

/// The CPU has GFNI, AVX-512F and AVX-512BW (checked when this was made).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gfni512(());

impl Gfni512 {
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("gfni")
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw"))
        .then_some(Self(()))
    }

    /// `16·G` blocks in place.
    pub(crate) fn encrypt<const G: usize>(self, rk: &[u32; 32], blocks: &mut [[[u8; 16]; 16]; G]) {
        // SAFETY: `self` exists only if `detect` found every feature `gfni_encrypt` enables.
        unsafe { gfni_encrypt(rk, blocks) }
    }
}

const fn bytes_to_u64s(b: [u8; 16]) -> (i64, i64) {
    let mut lo = 0u64;
    let mut hi = 0u64;
    let mut i = 0;
    while i < 8 {
        lo |= (b[i] as u64) << (8 * i);
        hi |= (b[i + 8] as u64) << (8 * i);
        i += 1;
    }
    (lo as i64, hi as i64)
}

/// Reverses the bytes of each 32-bit word: SM4's big-endian words to native integers and back.
const BSWAP32: (i64, i64) = bytes_to_u64s([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]);
const ROL8: (i64, i64) = bytes_to_u64s([3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14]);
const ROL16: (i64, i64) = bytes_to_u64s([2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13]);
const ROL24: (i64, i64) = bytes_to_u64s([1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12]);

/// `aesenclast` applies ShiftRows after SubBytes; this permutation before it cancels that, so
/// every byte comes out where it went in. State byte r + 4c is row r, column c; ShiftRows takes
/// byte r + 4((c + r) mod 4) to r + 4c.
const INV_SHIFT_ROWS: (i64, i64) = bytes_to_u64s({
    let mut p = [0u8; 16];
    let mut j = 0;
    while j < 16 {
        let (r, c) = (j % 4, j / 4);
        p[j] = (r + 4 * ((c + 4 - r) % 4)) as u8;
        j += 1;
    }
    p
});

const PRE_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&PRE, PRE_C);
const POST_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&POST_AES, POST_AES_C);
const PRE_LO: (i64, i64) = bytes_to_u64s(PRE_TABLES.0);
const PRE_HI: (i64, i64) = bytes_to_u64s(PRE_TABLES.1);
const POST_LO: (i64, i64) = bytes_to_u64s(POST_TABLES.0);
const POST_HI: (i64, i64) = bytes_to_u64s(POST_TABLES.1);

#[target_feature(enable = "sse2")]
fn c128(c: (i64, i64)) -> __m128i {
    _mm_set_epi64x(c.1, c.0)
}

/// An affine map on every byte: two in-register 16-entry lookups, one per nibble.
#[target_feature(enable = "ssse3")]
fn affine128(x: __m128i, lo: (i64, i64), hi: (i64, i64)) -> __m128i {
    let mask = _mm_set1_epi8(0x0f);
    let l = _mm_and_si128(x, mask);
    let h = _mm_and_si128(_mm_srli_epi32::<4>(x), mask);
    _mm_xor_si128(_mm_shuffle_epi8(c128(lo), l), _mm_shuffle_epi8(c128(hi), h))
}

/// The SM4 S-box on 16 bytes: into the AES field, the AES S-box, back.
#[target_feature(enable = "aes,ssse3")]
fn sbox_aesni(x: __m128i) -> __m128i {
    let y = affine128(x, PRE_LO, PRE_HI);
    let y = _mm_shuffle_epi8(y, c128(INV_SHIFT_ROWS));
    let y = _mm_aesenclast_si128(y, _mm_setzero_si128());
    affine128(y, POST_LO, POST_HI)
}

/// L(t) = t ⊕ t⋘24 ⊕ (t ⊕ t⋘8 ⊕ t⋘16)⋘2 on four words.
#[target_feature(enable = "ssse3")]
fn el128(t: __m128i) -> __m128i {
    let y = _mm_xor_si128(
        _mm_xor_si128(t, _mm_shuffle_epi8(t, c128(ROL8))),
        _mm_shuffle_epi8(t, c128(ROL16)),
    );
    let y = _mm_or_si128(_mm_slli_epi32::<2>(y), _mm_srli_epi32::<30>(y));
    _mm_xor_si128(_mm_xor_si128(t, _mm_shuffle_epi8(t, c128(ROL24))), y)
}

/// The 4×4 transpose of 32-bit words (its own inverse).
#[target_feature(enable = "sse2")]
fn transpose128(x: [__m128i; 4]) -> [__m128i; 4] {
    let t0 = _mm_unpacklo_epi32(x[0], x[1]);
    let t1 = _mm_unpacklo_epi32(x[2], x[3]);
    let t2 = _mm_unpackhi_epi32(x[0], x[1]);
    let t3 = _mm_unpackhi_epi32(x[2], x[3]);
    [
        _mm_unpacklo_epi64(t0, t1),
        _mm_unpackhi_epi64(t0, t1),
        _mm_unpacklo_epi64(t2, t3),
        _mm_unpackhi_epi64(t2, t3),
    ]
}

/// One SM4 round on every group: word `d` of each gets T(a ⊕ b ⊕ c ⊕ key). Written with constant
/// indices so the words stay in registers, and all groups per round so that their independent
/// dependency chains overlap (one block's rounds are strictly sequential).
macro_rules! rounds {
    ($x:ident, $rk:ident, $round:expr) => {
        for quad in $rk.chunks_exact(4) {
            for (r, &k) in quad.iter().enumerate() {
                let (a, b, c, d) = match r {
                    0 => (1, 2, 3, 0),
                    1 => (2, 3, 0, 1),
                    2 => (3, 0, 1, 2),
                    _ => (0, 1, 2, 3),
                };
                for group in $x.iter_mut() {
                    group[d] = $round(group[a], group[b], group[c], group[d], k);
                }
            }
        }
    };
}

/// Groups of four blocks, `G` of them interleaved.
///
/// Safety: the CPU must have AES-NI and SSSE3.
#[target_feature(enable = "aes,ssse3")]
unsafe fn aesni_encrypt<const G: usize>(rk: &[u32; 32], blocks: &mut [[[u8; 16]; 4]; G]) {
    let bswap = c128(BSWAP32);
    let mut x = [[_mm_setzero_si128(); 4]; G];
    for (group, input) in x.iter_mut().zip(blocks.iter()) {
        let mut words = [_mm_setzero_si128(); 4];
        for (w, block) in words.iter_mut().zip(input) {
            // SAFETY: the pointer comes from a `&[u8; 16]`, valid for a 16-byte read; `loadu`
            // has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
            *w = _mm_shuffle_epi8(v, bswap);
        }
        *group = transpose128(words);
    }
    let round = |a, b, c, d, k: u32| {
        let t = _mm_xor_si128(
            _mm_xor_si128(a, b),
            _mm_xor_si128(c, _mm_set1_epi32(k as i32)),
        );
        _mm_xor_si128(d, el128(sbox_aesni(t)))
    };
    rounds!(x, rk, round);
    for (group, output) in x.iter().zip(blocks.iter_mut()) {
        let out = transpose128([group[3], group[2], group[1], group[0]]);
        for (w, block) in out.iter().zip(output) {
            // SAFETY: the pointer comes from a `&mut [u8; 16]`, valid for a 16-byte write;
            // `storeu` has no alignment requirement.
            unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), _mm_shuffle_epi8(*w, bswap)) };
        }
    }
}

const GF_PRE: i64 = gfni_matrix(&PRE) as i64;
const GF_POST: i64 = gfni_matrix(&POST_INV) as i64;

#[target_feature(enable = "avx512f")]
fn c512(c: (i64, i64)) -> __m512i {
    _mm512_broadcast_i32x4(_mm_set_epi64x(c.1, c.0))
}

/// The SM4 S-box on 64 bytes: an affine map into the AES field, then inversion there fused with
/// the affine map back.
#[target_feature(enable = "gfni,avx512f")]
fn sbox_gfni512(x: __m512i) -> __m512i {
    let y = _mm512_gf2p8affine_epi64_epi8::<{ PRE_C as i32 }>(x, _mm512_set1_epi64(GF_PRE));
    _mm512_gf2p8affineinv_epi64_epi8::<{ POST_INV_C as i32 }>(y, _mm512_set1_epi64(GF_POST))
}

/// Three-way exclusive or (`vpternlogd` truth table 0x96).
#[target_feature(enable = "avx512f")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi32::<0x96>(a, b, c)
}

#[target_feature(enable = "avx512f")]
fn el512(t: __m512i) -> __m512i {
    let a = xor3(t, _mm512_rol_epi32::<2>(t), _mm512_rol_epi32::<10>(t));
    xor3(a, _mm512_rol_epi32::<18>(t), _mm512_rol_epi32::<24>(t))
}

#[target_feature(enable = "avx512f")]
fn transpose512(x: [__m512i; 4]) -> [__m512i; 4] {
    let t0 = _mm512_unpacklo_epi32(x[0], x[1]);
    let t1 = _mm512_unpacklo_epi32(x[2], x[3]);
    let t2 = _mm512_unpackhi_epi32(x[0], x[1]);
    let t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    [
        _mm512_unpacklo_epi64(t0, t1),
        _mm512_unpackhi_epi64(t0, t1),
        _mm512_unpacklo_epi64(t2, t3),
        _mm512_unpackhi_epi64(t2, t3),
    ]
}

/// Groups of sixteen blocks, `G` of them interleaved.
///
/// Safety: the CPU must have GFNI, AVX-512F and AVX-512BW.
#[target_feature(enable = "gfni,avx512f,avx512bw")]
unsafe fn gfni_encrypt<const G: usize>(rk: &[u32; 32], blocks: &mut [[[u8; 16]; 16]; G]) {
    let bswap = c512(BSWAP32);
    let mut x = [[_mm512_setzero_si512(); 4]; G];
    for (group, input) in x.iter_mut().zip(blocks.iter()) {
        let mut words = [_mm512_setzero_si512(); 4];
        for (w, four) in words.iter_mut().zip(input.chunks_exact(4)) {
            // SAFETY: `four` is 4 contiguous `[u8; 16]`, 64 bytes valid for reading; `loadu` has
            // no alignment requirement.
            let v = unsafe { _mm512_loadu_si512(four.as_ptr().cast()) };
            *w = _mm512_shuffle_epi8(v, bswap);
        }
        *group = transpose512(words);
    }
    let round = |a, b, c, d, k: u32| {
        let t = _mm512_xor_si512(xor3(a, b, c), _mm512_set1_epi32(k as i32));
        _mm512_xor_si512(d, el512(sbox_gfni512(t)))
    };
    rounds!(x, rk, round);
    for (group, output) in x.iter().zip(blocks.iter_mut()) {
        let out = transpose512([group[3], group[2], group[1], group[0]]);
        for (w, four) in out.iter().zip(output.chunks_exact_mut(4)) {
            // SAFETY: `four` is 4 contiguous `[u8; 16]`, 64 bytes valid for writing; `storeu`
            // has no alignment requirement.
            unsafe {
                _mm512_storeu_si512(four.as_mut_ptr().cast(), _mm512_shuffle_epi8(*w, bswap))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AES-NI S-box path alone, every input, where the CPU has it.
    #[test]
    fn aesni_sbox_is_the_standard_one() {
        let Some(_) = AesNi::detect() else { return };
        for base in (0..=255u8).step_by(16) {
            let input: [u8; 16] = core::array::from_fn(|i| base + i as u8);
            let mut out = [0u8; 16];
            // SAFETY: `detect` found AES-NI and SSSE3; the pointers come from 16-byte arrays.
            unsafe {
                #[target_feature(enable = "aes,ssse3")]
                unsafe fn run(input: &[u8; 16], out: &mut [u8; 16]) {
                    // SAFETY: a 16-byte read from a `&[u8; 16]`, unaligned allowed.
                    let v = unsafe { _mm_loadu_si128(input.as_ptr().cast()) };
                    // SAFETY: a 16-byte write to a `&mut [u8; 16]`, unaligned allowed.
                    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), sbox_aesni(v)) };
                }
                run(&input, &mut out);
            }
            for (i, o) in input.iter().zip(out) {
                assert_eq!(o, crate::tests::SBOX[usize::from(*i)], "input {i:#04x}");
            }
        }
    }
}
