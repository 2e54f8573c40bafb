"""S3 object tagging with boto3: Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject,
CreateMultipartUpload and CopyObject (x-amz-tagging-directive), x-amz-tagging-count, S3's error
codes, the oss:*ObjectTagging RAM actions, and the same tags seen through oss2."""

from __future__ import annotations

import boto3
import botocore
import pytest
from botocore.config import Config
from oss2.models import Tagging, TaggingRule

from sdkutil import oss2_bucket_for
from test_ram import allow, objects_of, ram  # noqa: F401  (fixture)
from test_s3_basic import s3_client


@pytest.fixture
def s3(coffer):
    return s3_client(coffer)


def tags_of(s3, bucket: str, key: str) -> dict:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def tag_set(**tags: str) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def code_of(fn, **kw) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def test_tags_put_get_delete_and_the_count_on_get_and_head(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"data", ServerSideEncryption="AES256")
    assert tags_of(s3, bucket_name, "k") == {}
    head = s3.head_object(Bucket=bucket_name, Key="k")
    assert "x-amz-tagging-count" not in head["ResponseMetadata"]["HTTPHeaders"]
    s3.put_object_tagging(Bucket=bucket_name, Key="k", Tagging=tag_set(project="coffer", stage="test env"))
    assert tags_of(s3, bucket_name, "k") == {"project": "coffer", "stage": "test env"}
    assert s3.get_object(Bucket=bucket_name, Key="k")["TagCount"] == 2
    after = s3.head_object(Bucket=bucket_name, Key="k")
    assert after["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    assert (after["ETag"], after["LastModified"]) == (head["ETag"], head["LastModified"])
    s3.put_object_tagging(Bucket=bucket_name, Key="k", Tagging=tag_set(only="one"))
    assert tags_of(s3, bucket_name, "k") == {"only": "one"}
    deleted = s3.delete_object_tagging(Bucket=bucket_name, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket_name, "k") == {}
    assert "TagCount" not in s3.get_object(Bucket=bucket_name, Key="k")
    assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == b"data"
    assert code_of(s3.get_object_tagging, Bucket=bucket_name, Key="missing") == "NoSuchKey"
    assert code_of(s3.put_object_tagging, Bucket=bucket_name, Key="missing", Tagging=tag_set(a="1")) == "NoSuchKey"


def test_x_amz_tagging_on_put_and_multipart(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="put", Body=b"x", Tagging="a=1&b=two%20words&flag=")
    assert tags_of(s3, bucket_name, "put") == {"a": "1", "b": "two words", "flag": ""}
    up = s3.create_multipart_upload(Bucket=bucket_name, Key="mp", Tagging="big=yes")
    part = s3.upload_part(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(
        Bucket=bucket_name, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert tags_of(s3, bucket_name, "mp") == {"big": "yes"}
    assert s3.get_object(Bucket=bucket_name, Key="mp")["TagCount"] == 1


def test_copy_object_copies_or_replaces_the_tags(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="src", Body=b"x", Tagging="from=source")
    source = {"Bucket": bucket_name, "Key": "src"}
    s3.copy_object(Bucket=bucket_name, Key="copied", CopySource=source)
    assert tags_of(s3, bucket_name, "copied") == {"from": "source"}
    s3.copy_object(Bucket=bucket_name, Key="kept", CopySource=source, Tagging="ignored=yes")
    assert tags_of(s3, bucket_name, "kept") == {"from": "source"}, "COPY is the default directive"
    s3.copy_object(
        Bucket=bucket_name, Key="replaced", CopySource=source, TaggingDirective="REPLACE", Tagging="new=tag",
    )
    assert tags_of(s3, bucket_name, "replaced") == {"new": "tag"}
    s3.copy_object(Bucket=bucket_name, Key="cleared", CopySource=source, TaggingDirective="REPLACE")
    assert tags_of(s3, bucket_name, "cleared") == {}


def test_bad_tags_get_s3_error_codes_and_change_nothing(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"x", Tagging="keep=me")
    eleven = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    for tagging in [
        eleven,
        tag_set(**{"k" * 129: "v"}),
        tag_set(k="v" * 257),
        {"TagSet": [{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}]},
        tag_set(**{"bad#key": "v"}),
        tag_set(k="bad|value"),
        tag_set(**{"aws:reserved": "v"}),
    ]:
        assert code_of(s3.put_object_tagging, Bucket=bucket_name, Key="k", Tagging=tagging) == "InvalidTag", tagging
    assert tags_of(s3, bucket_name, "k") == {"keep": "me"}
    assert code_of(s3.put_object, Bucket=bucket_name, Key="n", Body=b"x", Tagging="a=1&a=2") == "InvalidArgument"
    assert code_of(s3.put_object, Bucket=bucket_name, Key="n", Body=b"x", Tagging="a=%FF") == "InvalidArgument"
    assert code_of(s3.put_object, Bucket=bucket_name, Key="n", Body=b"x", Tagging="a=b%23") == "InvalidTag"
    assert code_of(s3.create_multipart_upload, Bucket=bucket_name, Key="n", Tagging="a=b%23") == "InvalidTag"
    assert code_of(
        s3.copy_object, Bucket=bucket_name, Key="n", CopySource={"Bucket": bucket_name, "Key": "k"},
        TaggingDirective="MERGE",
    ) == "InvalidArgument"
    assert code_of(s3.head_object, Bucket=bucket_name, Key="n") == "404", "no refused write stored"


def test_a_malformed_tagging_document_is_malformed_xml(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"x")
    s3.meta.events.register_first(
        "before-sign.s3.PutObjectTagging", _replace_body(b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>")
    )
    assert code_of(s3.put_object_tagging, Bucket=bucket_name, Key="k", Tagging=tag_set(a="1")) == "MalformedXML"


def _replace_body(body: bytes):
    def handler(request, **_):
        request.data = body
        for name in [h for h in request.headers if h.lower().startswith(("content-md5", "x-amz-checksum-"))]:
            del request.headers[name]
        request.headers["Content-Length"] = str(len(body))

    return handler


def test_tags_set_with_boto3_are_read_by_oss2_and_the_reverse(coffer, s3, bucket_name):
    oss_bucket = oss2_bucket_for(coffer, bucket_name, "v4")
    s3.put_object(Bucket=bucket_name, Key="from-s3", Body=b"x", Tagging="dialect=s3&two=words%20here")
    assert dict(oss_bucket.get_object_tagging("from-s3").tag_set.tagging_rule) == {
        "dialect": "s3", "two": "words here",
    }
    assert oss_bucket.head_object("from-s3").headers["x-oss-tagging-count"] == "2"
    rule = TaggingRule()
    rule.add("dialect", "oss")
    oss_bucket.put_object("from-oss", b"y", headers={"x-oss-tagging": "dialect=oss"})
    assert tags_of(s3, bucket_name, "from-oss") == {"dialect": "oss"}
    oss_bucket.put_object_tagging("from-s3", Tagging(rule))
    assert tags_of(s3, bucket_name, "from-s3") == {"dialect": "oss"}
    s3.delete_object_tagging(Bucket=bucket_name, Key="from-oss")
    assert dict(oss_bucket.get_object_tagging("from-oss").tag_set.tagging_rule) == {}


def test_ram_governs_tagging_with_the_oss_actions(coffer, ram, s3, bucket_name, tmp_path):  # noqa: F811
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"x", Tagging="a=1")
    user = ram.user("s3tag")
    ram.policy(
        [allow(["oss:GetObject", "oss:PutObject", "oss:GetObjectTagging"], [objects_of(bucket_name)])],
        tmp_path, user=user.name,
    )
    client = boto3.client(
        "s3",
        endpoint_url=coffer.s3_endpoint,
        aws_access_key_id=user.access_key_id,
        aws_secret_access_key=user.access_key_secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    assert tags_of(client, bucket_name, "k") == {"a": "1"}
    assert code_of(client.put_object_tagging, Bucket=bucket_name, Key="k", Tagging=tag_set(b="2")) == "AccessDenied"
    assert code_of(client.delete_object_tagging, Bucket=bucket_name, Key="k") == "AccessDenied"
    client.put_object(Bucket=bucket_name, Key="plain", Body=b"x")
    assert code_of(client.put_object, Bucket=bucket_name, Key="tagged", Body=b"x", Tagging="b=2") == "AccessDenied"
    assert code_of(s3.head_object, Bucket=bucket_name, Key="tagged") == "404"
    assert tags_of(s3, bucket_name, "k") == {"a": "1"}
    ram.policy(
        [allow(["oss:PutObjectTagging", "oss:DeleteObjectTagging"], [objects_of(bucket_name)])],
        tmp_path, user=user.name,
    )
    client.put_object(Bucket=bucket_name, Key="tagged", Body=b"x", Tagging="b=2")
    client.put_object_tagging(Bucket=bucket_name, Key="k", Tagging=tag_set(b="2"))
    assert tags_of(s3, bucket_name, "k") == {"b": "2"}
    client.delete_object_tagging(Bucket=bucket_name, Key="k")
    assert tags_of(s3, bucket_name, "k") == {}
