//! Lifecycle passes over the in-memory stores: what a rule's prefix, tags and age select, and
//! that expired data is gone the way DeleteObject and AbortMultipartUpload remove it.

mod check;

use check::{Sse, World};

#[tokio::test]
async fn a_pass_deletes_only_what_the_rules_age_prefix_and_tags_select() {
    let w = World::new().await;
    for k in ["logs/a", "logs/b", "keep/a", "tmp/tagged", "tmp/untagged"] {
        w.put(k, b"data", Sse::Aes256).await.expect("put");
    }
    w.tag("tmp/tagged", &[("temporary", "yes"), ("other", "x")])
        .await
        .expect("tag");
    let upload = w.initiate("logs/big", Sse::None).await.expect("initiate");
    w.expire_after("logs/", &[], 3).await.expect("rules");

    assert_eq!(
        w.lifecycle_pass(2).await,
        Ok((0, 0)),
        "nothing is 3 days old yet"
    );
    assert_eq!(w.lifecycle_pass(3).await, Ok((2, 1)));
    for gone in ["logs/a", "logs/b"] {
        assert_eq!(w.get(gone).await, Err("no-key"), "{gone}");
    }
    assert_eq!(w.parts("logs/big", &upload).await, Err("no-upload"));
    assert_eq!(w.get("keep/a").await.expect("kept"), b"data");

    // A later put replaces the rules: now only tagged objects under tmp/ expire.
    w.expire_after("tmp/", &[("temporary", "yes")], 1)
        .await
        .expect("rules");
    assert_eq!(w.lifecycle_pass(1).await, Ok((1, 0)));
    assert_eq!(w.get("tmp/tagged").await, Err("no-key"));
    assert_eq!(w.get("tmp/untagged").await.expect("kept"), b"data");
    assert_eq!(w.lifecycle_pass(30).await, Ok((0, 0)), "idempotent");
}
