//! Public constants of SM4 (GB/T 32907-2016) and of its S-box's decomposition.
#![forbid(unsafe_code)]

/// The system parameter FK of the key schedule.
pub(crate) const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// The fixed parameters CK of the key schedule: byte j of CK[i] is (4i + j) · 7 mod 256.
pub(crate) const CK: [u32; 32] = {
    let mut ck = [0u32; 32];
    let mut i = 0;
    while i < 32 {
        let mut j = 0;
        while j < 4 {
            ck[i] = (ck[i] << 8) | (((4 * i + j) * 7) % 256) as u32;
            j += 1;
        }
        i += 1;
    }
    ck
};

// An 8×8 matrix over GF(2) is eight row masks: output bit i = parity(row[i] & input), bit 0 the
// least significant.

/// The SM4 S-box is S(x) = A · (A·x ⊕ C)⁻¹ ⊕ C, inverting in GF(2⁸) modulo
/// x⁸+x⁷+x⁶+x⁵+x⁴+x²+1 (0x1F5), where A is the circulant matrix of 0xA7 and C = 0xD3 (Liu, Ji,
/// Hu et al., "Analysis of the SMS4 block cipher", ACISP 2007: the decomposition the AES-NI and
/// GFNI implementations build on).
pub(crate) const A: [u8; 8] = [0xa7, 0x4f, 0x9e, 0x3d, 0x7a, 0xf4, 0xe9, 0xd3];
pub(crate) const C: u8 = 0xd3;
/// The field polynomial of the SM4 S-box, without its x⁸ term.
pub(crate) const POLY_LOW: u8 = 0xf5;

/// Squaring, x ↦ x⁴ and x ↦ x¹⁶ in that field: linear maps, so the bitsliced inversion spends no
/// multiplication on them.
pub(crate) const SQUARE: [u8; 8] = [0x11, 0xa0, 0x32, 0xe0, 0x74, 0x70, 0x58, 0x50];
pub(crate) const POW4: [u8; 8] = [0x65, 0x20, 0xa4, 0x78, 0x6e, 0x5c, 0xcc, 0x2c];
pub(crate) const POW16: [u8; 8] = [0x51, 0x5c, 0xd4, 0x86, 0x6c, 0x7e, 0x3c, 0x80];

// The isomorphism T from the SM4 field to the AES field (0x11B) sends the generator x to 0x23, a
// root of 0x1F5 in the AES field; then S(x) = (A·T⁻¹) · inv_AES(T·A·x ⊕ T·C) ⊕ C. This is the
// construction of the Linux kernel's sm4-aesni-avx (after Markku-Juhani O. Saarinen's sm4ni) with
// another of the eight possible roots; `tests::composed_sboxes_match_sm4` checks every matrix
// below against the S-box of the standard for all 256 inputs.

/// T·A and T·C: into the AES field.
pub(crate) const PRE: [u8; 8] = [0x4c, 0x28, 0x7d, 0xb9, 0x1a, 0x22, 0x50, 0x5d];
pub(crate) const PRE_C: u8 = 0x3e;
/// A·T⁻¹: back from the AES field after an inversion (GFNI's `gf2p8affineinvqb`).
pub(crate) const POST_INV: [u8; 8] = [0xf3, 0xab, 0x34, 0xa9, 0x74, 0xa6, 0xb5, 0x89];
pub(crate) const POST_INV_C: u8 = C;
/// A·T⁻¹·Aaes⁻¹ and its constant: back after the whole AES S-box (`aesenclast`), undoing AES's
/// own affine map and its 0x63.
pub(crate) const POST_AES: [u8; 8] = [0x48, 0x0e, 0x4c, 0x47, 0x65, 0x1d, 0xba, 0xd3];
pub(crate) const POST_AES_C: u8 = 0x6c;

/// `matrix · x ⊕ c` on one byte; for building tables from the matrices and for tests.
pub(crate) const fn affine(matrix: &[u8; 8], c: u8, x: u8) -> u8 {
    let mut out = c;
    let mut i = 0;
    while i < 8 {
        out ^= (((matrix[i] & x).count_ones() & 1) as u8) << i;
        i += 1;
    }
    out
}

/// The two 16-entry `pshufb` tables of an affine map: low nibble (with the constant) and high
/// nibble. A byte's image is `lo[x & 15] ^ hi[x >> 4]`, looked up inside a register.
pub(crate) const fn nibble_tables(matrix: &[u8; 8], c: u8) -> ([u8; 16], [u8; 16]) {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        lo[i] = affine(matrix, c, i as u8);
        hi[i] = affine(matrix, 0, (i as u8) << 4);
        i += 1;
    }
    (lo, hi)
}

/// The GFNI encoding of a matrix: byte 7 − i of the qword is row i.
pub(crate) const fn gfni_matrix(matrix: &[u8; 8]) -> u64 {
    let mut q = 0u64;
    let mut i = 0;
    while i < 8 {
        q |= (matrix[i] as u64) << (8 * (7 - i));
        i += 1;
    }
    q
}
