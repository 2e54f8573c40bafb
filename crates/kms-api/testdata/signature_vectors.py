"""Generates the SDK known-answer vectors of `src/signature/rpc.rs` and `src/signature/acs3.rs`
with the SDKs' own signers. Run with the real-client venv (tests/sdk/requirements.txt):

    tests/sdk/.venv/bin/python crates/kms-api/testdata/signature_vectors.py

Versions used for the checked-in vectors: aliyun-python-sdk-core 2.16.1,
alibabacloud_openapi_util 0.2.4 (via alibabacloud_tea_openapi 0.4.6). The RPC v1 and ACS3 worked
examples of the `spec_worked_example` tests are recomputed too, as a check of this script.
"""

import base64
import hashlib
import hmac

from alibabacloud_openapi_util.client import Client as OpenApiUtil
from alibabacloud_openapi_util.client import get_canonical_query_string
from aliyunsdkcore.auth.composer import rpc_signature_composer

SECRET = "testsecret"
compose_string_to_sign = getattr(rpc_signature_composer, "__compose_string_to_sign")


def rpc_vector(method, params):
    sts = compose_string_to_sign(method, params)
    old = base64.b64encode(hmac.new(f"{SECRET}&".encode(), sts.encode(), hashlib.sha1).digest()).decode()
    tea = OpenApiUtil.get_rpcsignature(params, method, SECRET)
    assert old == tea, (old, tea)
    print(f"RPC {method} string to sign: {sts}")
    print(f"RPC {method} signature:      {old}")


class Request:
    def __init__(self, method, query, headers):
        self.method, self.pathname, self.query, self.headers = method, "/", query, headers


def acs3_vector(query, headers, body):
    payload = hashlib.sha256(body).hexdigest()
    headers = dict(headers, **{"x-acs-content-sha256": payload})
    auth = OpenApiUtil.get_authorization(Request("POST", query, headers), "ACS3-HMAC-SHA256", payload, "testid", SECRET)
    print(f"ACS3 payload hash:    {payload}")
    print(f"ACS3 canonical query: {get_canonical_query_string(query)}")
    print(f"ACS3 Authorization:   {auth}")


COMMON = {
    "Version": "2016-01-20", "Format": "JSON", "RegionId": "cn-hangzhou",
    "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureType": "",
    "AccessKeyId": "testid",
}

print("== rpc.rs spec_worked_example")
rpc_vector("POST", dict(COMMON, Action="GenerateDataKey", KeyId="alias/acs/oss", KeySpec="AES_256",
                        EncryptionContext='{"bucket":"b1","object":"a b*~"}',
                        Timestamp="2024-01-01T00:00:00Z",
                        SignatureNonce="3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"))
print("== rpc.rs sdk_vector_with_reserved_and_non_ascii_characters")
rpc_vector("GET", dict(COMMON, Action="Encrypt", KeyId="alias/test-key", Plaintext="aGVsbG8gd29ybGQ=",
                       EncryptionContext='{"k": "a b*~+/=&\u00e9\u4e2d"}',
                       Timestamp="2024-05-06T07:08:09Z",
                       SignatureNonce="0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"))
print("== acs3.rs spec_worked_example")
acs3_vector(
    {"KeyId": "alias/acs/oss", "KeySpec": "AES_256"},
    {"accept": "application/json", "host": "127.0.0.1:9001", "x-acs-action": "GenerateDataKey",
     "x-acs-date": "2024-01-01T00:00:00Z",
     "x-acs-signature-nonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "x-acs-version": "2016-01-20"},
    b"",
)
print("== acs3.rs sdk_vector_with_body_and_reserved_characters")
acs3_vector(
    {"KeyId": "alias/test-key", "Plaintext": "aGVsbG8gd29ybGQ=",
     "EncryptionContext": '{"k":"a b*~+/=&\u00e9\u4e2d"}', "Empty": ""},
    {"host": "127.0.0.1:9001", "x-acs-action": "Encrypt", "x-acs-version": "2016-01-20",
     "x-acs-date": "2024-05-06T07:08:09Z", "x-acs-signature-nonce": "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
     "accept": "application/json", "user-agent": "AlibabaCloud (Linux) Python/3.11 Core/0.4 TeaDSL/1",
     "content-type": "application/x-www-form-urlencoded"},
    b"Description=hello+world%2A",
)
