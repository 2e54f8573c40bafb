//! Every core operation over the in-memory stores, table-driven through the `check` layer.

#![allow(clippy::unwrap_used)] // a test: a failed setup step should panic

mod check;

use check::{Get, Sse, World, pattern};
use coffer_core::{ByteRange, Preconditions, UnixMillis};
use md5::Digest;

const METHODS: [Sse; 3] = [Sse::None, Sse::Aes256, Sse::Sm4];

#[tokio::test]
async fn put_then_get_returns_the_bytes_and_metadata_under_every_method() {
    let w = World::new().await;
    // Lengths around the cipher's chunk sizes and the body's chunking.
    for (i, len) in [0, 1, 15, 16, 17, 6_999, 7_000, 65_536, 65_537, 200_001]
        .into_iter()
        .enumerate()
    {
        for sse in METHODS {
            let k = format!("obj-{len}-{sse:?}");
            let data = pattern(len, i as u64);
            let record = w.put(&k, &data, sse).await.unwrap();
            assert!(sse.matches(&record), "{k}: {:?}", record.encryption);
            assert_eq!(record.size, len as u64);
            assert_eq!(record.etag, hex::encode_upper(md5::Md5::digest(&data)));
            let got = w.get_with(check::BUCKET, &k, Get::default()).await.unwrap();
            assert!(got.data == data, "{k}: bytes differ");
            assert_eq!(got.record.content_type, "text/plain");
            assert_eq!(got.record.user_meta, [("colour".into(), "blue".into())]);
            assert_eq!(
                got.record.headers,
                [("cache-control".into(), "no-cache".into())]
            );
            assert_eq!(got.range, None);
        }
    }
}

#[tokio::test]
async fn ranges_serve_exactly_their_bytes_under_every_method() {
    let w = World::new().await;
    let len = 100_000u64;
    let data = pattern(len as usize, 7);
    // (range, standard behaviour, expected served range or error code)
    let from = |first, last| ByteRange::From { first, last };
    type Served = Result<Option<std::ops::Range<u64>>, &'static str>;
    let table: Vec<(ByteRange, bool, Served)> = vec![
        (from(0, Some(0)), false, Ok(Some(0..1))),
        (from(10, Some(19)), false, Ok(Some(10..20))),
        (from(65_530, Some(65_545)), false, Ok(Some(65_530..65_546))),
        (from(99_990, None), false, Ok(Some(99_990..len))),
        (ByteRange::Suffix(5), false, Ok(Some(len - 5..len))),
        (ByteRange::Suffix(len + 10), false, Ok(Some(0..len))),
        // Compatible behaviour serves the whole object for ranges that do not fit.
        (from(len, None), false, Ok(None)),
        (from(10, Some(len + 50)), false, Ok(None)),
        (from(20, Some(10)), false, Ok(None)),
        // Standard behaviour trims an overlong range and refuses a start past the end.
        (from(10, Some(len + 50)), true, Ok(Some(10..len))),
        (from(len, None), true, Err("bad-range")),
    ];
    for sse in METHODS {
        let k = format!("ranged-{sse:?}");
        w.put(&k, &data, sse).await.unwrap();
        for (range, standard, expected) in &table {
            let got = w
                .get_with(
                    check::BUCKET,
                    &k,
                    Get {
                        range: Some(*range),
                        standard_range: *standard,
                        ..Get::default()
                    },
                )
                .await;
            match (got, expected) {
                (Ok(got), Ok(served)) => {
                    assert_eq!(&got.range, served, "{sse:?} {range:?}");
                    let r = served.clone().unwrap_or(0..len);
                    assert!(
                        got.data[..] == data[r.start as usize..r.end as usize],
                        "{sse:?} {range:?}: bytes differ"
                    );
                }
                (Err(code), Err(want)) => assert_eq!(code, *want, "{sse:?} {range:?}"),
                (got, want) => panic!(
                    "{sse:?} {range:?}: got {:?}, want {want:?}",
                    got.map(|g| g.range)
                ),
            }
        }
    }
}

#[tokio::test]
async fn preconditions_decide_get_head_and_copy() {
    let w = World::new().await;
    let record = w.put("k", b"data", Sse::Aes256).await.unwrap();
    let etag = record.etag.clone();
    let secs = record.last_modified.0.div_euclid(1000) * 1000;
    let p = |m: Option<&str>, n: Option<&str>, ms: Option<i64>, us: Option<i64>| Preconditions {
        if_match: m.map(Into::into),
        if_none_match: n.map(Into::into),
        if_modified_since: ms.map(UnixMillis),
        if_unmodified_since: us.map(UnixMillis),
    };
    let quoted = format!("\"{etag}\"");
    let table: Vec<(Preconditions, Result<(), &str>)> = vec![
        (p(None, None, None, None), Ok(())),
        (p(Some(&etag), None, None, None), Ok(())),
        (p(Some(&quoted), None, None, None), Ok(())),
        (p(Some("*"), None, None, None), Ok(())),
        (p(Some("OTHER"), None, None, None), Err("precondition")),
        (p(None, Some(&etag), None, None), Err("not-modified")),
        (p(None, Some("OTHER"), None, None), Ok(())),
        (p(None, None, Some(secs), None), Err("not-modified")),
        (p(None, None, Some(secs - 1000), None), Ok(())),
        (p(None, None, None, Some(secs)), Ok(())),
        (p(None, None, None, Some(secs - 1000)), Err("precondition")),
        // If-Match wins over If-Unmodified-Since (RFC 9110 order).
        (p(Some(&etag), None, None, Some(secs - 1000)), Ok(())),
    ];
    for (i, (pre, expected)) in table.into_iter().enumerate() {
        let head = w.head("k", pre.clone()).await.map(|_| ());
        assert_eq!(head, expected, "head #{i}");
        let get = w
            .get_with(
                check::BUCKET,
                "k",
                Get {
                    preconditions: pre.clone(),
                    ..Get::default()
                },
            )
            .await
            .map(|g| assert_eq!(g.data, b"data"));
        assert_eq!(get, expected, "get #{i}");
        let copy = w
            .copy("k", &format!("copy-{i}"), Sse::None, false, pre)
            .await
            .map(|_| ());
        // Core reports copy-source conditions as it reports the GET forms; the front-end
        // decides what status each gets.
        assert_eq!(copy, expected, "copy #{i}");
    }
}

#[tokio::test]
async fn copy_between_methods_keeps_the_bytes_and_applies_the_directive() {
    let w = World::new().await;
    let data = pattern(150_000, 3);
    for from in METHODS {
        let src = format!("src-{from:?}");
        w.put(&src, &data, from).await.unwrap();
        for to in METHODS {
            for replace in [false, true] {
                let dst = format!("dst-{from:?}-{to:?}-{replace}");
                let record = w
                    .copy(&src, &dst, to, replace, Preconditions::default())
                    .await
                    .unwrap();
                assert!(to.matches(&record), "{dst}: {:?}", record.encryption);
                assert!(w.get(&dst).await.unwrap() == data, "{dst}: bytes differ");
                let meta = if replace {
                    ("copied", "yes")
                } else {
                    ("colour", "blue")
                };
                assert_eq!(
                    record.user_meta,
                    [(meta.0.to_owned(), meta.1.to_owned())],
                    "{dst}"
                );
            }
        }
    }
    assert_eq!(
        w.copy("missing", "x", Sse::None, false, Preconditions::default())
            .await
            .map(|_| ()),
        Err("no-key")
    );
}

#[tokio::test]
async fn appends_grow_the_object_at_its_length_only() {
    for sse in METHODS {
        let w = World::new().await;
        let pieces = [
            pattern(10, 1),
            pattern(70_000, 2),
            pattern(1, 3),
            pattern(0, 4),
        ];
        let mut whole = Vec::new();
        for piece in &pieces {
            let record = w
                .append("log", whole.len() as u64, piece, sse)
                .await
                .unwrap();
            whole.extend_from_slice(piece);
            assert_eq!(record.size, whole.len() as u64);
            assert!(sse.matches(&record), "{sse:?}");
        }
        assert!(w.get("log").await.unwrap() == whole, "{sse:?}");
        let len = whole.len() as u64;
        // A wrong position is refused and says where the object ends; nothing changes.
        for position in [0, len - 1, len + 1] {
            assert_eq!(
                w.append("log", position, b"x", sse).await.map(|_| ()),
                Err(("wrong-position", Some(len))),
                "{sse:?} at {position}"
            );
        }
        assert!(w.get("log").await.unwrap() == whole);
        w.put("plain", b"p", sse).await.unwrap();
        assert_eq!(
            w.append("plain", 1, b"x", sse)
                .await
                .map(|_| ())
                .map_err(|e| e.0),
            Err("not-appendable")
        );
    }
}

#[tokio::test]
async fn multipart_uploads_assemble_list_and_refuse_bad_part_lists() {
    let min = coffer_core::Config::default().min_part_size as usize;
    for sse in METHODS {
        let w = World::new().await;
        let id = w.initiate("big", sse).await.unwrap();
        let parts = [pattern(min, 1), pattern(min + 3, 2), pattern(1234, 3)];
        let mut etags = Vec::new();
        for (n, p) in parts.iter().enumerate() {
            etags.push(w.part("big", &id, n as u32 + 1, p).await.unwrap());
        }
        assert_eq!(w.parts("big", &id).await.unwrap(), [1, 2, 3]);
        let list = |ns: &[u32]| {
            Some(
                ns.iter()
                    .map(|&n| (n, etags[n as usize - 1].clone()))
                    .collect(),
            )
        };
        // (part list, expected error)
        let bad: Vec<(check::PartList, &str)> = vec![
            (list(&[2, 1]), "bad-part-order"),
            (
                Some(vec![(1, etags[0].clone()), (4, etags[0].clone())]),
                "bad-part",
            ),
            (
                Some(vec![(1, "0".repeat(32)), (2, etags[1].clone())]),
                "bad-part",
            ),
            // A part smaller than the minimum may only be last.
            (list(&[3, 2]), "bad-part-order"),
            (
                Some(vec![
                    (1, etags[0].clone()),
                    (3, etags[2].clone()),
                    (4, etags[2].clone()),
                ]),
                "bad-part",
            ),
        ];
        for (i, (ps, want)) in bad.into_iter().enumerate() {
            assert_eq!(
                w.complete("big", &id, ps).await.map(|_| ()),
                Err(want),
                "{sse:?} #{i}"
            );
        }
        let record = w.complete("big", &id, list(&[1, 2, 3])).await.unwrap();
        assert!(sse.matches(&record));
        assert!(record.etag.ends_with("-3"), "{}", record.etag);
        assert!(w.get("big").await.unwrap() == parts.concat(), "{sse:?}");
        // The upload is gone once completed.
        assert_eq!(w.parts("big", &id).await, Err("no-upload"));
        assert_eq!(w.part("big", &id, 1, b"x").await, Err("no-upload"));

        // Complete-all, a skipped small middle part, and abort.
        let id = w.initiate("all", sse).await.unwrap();
        w.part("all", &id, 1, &parts[0]).await.unwrap();
        w.part("all", &id, 2, &parts[2]).await.unwrap();
        w.complete("all", &id, None).await.unwrap();
        assert!(w.get("all").await.unwrap() == [&parts[0][..], &parts[2][..]].concat());
        let id = w.initiate("small", sse).await.unwrap();
        w.part("small", &id, 1, &parts[2]).await.unwrap();
        w.part("small", &id, 2, &parts[2]).await.unwrap();
        assert_eq!(
            w.complete("small", &id, None).await.map(|_| ()),
            Err("too-small")
        );
        w.abort("small", &id).await.unwrap();
        assert_eq!(w.abort("small", &id).await, Err("no-upload"));
        assert_eq!(w.get("small").await, Err("no-key"));
    }
}

#[tokio::test]
async fn listing_pages_through_prefixes_delimiters_and_markers() {
    let w = World::new().await;
    for k in ["a", "b/1", "b/2", "b/c/3", "c", "d/1"] {
        w.put(k, k.as_bytes(), Sse::None).await.unwrap();
    }
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // (prefix, delimiter, marker, max keys, expected entries, truncated)
    let table = [
        (
            "",
            None,
            "",
            1000,
            s(&["a", "b/1", "b/2", "b/c/3", "c", "d/1"]),
            false,
        ),
        (
            "",
            Some("/"),
            "",
            1000,
            s(&["a", "b/(prefix)", "c", "d/(prefix)"]),
            false,
        ),
        (
            "b/",
            Some("/"),
            "",
            1000,
            s(&["b/1", "b/2", "b/c/(prefix)"]),
            false,
        ),
        ("b/", None, "b/1", 1000, s(&["b/2", "b/c/3"]), false),
        ("", None, "", 2, s(&["a", "b/1"]), true),
        ("", Some("/"), "a", 2, s(&["b/(prefix)", "c"]), true),
        ("", Some("/"), "b/", 2, s(&["c", "d/(prefix)"]), false),
        ("zzz", None, "", 1000, s(&[]), false),
    ];
    for (prefix, delimiter, marker, max, want, truncated) in table {
        let got = w.list(prefix, delimiter, marker, max).await.unwrap();
        assert_eq!(
            got,
            (want, truncated),
            "{prefix:?} {delimiter:?} {marker:?} {max}"
        );
    }
}

#[tokio::test]
async fn bucket_default_encryption_applies_to_new_objects_only() {
    let w = World::new().await;
    w.put("before", b"x", Sse::None).await.unwrap();
    for default in [Sse::Aes256, Sse::Sm4] {
        w.set_default_encryption(default).await.unwrap();
        let k = format!("after-{default:?}");
        let record = w.put(&k, b"y", Sse::None).await.unwrap();
        assert!(default.matches(&record), "{k}");
        // A request's own method wins over the default.
        let other = if default == Sse::Aes256 {
            Sse::Sm4
        } else {
            Sse::Aes256
        };
        assert!(other.matches(&w.put("explicit", b"z", other).await.unwrap()));
        assert!(
            w.head("before", Preconditions::default())
                .await
                .unwrap()
                .encryption
                .is_none()
        );
    }
    w.set_default_encryption(Sse::None).await.unwrap();
    assert!(Sse::None.matches(&w.put("later", b"x", Sse::None).await.unwrap()));
}

#[tokio::test]
async fn errors_name_the_missing_or_refused_thing() {
    let w = World::new().await;
    w.put("k", b"data", Sse::None).await.unwrap();
    let md5 = |d: &[u8]| -> [u8; 16] { md5::Md5::digest(d).into() };
    assert_eq!(w.get("missing").await, Err("no-key"));
    assert_eq!(
        w.get_with("nobucket", "k", Get::default())
            .await
            .map(|_| ()),
        Err("no-bucket")
    );
    assert_eq!(
        w.put_with("nobucket", "k", b"x", Sse::None, None, false)
            .await
            .map(|_| ()),
        Err("no-bucket")
    );
    assert_eq!(
        w.put_with(check::BUCKET, "k", b"new", Sse::None, None, true)
            .await
            .map(|_| ()),
        Err("exists")
    );
    assert_eq!(
        w.get("k").await.unwrap(),
        b"data",
        "a refused overwrite changes nothing"
    );
    assert_eq!(
        w.put_with(
            check::BUCKET,
            "d",
            b"abc",
            Sse::Aes256,
            Some(md5(b"abd")),
            false
        )
        .await
        .map(|_| ()),
        Err("bad-digest")
    );
    assert_eq!(
        w.get("d").await,
        Err("no-key"),
        "a refused body leaves nothing"
    );
    w.put_with(
        check::BUCKET,
        "d",
        b"abc",
        Sse::Aes256,
        Some(md5(b"abc")),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        w.delete_bucket(check::BUCKET).await,
        Err("bucket-not-empty")
    );
    w.delete("k").await.unwrap();
    w.delete("k").await.unwrap(); // deleting a missing key succeeds
    w.delete("d").await.unwrap();
    assert_eq!(w.delete_bucket("nobucket").await, Err("no-bucket"));
    w.delete_bucket(check::BUCKET).await.unwrap();
    assert_eq!(w.get("k").await, Err("no-bucket"));
    w.create_bucket(check::BUCKET).await.unwrap();
    let big = World::with_config(coffer_core::Config {
        max_object_size: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(
        big.put("k", &[0; 11], Sse::None).await.map(|_| ()),
        Err("too-large")
    );
    big.put("k", &[0; 10], Sse::None).await.unwrap();
}

#[tokio::test]
async fn part_copies_upload_listings_and_bucket_listings() {
    let w = World::new().await;
    let min = coffer_core::Config::default().min_part_size as usize;
    let source = pattern(min + 500, 9);
    for sse in METHODS {
        let src = format!("src-{sse:?}");
        w.put(&src, &source, sse).await.unwrap();
        let k = format!("joined-{sse:?}");
        let id = w.initiate(&k, sse).await.unwrap();
        let e1 = w.part_copy(&src, None, &k, &id, 1).await.unwrap();
        let range = ByteRange::From {
            first: 100,
            last: Some(199),
        };
        let e2 = w.part_copy(&src, Some(range), &k, &id, 2).await.unwrap();
        assert_eq!(
            w.part_copy("missing", None, &k, &id, 3).await,
            Err("no-key")
        );
        w.complete(&k, &id, Some(vec![(1, e1), (2, e2)]))
            .await
            .unwrap();
        let expected = [&source[..], &source[100..200]].concat();
        assert!(w.get(&k).await.unwrap() == expected, "{sse:?}");
    }

    let mut ids = Vec::new();
    for k in ["up/a", "up/b", "up/b", "other"] {
        ids.push((k.to_owned(), w.initiate(k, Sse::None).await.unwrap()));
    }
    let (listed, truncated) = w.uploads("up/", 1000).await.unwrap();
    assert!(!truncated);
    assert_eq!(listed.len(), 3);
    assert!(
        listed.windows(2).all(|p| p[0] <= p[1]),
        "ordered by (key, id)"
    );
    assert!(w.uploads("", 2).await.unwrap().1, "truncated at 2");
    for (k, id) in &ids {
        w.abort(k, id).await.unwrap();
    }
    assert_eq!(w.uploads("", 1000).await.unwrap(), (vec![], false));

    for name in ["bkt-a", "bkt-b", "zzz"] {
        w.create_bucket(name).await.unwrap();
    }
    assert_eq!(w.create_bucket("Bad_Name").await, Err("bad-bucket-name"));
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        w.buckets("bkt", 1000).await.unwrap(),
        (s(&["bkt", "bkt-a", "bkt-b"]), false)
    );
    assert_eq!(
        w.buckets("", 2).await.unwrap(),
        (s(&["bkt", "bkt-a"]), true)
    );
    w.set_default_encryption(Sse::Sm4).await.unwrap();
    assert_eq!(
        w.bucket_info("bkt").await,
        Ok(Some(coffer_core::SseAlgorithm::Sm4))
    );
    assert_eq!(w.bucket_info("bkt-a").await, Ok(None));
    assert_eq!(w.bucket_info("nobucket").await, Err("no-bucket"));
}

/// UpdateObjectEncryption changes only the key of a service-held data key: an unencrypted object
/// is refused before any key is asked for, an object of another grant's scope is refused, and a
/// store without a KMS says so; the object is unchanged in every case.
#[tokio::test]
async fn rewrap_refuses_what_it_cannot_rewrap_and_changes_nothing() {
    let w = World::new().await;
    let plain = w.put("plain", b"plain bytes", Sse::None).await.unwrap();
    assert_eq!(
        w.rewrap("plain", "some-key").await.err(),
        Some("not-rewrappable")
    );
    assert_eq!(w.rewrap("missing", "some-key").await.err(), Some("no-key"));
    let aes = w.put("aes", b"aes bytes", Sse::Aes256).await.unwrap();
    assert_eq!(w.rewrap("aes", "some-key").await.err(), Some("kms"));
    let now = w.head("aes", Preconditions::default()).await.unwrap();
    assert_eq!(now.encryption, aes.encryption);
    let now = w.head("plain", Preconditions::default()).await.unwrap();
    assert_eq!(now.generation, plain.generation);
    assert_eq!(w.get("aes").await.unwrap(), b"aes bytes");
}
