"""Object tagging: Put/Get/DeleteObjectTagging, x-oss-tagging on PutObject, AppendObject,
CopyObject and multipart uploads, and the limits OSS puts on tags."""

from __future__ import annotations

import oss2
import pytest
from oss2.models import PartInfo, Tagging, TaggingRule

SSE = "x-oss-server-side-encryption"


def tags_of(bucket: oss2.Bucket, key: str) -> dict:
    return dict(bucket.get_object_tagging(key).tag_set.tagging_rule)


def tagging(**tags: str) -> Tagging:
    rule = TaggingRule()
    for k, v in tags.items():
        rule.add(k, v)
    return Tagging(rule)


def server_error(fn) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as e:
        fn()
    return e.value


def test_tags_set_get_and_delete_leave_the_data_alone(ob):
    ob.put_object("k", b"data", headers={SSE: "AES256"})
    assert tags_of(ob, "k") == {}
    assert "x-oss-tagging-count" not in ob.head_object("k").headers
    before = ob.head_object("k")
    ob.put_object_tagging("k", tagging(project="coffer", stage="test env"))
    assert tags_of(ob, "k") == {"project": "coffer", "stage": "test env"}
    after = ob.head_object("k")
    assert after.headers["x-oss-tagging-count"] == "2"
    assert ob.get_object("k").headers["x-oss-tagging-count"] == "2"
    assert (after.etag, after.last_modified) == (before.etag, before.last_modified)
    ob.put_object_tagging("k", tagging(only="one"))
    assert tags_of(ob, "k") == {"only": "one"}
    ob.delete_object_tagging("k")
    assert tags_of(ob, "k") == {}
    assert ob.get_object("k").read() == b"data"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        ob.get_object_tagging("missing")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        ob.put_object_tagging("missing", tagging(a="1"))


def test_x_oss_tagging_on_put_append_and_multipart(ob):
    ob.put_object("put", b"x", headers={"x-oss-tagging": "a=1&b=two%20words&flag"})
    assert tags_of(ob, "put") == {"a": "1", "b": "two words", "flag": ""}
    first = ob.append_object("ap", 0, b"one", headers={"x-oss-tagging": "kind=log"})
    ob.append_object("ap", first.next_position, b"two", headers={"x-oss-tagging": "kind=other"})
    assert tags_of(ob, "ap") == {"kind": "log"}
    up = ob.init_multipart_upload("mp", headers={"x-oss-tagging": "big=yes"})
    part = ob.upload_part("mp", up.upload_id, 1, b"part")
    ob.complete_multipart_upload("mp", up.upload_id, [PartInfo(1, part.etag)])
    assert tags_of(ob, "mp") == {"big": "yes"}
    # Overwriting an object replaces its tags.
    ob.put_object("put", b"y")
    assert tags_of(ob, "put") == {}


def test_copy_keeps_or_replaces_tags(ob):
    ob.put_object("src", b"x", headers={"x-oss-tagging": "from=source"})
    ob.copy_object(ob.bucket_name, "src", "kept")
    assert tags_of(ob, "kept") == {"from": "source"}
    ob.copy_object(ob.bucket_name, "src", "replaced", headers={"x-oss-tagging-directive": "Replace", "x-oss-tagging": "new=1"})
    assert tags_of(ob, "replaced") == {"new": "1"}
    ob.copy_object(ob.bucket_name, "src", "cleared", headers={"x-oss-tagging-directive": "Replace"})
    assert tags_of(ob, "cleared") == {}
    e = server_error(lambda: ob.copy_object(ob.bucket_name, "src", "bad", headers={"x-oss-tagging-directive": "Merge"}))
    assert (e.status, e.code) == (400, "InvalidArgument")


def tagging_xml(tags: dict) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags.items())
    return f"<Tagging><TagSet>{inner}</TagSet></Tagging>".encode()


def test_tag_limits(raw, bucket, bucket_name):
    bucket.put_object("k", b"x")
    ten = {f"k{i}": "v" for i in range(10)}
    bucket.put_object_tagging("k", tagging(**ten))
    assert tags_of(bucket, "k") == ten
    e = server_error(lambda: bucket.put_object_tagging("k", tagging(**ten, extra="v")))
    assert (e.status, e.code, e.ec) == (400, "InvalidTag", "0010-00000217"), e
    # oss2 refuses over-long keys and values itself; OSS's answer, sent by hand:
    for tags, ec in [({"k" * 129: "v"}, "0010-00000209"), ({"k": "v" * 257}, "0010-00000214")]:
        r = raw.request("PUT", bucket_name, "k", query=[("tagging", "")], body=tagging_xml(tags))
        assert (r.status, r.code, r.headers.get("x-oss-ec")) == (400, "InvalidTag", ec), r
    r = raw.request("PUT", bucket_name, "k", query=[("tagging", "")], body=tagging_xml({"k" * 128: "v" * 256}))
    assert r.status == 200, r
    assert tags_of(bucket, "k") == {"k" * 128: "v" * 256}
    bucket.put_object_tagging("k", tagging(**ten))
    header_tags = "&".join(f"t{i}=v" for i in range(11))
    e = server_error(lambda: bucket.put_object("new", b"x", headers={"x-oss-tagging": header_tags}))
    assert (e.status, e.code) == (400, "InvalidTag"), e
    e = server_error(lambda: bucket.put_object("new", b"x", headers={"x-oss-tagging": "aa=bb=cc"}))
    assert (e.status, e.code, e.ec) == (400, "InvalidArgument", "0010-00000219"), e
    e = server_error(lambda: bucket.put_object("new", b"x", headers={"x-oss-tagging": "dup=1&dup=2"}))
    assert (e.status, e.code) == (400, "InvalidTag"), e
    assert not bucket.object_exists("new")


@pytest.mark.parametrize(
    "body",
    [
        b"<Tagging><TagSet><Tag><Key>a</Key>",
        b"<Tagging><TagSet><Tag><Value>no key</Value></Tag></TagSet></Tagging>",
        b"<Tags><TagSet/></Tags>",
        b"not xml at all",
    ],
)
def test_malformed_tagging_xml_is_malformed_xml(raw, bucket, bucket_name, body):
    bucket.put_object("k", b"x", headers={"x-oss-tagging": "keep=me"})
    r = raw.request("PUT", bucket_name, "k", query=[("tagging", "")], body=body)
    assert (r.status, r.code) == (400, "MalformedXML"), r
    assert tags_of(bucket, "k") == {"keep": "me"}


def test_bucket_tags_are_apart_from_object_tags(bucket):
    # Bucket tagging (test_bucket_subresources.py) and object tags share no state.
    bucket.put_object("k", b"x", headers={"x-oss-tagging": "a=1"})
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    assert bucket.get_object_tagging("k").tag_set.tagging_rule == {"a": "1"}


def test_tagging_through_the_v2_sdk(v2c, bucket, bucket_name):
    import alibabacloud_oss_v2 as oss

    v2c.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"x", tagging="a=1&b=2"))
    got = v2c.get_object_tagging(oss.GetObjectTaggingRequest(bucket=bucket_name, key="k"))
    assert {t.key: t.value for t in got.tag_set.tags} == {"a": "1", "b": "2"}
    v2c.put_object_tagging(
        oss.PutObjectTaggingRequest(
            bucket=bucket_name,
            key="k",
            tagging=oss.Tagging(tag_set=oss.TagSet(tags=[oss.Tag(key="only", value="one")])),
        )
    )
    assert tags_of(bucket, "k") == {"only": "one"}
    head = v2c.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="k"))
    assert head.tagging_count == 1
    v2c.delete_object_tagging(oss.DeleteObjectTaggingRequest(bucket=bucket_name, key="k"))
    assert tags_of(bucket, "k") == {}
