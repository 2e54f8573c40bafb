//! Checks this crate against RustCrypto's table-based `sm4` under its generic GCM, on one input
//! decoded from arbitrary bytes: the fuzz target and the property tests both drive it.
#![forbid(unsafe_code)]

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use cipher::{BlockCipherEncrypt, KeyInit};

use crate::{Backend, Sm4, sm4_gcm_with_backend};

type Reference = aes_gcm::AesGcm<sm4::Sm4, U12>;

/// Input layout: key (16 bytes) ‖ nonce (12) ‖ aad length (1, taken mod 65) ‖ aad ‖ message.
/// Shorter inputs are padded with zeros. Panics if any backend this CPU runs disagrees with the
/// reference, on the block function or SM4-GCM, or if it opens a forged tag.
pub fn differential(data: &[u8]) {
    let mut head = [0u8; 29];
    let n = data.len().min(29);
    head[..n].copy_from_slice(&data[..n]);
    let rest = &data[n..];
    let key: [u8; 16] = head[..16].try_into().unwrap_or_default();
    let nonce: [u8; 12] = head[16..28].try_into().unwrap_or_default();
    let aad_len = usize::from(head[28] % 65).min(rest.len());
    let (aad, msg) = rest.split_at(aad_len);

    let reference = Reference::new(&key.into());
    let mut want = msg.to_vec();
    let want_tag = reference
        .encrypt_inout_detached(&nonce.into(), aad, want.as_mut_slice().into())
        .expect("reference seals any length this small");

    let reference_block = sm4::Sm4::new(&key.into());
    let blocks = msg.len() / 16;
    let mut want_blocks: Vec<cipher::Block<Sm4>> = (0..blocks)
        .map(|i| cipher::Block::<Sm4>::try_from(&msg[16 * i..16 * i + 16]).unwrap_or_default())
        .collect();
    let mut got_blocks_input = want_blocks.clone();
    reference_block.encrypt_blocks(&mut want_blocks);

    for backend in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let Some(ours) = Sm4::with_backend(&key, backend) else {
            continue;
        };
        let mut got_blocks = got_blocks_input.clone();
        ours.encrypt_blocks(&mut got_blocks);
        assert_eq!(got_blocks, want_blocks, "{backend:?} block function");
        if let Some(first) = got_blocks_input.first_mut() {
            let mut one = *first;
            ours.encrypt_block(&mut one);
            assert_eq!(one, want_blocks[0], "{backend:?} single block");
        }

        let Some(gcm) = sm4_gcm_with_backend(&key, backend) else {
            continue;
        };
        let mut got = msg.to_vec();
        let tag = gcm
            .encrypt_inout_detached(&nonce.into(), aad, got.as_mut_slice().into())
            .expect("seals any length this small");
        assert_eq!(got, want, "{backend:?} ciphertext");
        assert_eq!(tag, want_tag, "{backend:?} tag");
        gcm.decrypt_inout_detached(&nonce.into(), aad, got.as_mut_slice().into(), &tag)
            .expect("opens its own ciphertext");
        assert_eq!(got, msg, "{backend:?} round trip");
        let mut forged = tag;
        forged[usize::from(head[0] % 16)] ^= 1 << (head[1] % 8);
        let mut ct = want.clone();
        assert!(
            gcm.decrypt_inout_detached(&nonce.into(), aad, ct.as_mut_slice().into(), &forged)
                .is_err(),
            "{backend:?} opened a forged tag"
        );
    }
}
