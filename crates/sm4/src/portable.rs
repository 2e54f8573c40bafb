//! The portable SM4: bitsliced, so no table is ever indexed by secret data and every operation
//! takes the same time whatever the key and data.
//!
//! Sixteen blocks at a time. Each of a block's four 32-bit words becomes eight `u64` bit planes:
//! plane j holds bit j of 64 bytes, lane `16·b + n` being byte b (0 = most significant) of that
//! word in block n. The S-box is the field inversion computed as a circuit on the planes; the byte
//! rotations of SM4's linear layer are plane rotations by multiples of 16.
#![forbid(unsafe_code)]

use crate::consts::{A, C, POLY_LOW, POW4, POW16, SQUARE};

/// Eight bit planes: 64 bytes, one per lane.
type Planes = [u64; 8];

/// `matrix · x ⊕ c` on every lane. The matrix is public, so branching on its bits is fine.
#[inline(always)]
fn linear(x: &Planes, matrix: &[u8; 8], c: u8) -> Planes {
    let mut out = [0u64; 8];
    for (i, o) in out.iter_mut().enumerate() {
        for (j, plane) in x.iter().enumerate() {
            if (matrix[i] >> j) & 1 == 1 {
                *o ^= plane;
            }
        }
        if (c >> i) & 1 == 1 {
            *o = !*o;
        }
    }
    out
}

/// Product in GF(2⁸) modulo 0x1F5 on every lane: schoolbook, then reduction from the top.
#[inline(always)]
fn mul(a: &Planes, b: &Planes) -> Planes {
    let mut p = [0u64; 15];
    for (i, ai) in a.iter().enumerate() {
        for (j, bj) in b.iter().enumerate() {
            p[i + j] ^= ai & bj;
        }
    }
    for k in (8..15).rev() {
        let t = p[k];
        for m in 0..8 {
            if (POLY_LOW >> m) & 1 == 1 {
                p[k - 8 + m] ^= t;
            }
        }
    }
    let mut out = [0u64; 8];
    out.copy_from_slice(&p[..8]);
    out
}

/// x²⁵⁴, which is x⁻¹ for x ≠ 0 and 0 for 0: four multiplications, the powers of two linear.
#[inline(always)]
fn invert(x: &Planes) -> Planes {
    let x2 = linear(x, &SQUARE, 0);
    let x3 = mul(&x2, x);
    let x12 = linear(&x3, &POW4, 0);
    let x15 = mul(&x12, &x3);
    let x14 = mul(&x12, &x2);
    let x240 = linear(&x15, &POW16, 0);
    mul(&x240, &x14)
}

/// The SM4 S-box on 64 bytes.
#[inline(always)]
fn sbox(x: &Planes) -> Planes {
    linear(&invert(&linear(x, &A, C)), &A, C)
}

/// Rotation of every word left by `8·bytes + bits` (bits < 8).
#[inline(always)]
fn rotl(x: &Planes, bytes: u32, bits: usize) -> Planes {
    let mut out = [0u64; 8];
    for (j, o) in out.iter_mut().enumerate() {
        // A byte's high bits spill into the next more significant byte, lane − 16.
        let v = if j >= bits {
            x[j - bits]
        } else {
            x[j + 8 - bits].rotate_right(16)
        };
        *o = v.rotate_right(16 * bytes);
    }
    out
}

/// SM4's linear layer L(B) = B ⊕ B⋘2 ⊕ B⋘10 ⊕ B⋘18 ⊕ B⋘24, as B ⊕ B⋘24 ⊕ (B ⊕ B⋘8 ⊕ B⋘16)⋘2.
#[inline(always)]
fn el(b: &Planes) -> Planes {
    let mut y = [0u64; 8];
    for (j, o) in y.iter_mut().enumerate() {
        *o = b[j] ^ b[j].rotate_right(16) ^ b[j].rotate_right(32);
    }
    let y2 = rotl(&y, 0, 2);
    let mut out = [0u64; 8];
    for (j, o) in out.iter_mut().enumerate() {
        *o = b[j] ^ b[j].rotate_right(48) ^ y2[j];
    }
    out
}

/// A round key spread over the planes: every lane of byte b carries that byte's bit. Mask
/// arithmetic, no branch on the key.
#[inline(always)]
fn spread(rk: u32) -> Planes {
    let mut out = [0u64; 8];
    for (j, o) in out.iter_mut().enumerate() {
        for b in 0..4 {
            let bit = u64::from((rk >> (8 * (3 - b) + j)) & 1);
            *o |= bit.wrapping_neg() & (0xffff << (16 * b));
        }
    }
    out
}

/// Sixteen blocks in place.
pub(crate) fn encrypt16(rk: &[u32; 32], blocks: &mut [[u8; 16]; 16]) {
    let mut x = [[0u64; 8]; 4];
    for (n, block) in blocks.iter().enumerate() {
        for (i, byte) in block.iter().enumerate() {
            let (w, b) = (i / 4, i % 4);
            for (j, plane) in x[w].iter_mut().enumerate() {
                *plane |= u64::from((byte >> j) & 1) << (16 * b + n);
            }
        }
    }
    for (r, &k) in rk.iter().enumerate() {
        let key = spread(k);
        let mut t = [0u64; 8];
        for (j, o) in t.iter_mut().enumerate() {
            *o = x[(r + 1) % 4][j] ^ x[(r + 2) % 4][j] ^ x[(r + 3) % 4][j] ^ key[j];
        }
        let l = el(&sbox(&t));
        for (plane, lj) in x[r % 4].iter_mut().zip(l) {
            *plane ^= lj;
        }
    }
    // The output is the last four words in reverse order.
    for (n, block) in blocks.iter_mut().enumerate() {
        for (i, byte) in block.iter_mut().enumerate() {
            let (w, b) = (3 - i / 4, i % 4);
            let mut v = 0u8;
            for (j, plane) in x[w].iter().enumerate() {
                v |= (((plane >> (16 * b + n)) & 1) as u8) << j;
            }
            *byte = v;
        }
    }
}

/// τ: the S-box on each byte of one word (the key schedule's).
pub(crate) fn tau(a: u32) -> u32 {
    let mut x = [0u64; 8];
    for b in 0..4 {
        let byte = a >> (8 * (3 - b));
        for (j, plane) in x.iter_mut().enumerate() {
            *plane |= u64::from((byte >> j) & 1) << b;
        }
    }
    let y = sbox(&x);
    let mut out = 0u32;
    for b in 0..4 {
        for (j, plane) in y.iter().enumerate() {
            out |= (((plane >> b) & 1) as u32) << (8 * (3 - b) + j);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitsliced_sbox_is_the_standard_one() {
        for x in 0..=255u8 {
            let word = u32::from_be_bytes([x, x ^ 0x5a, x.wrapping_add(1), !x]);
            let want = u32::from_be_bytes(
                word.to_be_bytes()
                    .map(|b| crate::tests::SBOX[usize::from(b)]),
            );
            assert_eq!(tau(word), want, "input {x:#04x}");
        }
    }
}
