//! Sealed values written by every seal format still open: format 1 of iam and of the KMS (written
//! by the code of the first release, before the shared sealer) and format 2. The files are in
//! `testdata/`; never regenerate them for an existing format.

// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use coffer_crypto::{KeyPurpose, RootKey, SealDomain, Sealer};

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Case {
    name: String,
    root: [u8; 32],
    purpose: u8,
    binding: Vec<Vec<u8>>,
    plaintext: Vec<u8>,
    sealed: Vec<u8>,
}

fn read_cases(file: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file),
    )
    .unwrap();
    let mut cases = Vec::new();
    for block in text.split("\ncase ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().to_owned();
        let mut field = |key: &str| {
            let line = lines.next().unwrap();
            let (k, v) = line.split_once(' ').unwrap();
            assert_eq!(k, key, "in case {name}");
            v.to_owned()
        };
        let root = unhex(&field("root")).try_into().unwrap();
        let purpose = field("purpose").parse().unwrap();
        let binding = match field("binding").as_str() {
            "-" => Vec::new(),
            b => b.split(',').map(unhex).collect(),
        };
        let plaintext = unhex(&field("plaintext"));
        let sealed = unhex(&field("sealed"));
        cases.push(Case {
            name,
            root,
            purpose,
            binding,
            plaintext,
            sealed,
        });
    }
    assert!(!cases.is_empty());
    cases
}

fn check(file: &str, domain_of: impl Fn(u8) -> SealDomain, format: u8) {
    for case in read_cases(file) {
        assert_eq!(case.sealed[0], format, "{}", case.name);
        let root = RootKey::from_bytes(case.root);
        let binding: Vec<&[u8]> = case.binding.iter().map(Vec::as_slice).collect();
        let sealer = Sealer::new(&root, domain_of(case.purpose));
        let opened = sealer
            .open(case.purpose, &binding, &case.sealed)
            .unwrap_or_else(|e| panic!("{file}: {}: {e}", case.name));
        assert_eq!(opened.as_slice(), case.plaintext, "{}", case.name);
        // Still bound: another purpose or binding does not open it.
        assert!(
            sealer
                .open(case.purpose ^ 0x40, &binding, &case.sealed)
                .is_err()
        );
        let mut more = binding.clone();
        more.push(b"x");
        assert!(sealer.open(case.purpose, &more, &case.sealed).is_err());
    }
}

/// iam's purposes: 1 root check and 2 access key secret (iam secrets), 3 session token (STS).
fn iam_domain(purpose: u8) -> SealDomain {
    if purpose == 3 {
        SealDomain::StsTokens
    } else {
        SealDomain::IamSecrets
    }
}

#[test]
fn iam_format_1_values_still_open() {
    check("seal-v1-iam.txt", iam_domain, 1);
}

#[test]
fn kms_format_1_values_still_open() {
    check("seal-v1-kms.txt", |_| SealDomain::KmsMaterial, 1);
}

#[test]
fn format_2_values_still_open() {
    check("seal-v2.txt", iam_domain, 2);
    check("seal-v2-kms.txt", |_| SealDomain::KmsMaterial, 2);
}

#[test]
fn the_first_layouts_do_not_open_in_each_other() {
    for case in read_cases("seal-v1-iam.txt") {
        let binding: Vec<&[u8]> = case.binding.iter().map(Vec::as_slice).collect();
        let kms = Sealer::new(&RootKey::from_bytes(case.root), SealDomain::KmsMaterial);
        assert!(kms.open(case.purpose, &binding, &case.sealed).is_err());
    }
}

/// The BYOK commitment key is derived as in the first release, so stored commitments still match.
#[test]
fn kms_commitment_key_is_unchanged() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/commitment-v1-kms.txt"),
    )
    .unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(' ')))
            .map(unhex)
            .unwrap()
    };
    let root = RootKey::from_bytes(get("root").try_into().unwrap());
    let key = root.derive(KeyPurpose::KmsImportCommitment);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.expose_secret());
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(b"coffer-kms import commitment v1");
    ctx.update(&get("key_id"));
    ctx.update(&get("material"));
    assert_eq!(hex(ctx.sign().as_ref()), hex(&get("commitment")));
}

/// Writes `seal-v2.txt` and `seal-v2-kms.txt`; run once, when format 2 was introduced.
#[test]
#[ignore = "writes golden files"]
fn write_format_2_golden_files() {
    let root: [u8; 32] = std::array::from_fn(|i| i as u8);
    for (file, domain_of, cases) in [
        (
            "seal-v2.txt",
            iam_domain as fn(u8) -> SealDomain,
            vec![
                ("root check", 1u8, vec![], b"coffer-iam".to_vec()),
                (
                    "access key secret",
                    2,
                    vec![b"LTAIgoldenAccessKey01".to_vec()],
                    b"golden-access-key-secret-0123456789".to_vec(),
                ),
                (
                    "session token",
                    3,
                    vec![b"STS.golden".to_vec(), Vec::new()],
                    b"{\"claims\":1}".to_vec(),
                ),
            ],
        ),
        (
            "seal-v2-kms.txt",
            (|_| SealDomain::KmsMaterial) as fn(u8) -> SealDomain,
            vec![
                (
                    "root check",
                    1,
                    vec![],
                    b"coffer-kms root check v1".to_vec(),
                ),
                (
                    "key material",
                    2,
                    vec![vec![0x5a; 16], vec![0xa5; 16]],
                    vec![0x3c; 32],
                ),
                (
                    "empty plaintext",
                    3,
                    vec![b"a".to_vec(), b"bc".to_vec()],
                    Vec::new(),
                ),
            ],
        ),
    ] {
        let mut out = String::from(
            "# Values sealed in seal format 2 (coffer-crypto's Sealer).\n\
             # Fields: hex; binding is comma-separated, '-' for none.\n",
        );
        for (name, purpose, binding, plain) in cases {
            let b: Vec<&[u8]> = binding.iter().map(Vec::as_slice).collect();
            let sealed = Sealer::new(&RootKey::from_bytes(root), domain_of(purpose))
                .seal(purpose, &b, &plain);
            let shown = if binding.is_empty() {
                "-".to_owned()
            } else {
                binding.iter().map(|f| hex(f)).collect::<Vec<_>>().join(",")
            };
            out.push_str(&format!(
                "\ncase {name}\nroot {}\npurpose {purpose}\nbinding {shown}\nplaintext {}\nsealed {}\n",
                hex(&root),
                hex(&plain),
                hex(&sealed)
            ));
        }
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata")
                .join(file),
            out,
        )
        .unwrap();
    }
}
