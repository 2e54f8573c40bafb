"""Real-SDK tests of coffer's KMS API (the Alibaba Cloud KMS API, version 2016-01-20).

Clients:

- ``aliyun-python-sdk-kms`` over ``aliyun-python-sdk-core`` (the "old" SDK): RPC v1 HMAC-SHA1,
  every parameter in the query of a POST; pointed at coffer with ``set_endpoint`` and
  ``set_protocol_type('http')`` per request (its KMS request classes force https).
- ``alibabacloud_kms20160120`` (the Tea SDK): ACS3-HMAC-SHA256 by default, and RPC v1 with
  ``signature_algorithm='v2'``; ``Config(endpoint=HOST:PORT, protocol='http')``.
- hand-signed RPC v1 requests (``requests``) for what SDKs never send: duplicates, skewed times,
  replays, unknown versions and actions.

Target: the ``coffer`` binary's KMS listener (``coffer server --kms-listen``; the harness reads
its address from the ready file's ``"kms"``). To test another server instead, set
``COFFER_KMS_ENDPOINT=HOST:PORT`` with ``COFFER_KMS_ACCESS_KEY_ID`` and
``COFFER_KMS_ACCESS_KEY_SECRET`` (e.g. one from ``cargo run -p coffer-kms-api --example serve``).
A binary that writes no ``"kms"`` makes every test here skip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from alibabacloud_kms20160120 import models as tea_models
from alibabacloud_kms20160120.client import Client as TeaClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from coffer_harness import REGION

API_VERSION = "2016-01-20"
UNKNOWN_KEY_ID = "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f"
# Characters that signing and form-encoding get wrong most often.
AWKWARD = "a b*~+/=&%:é中"


# -- target and clients ------------------------------------------------------------------------


@dataclass(frozen=True)
class KmsTarget:
    address: str  # host:port
    access_key_id: str
    access_key_secret: str


@pytest.fixture(scope="session")
def kms(request) -> KmsTarget:
    address = os.environ.get("COFFER_KMS_ENDPOINT")
    if address:
        return KmsTarget(
            address,
            os.environ["COFFER_KMS_ACCESS_KEY_ID"],
            os.environ["COFFER_KMS_ACCESS_KEY_SECRET"],
        )
    coffer = request.getfixturevalue("coffer")
    address = _kms_address(coffer)
    if not address:
        pytest.skip('the coffer binary does not serve the KMS API (no "kms" in its ready file)')
    return KmsTarget(address, coffer.access_key_id, coffer.access_key_secret)


def _kms_address(coffer) -> str | None:
    """The harness's KMS address; else the ``"kms"`` entry of the binary's ready file."""
    if getattr(coffer, "kms_port", 0):
        return coffer.kms_endpoint
    ready = coffer.work_dir / f"ready-{coffer.starts}.json"
    return json.loads(ready.read_text()).get("kms")


class OldKms:
    """aliyun-python-sdk-kms request classes through an AcsClient; returns the parsed JSON."""

    def __init__(self, target: KmsTarget, client: AcsClient):
        self.target = target
        self.client = client

    def request(self, action: str, method: str = "POST", **params):
        module = importlib.import_module(f"aliyunsdkkms.request.v20160120.{action}Request")
        req = getattr(module, f"{action}Request")()
        # KMS request classes force https; a loopback coffer speaks http.
        req.set_endpoint(self.target.address)
        req.set_protocol_type("http")
        req.set_method(method)
        for name, value in params.items():
            getattr(req, f"set_{name}")(value)
        return req

    def call(self, action: str, method: str = "POST", **params) -> dict:
        return self.send(self.request(action, method, **params))

    def send(self, req) -> dict:
        return json.loads(self.client.do_action_with_exception(req))


def old_client(target: KmsTarget, secret: str | None = None, token: str | None = None) -> OldKms:
    if token is not None:
        credential = StsTokenCredential(target.access_key_id, secret or target.access_key_secret, token)
        client = AcsClient(region_id=REGION, credential=credential, auto_retry=False)
    else:
        client = AcsClient(
            target.access_key_id, secret or target.access_key_secret, REGION, auto_retry=False
        )
    return OldKms(target, client)


def tea_client(
    target: KmsTarget,
    algorithm: str | None = None,
    secret: str | None = None,
    token: str | None = None,
) -> TeaClient:
    config = open_api_models.Config(
        access_key_id=target.access_key_id,
        access_key_secret=secret or target.access_key_secret,
        security_token=token,
        endpoint=target.address,
        protocol="http",
        region_id=REGION,
        signature_algorithm=algorithm,
    )
    return TeaClient(config)


@pytest.fixture(scope="session")
def old(kms) -> OldKms:
    return old_client(kms)


@pytest.fixture(scope="session")
def tea(kms) -> TeaClient:
    """The Tea SDK as shipped: ACS3-HMAC-SHA256."""
    return tea_client(kms)


# The Tea SDK in every signing mode: ACS3 (default), RPC v1 ('v2'), and ACS3 with an STS token
# (coffer accepts the token but does not check it yet: its IAM has no STS).
TEA_MODES = ["acs3", "v2", "acs3-sts"]


@pytest.fixture(params=TEA_MODES)
def tea_any(request, kms) -> TeaClient:
    if request.param == "acs3":
        return tea_client(kms)
    if request.param == "v2":
        return tea_client(kms, algorithm="v2")
    return tea_client(kms, token="CAIS+sts/token==")


# -- helpers -----------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def new_key(tea: TeaClient, **kwargs) -> str:
    return tea.create_key(tea_models.CreateKeyRequest(**kwargs)).body.key_metadata.key_id


def describe(tea: TeaClient, key: str):
    return tea.describe_key(tea_models.DescribeKeyRequest(key_id=key)).body.key_metadata


def unique_alias() -> str:
    return f"alias/sdk-test-{uuid.uuid4().hex[:12]}"


def tea_error(fn, code: str, status: int) -> ClientException:
    with pytest.raises(ClientException) as info:
        fn()
    e = info.value
    assert (e.code, e.status_code) == (code, status), f"{e.code} {e.status_code}: {e.message}"
    assert e.request_id and e.request_id != "None"
    return e


def old_error(fn, code: str, status: int) -> ServerException:
    with pytest.raises(ServerException) as info:
        fn()
    e = info.value
    assert (e.get_error_code(), e.get_http_status()) == (code, status), e.get_error_msg()
    assert e.get_request_id()
    return e


def encrypt(tea: TeaClient, key: str, data: bytes, context: dict | None = None):
    return tea.encrypt(
        tea_models.EncryptRequest(key_id=key, plaintext=b64(data), encryption_context=context)
    ).body


def decrypt(tea: TeaClient, blob: str, context: dict | None = None):
    return tea.decrypt(
        tea_models.DecryptRequest(ciphertext_blob=blob, encryption_context=context)
    ).body


# -- key lifecycle -----------------------------------------------------------------------------


def test_key_lifecycle_with_the_old_sdk(old):
    created = old.call("CreateKey", Description=f"lifecycle {AWKWARD}")
    meta = created["KeyMetadata"]
    key = meta["KeyId"]
    assert created["RequestId"]
    assert meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "Aliyun_AES_256"
    assert meta["KeyUsage"] == "ENCRYPT/DECRYPT"
    assert meta["Origin"] == "Aliyun_KMS"
    assert meta["Description"] == f"lifecycle {AWKWARD}"
    assert meta["Arn"].startswith(f"acs:kms:{REGION}:") and meta["Arn"].endswith(f":key/{key}")
    assert meta["PrimaryKeyVersion"] and meta["DeleteDate"] == ""
    datetime.strptime(meta["CreationDate"], "%Y-%m-%dT%H:%M:%SZ")

    old.call("DisableKey", KeyId=key)
    assert old.call("DescribeKey", KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    old_error(lambda: old.call("GenerateDataKey", KeyId=key), "Rejected.Disabled", 409)
    old.call("EnableKey", KeyId=key)
    old.call("UpdateKeyDescription", KeyId=key, Description="renamed")
    assert old.call("DescribeKey", KeyId=key)["KeyMetadata"]["Description"] == "renamed"

    listed = old.call("ListKeys", PageSize=100)
    assert isinstance(listed["TotalCount"], int) and listed["PageSize"] == 100
    ids = {k["KeyId"] for k in listed["Keys"]["Key"]}
    page = 1
    while key not in ids and page * 100 < listed["TotalCount"]:
        page += 1
        ids |= {k["KeyId"] for k in old.call("ListKeys", PageSize=100, PageNumber=page)["Keys"]["Key"]}
    assert key in ids

    old.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    meta = old.call("DescribeKey", KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["DeleteDate"]
    old_error(
        lambda: old.call("Encrypt", KeyId=key, Plaintext=b64(b"x")), "Rejected.PendingDeletion", 409
    )
    old_error(
        lambda: old.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7),
        "Rejected.StateModifiedFailed",
        409,
    )
    old.call("CancelKeyDeletion", KeyId=key)
    assert old.call("DescribeKey", KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    old_error(lambda: old.call("CancelKeyDeletion", KeyId=key), "Rejected.StateModifiedFailed", 409)


def test_key_lifecycle_with_the_tea_sdk(tea_any):
    key = new_key(tea_any, description="tea lifecycle")
    meta = describe(tea_any, key)
    assert (meta.key_state, meta.automatic_rotation, meta.protection_level) == (
        "Enabled",
        "Disabled",
        "SOFTWARE",
    )
    assert meta.primary_key_version
    tea_any.disable_key(tea_models.DisableKeyRequest(key_id=key))
    assert describe(tea_any, key).key_state == "Disabled"
    tea_any.enable_key(tea_models.EnableKeyRequest(key_id=key))
    keys = tea_any.list_keys(tea_models.ListKeysRequest(page_size=100)).body
    assert keys.total_count >= 1 and keys.keys.key
    assert all(k.key_arn.endswith(k.key_id) for k in keys.keys.key)
    enabled = tea_any.list_keys(
        tea_models.ListKeysRequest(
            page_size=100, filters=json.dumps([{"Key": "KeyState", "Values": ["Disabled"]}])
        )
    ).body
    assert key not in {k.key_id for k in enabled.keys.key}
    tea_any.schedule_key_deletion(
        tea_models.ScheduleKeyDeletionRequest(key_id=key, pending_window_in_days=30)
    )
    assert describe(tea_any, key).key_state == "PendingDeletion"
    tea_any.cancel_key_deletion(tea_models.CancelKeyDeletionRequest(key_id=key))
    assert describe(tea_any, key).key_state == "Disabled"


# -- data keys and encryption ------------------------------------------------------------------


def test_data_keys_round_trip_across_sdks(old, tea_any):
    key = new_key(tea_any)
    context = {"bucket": "b1", "object": AWKWARD}
    # The old SDK passes the context text verbatim, spaces included; the Tea SDK re-serialises it.
    generated = old.call(
        "GenerateDataKey", KeyId=key, EncryptionContext=json.dumps(context, ensure_ascii=False)
    )
    assert generated["KeyId"] == key and generated["KeyVersionId"]
    assert len(base64.b64decode(generated["Plaintext"])) == 32
    opened = decrypt(tea_any, generated["CiphertextBlob"], dict(reversed(list(context.items()))))
    assert opened.plaintext == generated["Plaintext"]
    assert (opened.key_id, opened.key_version_id) == (key, generated["KeyVersionId"])

    sized = tea_any.generate_data_key(
        tea_models.GenerateDataKeyRequest(key_id=key, number_of_bytes=64, key_spec="AES_128")
    ).body
    assert len(base64.b64decode(sized.plaintext)) == 64  # NumberOfBytes wins over KeySpec
    spec = tea_any.generate_data_key(
        tea_models.GenerateDataKeyRequest(key_id=key, key_spec="AES_128")
    ).body
    assert len(base64.b64decode(spec.plaintext)) == 16

    hidden = tea_any.generate_data_key_without_plaintext(
        tea_models.GenerateDataKeyWithoutPlaintextRequest(key_id=key, encryption_context=context)
    ).body
    assert hidden.key_id == key and hidden.ciphertext_blob
    assert hidden.to_map().get("Plaintext") is None
    again = old.call(
        "Decrypt", CiphertextBlob=hidden.ciphertext_blob, EncryptionContext=json.dumps(context)
    )
    assert len(base64.b64decode(again["Plaintext"])) == 32


def test_encrypt_and_decrypt_awkward_data_by_get_post_query_and_body(kms, old, tea):
    key = new_key(tea)
    data = AWKWARD.encode() + bytes(range(256))
    context = {AWKWARD: AWKWARD}
    sealed = encrypt(tea, key, data, context)
    assert decrypt(tea, sealed.ciphertext_blob, context).plaintext == b64(data)

    # GET, every parameter in the query.
    got = old.call(
        "Decrypt",
        method="GET",
        CiphertextBlob=sealed.ciphertext_blob,
        EncryptionContext=json.dumps(context),
    )
    assert base64.b64decode(got["Plaintext"]) == data

    # POST with the API parameters in a form body (CommonRequest body params are signed too).
    req = CommonRequest(domain=kms.address, version=API_VERSION, action_name="Encrypt", product="Kms")
    req.set_protocol_type("http")
    req.set_method("POST")
    req.add_query_param("KeyId", key)
    req.add_body_params("Plaintext", b64(data))
    req.add_body_params("EncryptionContext", json.dumps(context))
    body_sealed = old.send(req)
    assert decrypt(tea, body_sealed["CiphertextBlob"], context).plaintext == b64(data)

    # Plaintext is at most 6 KiB once decoded.
    tea_error(lambda: encrypt(tea, key, b"x" * (6 * 1024 + 1)), "InvalidParameter", 400)


def test_encryption_context_mismatch_and_tampering_are_one_error(tea):
    key = new_key(tea)
    context = {"k": "v"}
    blob = encrypt(tea, key, b"secret", context).ciphertext_blob
    raw = bytearray(base64.b64decode(blob))
    flipped = bytearray(raw)
    flipped[-1] ^= 1
    header_flipped = bytearray(raw)
    header_flipped[40] ^= 1  # in the salt (the blob names its key in bytes 4..36)
    other_key = bytearray(raw)
    other_key[5] ^= 1  # names a key id the account does not have: no key-existence oracle
    cases = {
        "other context": (blob, {"k": "w"}),
        "no context": (blob, None),
        "extra pair": (blob, {"k": "v", "x": "y"}),
        "flipped tag": (b64(bytes(flipped)), context),
        "flipped salt": (b64(bytes(header_flipped)), context),
        "unknown key id": (b64(bytes(other_key)), context),
        "truncated": (b64(bytes(raw[:-5])), context),
        "garbage": (b64(b"\x00" * 80), context),
        "not base64": ("not base64!", context),
    }
    messages = set()
    for name, (candidate, ctx) in cases.items():
        e = tea_error(lambda: decrypt(tea, candidate, ctx), "InvalidParameter", 400)
        messages.add(e.message.split(" request id:")[0])
    # No detail tells a wrong context from a damaged blob.
    assert len(messages) == 1, messages
    assert decrypt(tea, blob, {"k": "v"}).plaintext == b64(b"secret")


def test_dry_run_reports_would_succeed(tea, old):
    key = new_key(tea)
    tea_error(
        lambda: tea.generate_data_key(tea_models.GenerateDataKeyRequest(key_id=key, dry_run="true")),
        "DryRunOperationError",
        400,
    )
    old_error(
        lambda: old.call("Encrypt", KeyId=key, Plaintext=b64(b"x"), DryRun=True),
        "DryRunOperationError",
        400,
    )


def test_reencrypt_moves_ciphertext_to_another_key_and_context(tea, old):
    source, destination = new_key(tea), new_key(tea)
    blob = encrypt(tea, source, b"payload", {"a": "1"}).ciphertext_blob
    moved = tea.re_encrypt(
        tea_models.ReEncryptRequest(
            ciphertext_blob=blob,
            destination_key_id=destination,
            source_encryption_context={"a": "1"},
            destination_encryption_context={"b": "2"},
        )
    ).body
    assert moved.key_id == destination and moved.key_version_id
    opened = old.call("Decrypt", CiphertextBlob=moved.ciphertext_blob, EncryptionContext='{"b": "2"}')
    assert (opened["KeyId"], base64.b64decode(opened["Plaintext"])) == (destination, b"payload")
    tea_error(
        lambda: tea.re_encrypt(
            tea_models.ReEncryptRequest(
                ciphertext_blob=blob, destination_key_id=destination, source_encryption_context={}
            )
        ),
        "InvalidParameter",
        400,
    )


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_keeps_every_version_decryptable(tea, old):
    key = new_key(tea)
    first = describe(tea, key).primary_key_version
    before = encrypt(tea, key, b"before")
    assert before.key_version_id == first

    version = tea.create_key_version(tea_models.CreateKeyVersionRequest(key_id=key)).body.key_version
    assert version.key_id == key and version.key_version_id != first and version.creation_date
    meta = describe(tea, key)
    assert meta.primary_key_version == version.key_version_id
    after = encrypt(tea, key, b"after")
    assert after.key_version_id == version.key_version_id

    old_opened = decrypt(tea, before.ciphertext_blob)
    assert (old_opened.plaintext, old_opened.key_version_id) == (b64(b"before"), first)
    new_opened = old.call("Decrypt", CiphertextBlob=after.ciphertext_blob)
    assert (new_opened["Plaintext"], new_opened["KeyVersionId"]) == (
        b64(b"after"),
        version.key_version_id,
    )

    versions = tea.list_key_versions(tea_models.ListKeyVersionsRequest(key_id=key)).body
    assert versions.total_count == 2
    assert {v.key_version_id for v in versions.key_versions.key_version} == {
        first,
        version.key_version_id,
    }
    described = tea.describe_key_version(
        tea_models.DescribeKeyVersionRequest(key_id=key, key_version_id=first)
    ).body.key_version
    assert (described.key_id, described.key_version_id) == (key, first)
    tea_error(
        lambda: tea.describe_key_version(
            tea_models.DescribeKeyVersionRequest(key_id=key, key_version_id=str(uuid.uuid4()))
        ),
        "Forbidden.KeyVersionNotFound",
        404,
    )

    tea.update_rotation_policy(
        tea_models.UpdateRotationPolicyRequest(
            key_id=key, enable_automatic_rotation=True, rotation_interval="30d"
        )
    )
    meta = tea.describe_key(tea_models.DescribeKeyRequest(key_id=key)).body.to_map()["KeyMetadata"]
    assert meta["AutomaticRotation"] == "Enabled"
    assert meta["RotationInterval"] == f"{30 * 86400}s"
    assert meta["NextRotationDate"]
    old.call("UpdateRotationPolicy", KeyId=key, EnableAutomaticRotation=False)
    assert describe(tea, key).automatic_rotation == "Disabled"
    tea_error(
        lambda: tea.update_rotation_policy(
            tea_models.UpdateRotationPolicyRequest(
                key_id=key, enable_automatic_rotation=True, rotation_interval="1d"
            )
        ),
        "InvalidParameter",
        400,
    )


# -- BYOK --------------------------------------------------------------------------------------

WRAPPINGS = {
    "RSAES_OAEP_SHA_256": padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    ),
    "RSAES_OAEP_SHA_1": padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
    ),
    "RSAES_PKCS1_V1_5": padding.PKCS1v15(),
}


def import_parameters(tea: TeaClient, key: str, algorithm: str):
    return tea.get_parameters_for_import(
        tea_models.GetParametersForImportRequest(
            key_id=key, wrapping_algorithm=algorithm, wrapping_key_spec="RSA_2048"
        )
    ).body


def wrap(public_key_b64: str, algorithm: str, material: bytes) -> str:
    public = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    assert public.key_size == 2048
    return b64(public.encrypt(material, WRAPPINGS[algorithm]))


@pytest.mark.parametrize("algorithm", list(WRAPPINGS))
def test_byok_import_with_rsa_wrapping(tea, old, algorithm):
    key = new_key(tea, origin="EXTERNAL", description="byok")
    meta = describe(tea, key)
    assert (meta.origin, meta.key_state) == ("EXTERNAL", "PendingImport")
    tea_error(lambda: encrypt(tea, key, b"x"), "Rejected.PendingImport", 409)

    params = import_parameters(tea, key, algorithm)
    assert params.key_id == key
    assert params.public_key.startswith("MIIBIjANBgkqhkiG9w0BAQEF")
    expires = datetime.strptime(params.token_expire_time, "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc) + timedelta(hours=23)
    material = secrets.token_bytes(32)
    tea.import_key_material(
        tea_models.ImportKeyMaterialRequest(
            key_id=key,
            import_token=params.import_token,
            encrypted_key_material=wrap(params.public_key, algorithm, material),
        )
    )
    meta = describe(tea, key)
    assert (meta.key_state, meta.material_expire_time) == ("Enabled", "")
    sealed = encrypt(tea, key, b"imported")
    assert decrypt(tea, sealed.ciphertext_blob).plaintext == b64(b"imported")

    # Re-import: other material is refused; the same material may change its expiry.
    params = import_parameters(tea, key, algorithm)
    other = wrap(params.public_key, algorithm, secrets.token_bytes(32))
    tea_error(
        lambda: tea.import_key_material(
            tea_models.ImportKeyMaterialRequest(
                key_id=key, import_token=params.import_token, encrypted_key_material=other
            )
        ),
        "InvalidKeyMaterial",
        400,
    )
    params = import_parameters(tea, key, algorithm)
    expiry = int((datetime.now(timezone.utc) + timedelta(days=30)).timestamp())
    old.call(
        "ImportKeyMaterial",
        KeyId=key,
        ImportToken=params.import_token,
        EncryptedKeyMaterial=wrap(params.public_key, algorithm, material),
        KeyMaterialExpireUnix=expiry,
    )
    meta = describe(tea, key)
    assert meta.key_state == "Enabled" and meta.material_expire_time
    assert decrypt(tea, sealed.ciphertext_blob).plaintext == b64(b"imported")

    # Material of the wrong length.
    params = import_parameters(tea, key, algorithm)
    tea_error(
        lambda: tea.import_key_material(
            tea_models.ImportKeyMaterialRequest(
                key_id=key,
                import_token=params.import_token,
                encrypted_key_material=wrap(params.public_key, algorithm, material[:16]),
            )
        ),
        "InvalidKeyMaterial",
        400,
    )

    tea.delete_key_material(tea_models.DeleteKeyMaterialRequest(key_id=key))
    assert describe(tea, key).key_state == "PendingImport"
    tea_error(lambda: decrypt(tea, sealed.ciphertext_blob), "Rejected.PendingImport", 409)


def test_byok_refuses_wrong_tokens_and_origins(tea):
    key = new_key(tea, origin="EXTERNAL")
    other = new_key(tea, origin="EXTERNAL")
    material = secrets.token_bytes(32)
    mine = import_parameters(tea, key, "RSAES_OAEP_SHA_256")
    theirs = import_parameters(tea, other, "RSAES_OAEP_SHA_256")

    def attempt(token: str, public_key: str):
        tea.import_key_material(
            tea_models.ImportKeyMaterialRequest(
                key_id=key,
                import_token=token,
                encrypted_key_material=wrap(public_key, "RSAES_OAEP_SHA_256", material),
            )
        )

    tea_error(lambda: attempt(b64(secrets.token_bytes(32)), mine.public_key), "InvalidImportToken", 400)
    tea_error(lambda: attempt(theirs.import_token, theirs.public_key), "InvalidImportToken", 400)
    # A wrapping under another transport key does not unwrap.
    tea_error(lambda: attempt(mine.import_token, theirs.public_key), "InvalidKeyMaterial", 400)

    managed = new_key(tea)
    tea_error(lambda: import_parameters(tea, managed, "RSAES_OAEP_SHA_256"), "Unsupported.Origin", 400)
    tea_error(
        lambda: import_parameters(tea, key, "SM2PKE"),
        "InvalidParameter",
        400,
    )
    tea_error(
        lambda: tea.create_key_version(tea_models.CreateKeyVersionRequest(key_id=key)),
        "Rejected.UnsupportedOperation",
        400,
    )


# -- aliases and tags --------------------------------------------------------------------------


def test_alias_operations(tea, old, kms):
    first, second = new_key(tea), new_key(tea)
    alias = unique_alias()
    tea.create_alias(tea_models.CreateAliasRequest(alias_name=alias, key_id=first))

    generated = old.call("GenerateDataKey", KeyId=alias)
    assert generated["KeyId"] == first  # the key id, never the alias
    arn = describe(tea, first).arn
    account = arn.split(":")[3]
    assert describe(tea, f"acs:kms:{REGION}:{account}:{alias}").key_id == first
    assert describe(tea, arn).key_id == first

    listed = tea.list_aliases(tea_models.ListAliasesRequest(page_size=100)).body
    entries = {a.alias_name: a for a in listed.aliases.alias}
    page = 1
    while alias not in entries and page * 100 < listed.total_count:
        page += 1
        more = tea.list_aliases(tea_models.ListAliasesRequest(page_size=100, page_number=page)).body
        entries.update({a.alias_name: a for a in more.aliases.alias})
    assert entries[alias].key_id == first
    assert entries[alias].alias_arn == f"acs:kms:{REGION}:{account}:{alias}"
    by_key = old.call("ListAliasesByKeyId", KeyId=first)
    assert [a["AliasName"] for a in by_key["Aliases"]["Alias"]] == [alias]

    tea_error(
        lambda: tea.create_alias(tea_models.CreateAliasRequest(alias_name=alias, key_id=second)),
        "AliasAlreadyExists",
        400,
    )
    tea_error(
        lambda: tea.create_alias(tea_models.CreateAliasRequest(alias_name="alias/acs/mine", key_id=first)),
        "Unsupported.Alias",
        400,
    )
    tea_error(
        lambda: tea.create_alias(tea_models.CreateAliasRequest(alias_name="alias/a b", key_id=first)),
        "InvalidParameter",
        400,
    )
    tea_error(
        lambda: tea.create_alias(tea_models.CreateAliasRequest(alias_name=unique_alias(), key_id=alias)),
        "InvalidParameter",
        400,
    )

    tea.update_alias(tea_models.UpdateAliasRequest(alias_name=alias, key_id=second))
    assert old.call("Encrypt", KeyId=alias, Plaintext=b64(b"x"))["KeyId"] == second
    tea_error(
        lambda: tea.update_alias(tea_models.UpdateAliasRequest(alias_name=unique_alias(), key_id=second)),
        "Forbidden.AliasNotFound",
        404,
    )

    old.call("DeleteAlias", AliasName=alias)
    old_error(lambda: old.call("GenerateDataKey", KeyId=alias), "Forbidden.AliasNotFound", 404)
    tea_error(
        lambda: tea.delete_alias(tea_models.DeleteAliasRequest(alias_name=alias)),
        "Forbidden.AliasNotFound",
        404,
    )


def test_tags(tea, old):
    key = new_key(tea, tags=json.dumps([{"TagKey": "team", "TagValue": "storage"}]))
    tea.tag_resource(
        tea_models.TagResourceRequest(
            key_id=key, tags=json.dumps([{"TagKey": "env", "TagValue": AWKWARD}])
        )
    )
    tags = tea.list_resource_tags(tea_models.ListResourceTagsRequest(key_id=key)).body.tags.tag
    assert {(t.key_id, t.tag_key, t.tag_value) for t in tags} == {
        (key, "team", "storage"),
        (key, "env", AWKWARD),
    }
    tea.untag_resource(tea_models.UntagResourceRequest(key_id=key, tag_keys=json.dumps(["team"])))
    listed = old.call("ListResourceTags", KeyId=key)
    assert [(t["TagKey"], t["TagValue"]) for t in listed["Tags"]["Tag"]] == [("env", AWKWARD)]
    tea_error(
        lambda: tea.tag_resource(
            tea_models.TagResourceRequest(key_id=key, tags=json.dumps([{"TagKey": "acs:x"}]))
        ),
        "InvalidParameter",
        400,
    )


def test_regions_and_account_status(tea):
    regions = tea.describe_regions().body.regions.region
    assert [r.region_id for r in regions] == [REGION]
    assert tea.describe_account_kms_status().body.account_status == "Enabled"


# -- bad input through the SDKs ----------------------------------------------------------------


def test_unknown_keys_and_aliases(tea_any, old):
    tea_error(lambda: describe(tea_any, UNKNOWN_KEY_ID), "Forbidden.KeyNotFound", 404)
    tea_error(lambda: describe(tea_any, "not-a-key-id"), "Forbidden.KeyNotFound", 404)
    tea_error(lambda: describe(tea_any, unique_alias()), "Forbidden.AliasNotFound", 404)
    old_error(lambda: old.call("DescribeKey", KeyId=UNKNOWN_KEY_ID), "Forbidden.KeyNotFound", 404)
    old_error(lambda: old.call("EnableKey", KeyId=unique_alias()), "Forbidden.AliasNotFound", 404)


def test_malformed_parameters(tea, old):
    key = new_key(tea)
    cases = [
        ("GenerateDataKey", {"KeyId": key, "NumberOfBytes": 0}, "InvalidParameter"),
        ("GenerateDataKey", {"KeyId": key, "NumberOfBytes": 1025}, "InvalidParameter"),
        ("GenerateDataKey", {"KeyId": key, "KeySpec": "AES_512"}, "InvalidParameter"),
        ("GenerateDataKey", {"KeyId": key, "EncryptionContext": "not json"}, "InvalidParameter"),
        ("GenerateDataKey", {"KeyId": key, "EncryptionContext": '{"n": 1}'}, "InvalidParameter"),
        ("GenerateDataKey", {"KeyId": key, "DryRun": "maybe"}, "InvalidParameter"),
        ("GenerateDataKey", {}, "MissingParameter"),
        ("Encrypt", {"KeyId": key, "Plaintext": "not base64!"}, "InvalidParameter"),
        ("Encrypt", {"KeyId": key}, "MissingParameter"),
        ("CreateKey", {"KeySpec": "RSA_2048"}, "InvalidParameter"),
        ("CreateKey", {"Origin": "external"}, "InvalidParameter"),
        ("CreateKey", {"EnableAutomaticRotation": True}, "MissingParameter"),
        ("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 3}, "InvalidParameter"),
        ("ScheduleKeyDeletion", {"KeyId": key}, "MissingParameter"),
        ("ListKeys", {"PageSize": 101}, "InvalidParameter"),
        ("ListKeys", {"PageNumber": 0}, "InvalidParameter"),
        ("Decrypt", {}, "MissingParameter"),
    ]
    for action, params, code in cases:
        e = old_error(lambda: old.call(action, **params), code, 400)
        assert e.get_error_msg(), (action, params)
    assert describe(tea, key).key_state == "Enabled"


def test_wrong_credentials(kms):
    key_holder = tea_client(kms)
    key = new_key(key_holder)
    # The old SDK recognises its own string to sign in the error and reports a wrong secret.
    wrong_old = old_client(kms, secret="wrong-secret")
    old_error(lambda: wrong_old.call("DescribeKey", KeyId=key), "InvalidAccessKeySecret", 400)
    for algorithm in (None, "v2"):
        wrong_tea = tea_client(kms, algorithm=algorithm, secret="wrong-secret")
        tea_error(lambda: describe(wrong_tea, key), "SignatureDoesNotMatch", 400)
    stranger = KmsTarget(kms.address, "LTAIunknownaccesskey00", "whatever")
    tea_error(lambda: describe(tea_client(stranger), key), "InvalidAccessKeyId.NotFound", 404)
    old_error(
        lambda: old_client(stranger).call("DescribeKey", KeyId=key), "InvalidAccessKeyId.NotFound", 404
    )
    # An STS token rides along with the old SDK too (accepted, not checked yet).
    sts = old_client(kms, token="CAIS+sts/token==")
    assert sts.call("DescribeKey", KeyId=key)["KeyMetadata"]["KeyId"] == key


# -- hand-signed requests ----------------------------------------------------------------------


def _enc(s: str) -> str:
    return quote(s, safe="~")


class RawKms:
    """RPC v1 requests signed here (Alibaba Cloud KMS, "Request signatures"), for what SDKs never send."""

    def __init__(self, target: KmsTarget):
        self.target = target

    def call(
        self,
        action: str | None,
        params: dict | None = None,
        *,
        method: str = "POST",
        body: dict | None = None,
        timestamp: datetime | None = None,
        nonce: str | None = None,
        overrides: dict | None = None,
        unsigned_query: str = "",
    ) -> requests.Response:
        signed = {
            "Version": API_VERSION,
            "Format": "JSON",
            "Timestamp": (timestamp or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "AccessKeyId": self.target.access_key_id,
        }
        if action is not None:
            signed["Action"] = action
        signed.update({k: str(v) for k, v in (params or {}).items()})
        signed.update(overrides or {})
        signed = {k: v for k, v in signed.items() if v is not None}
        form = {k: str(v) for k, v in (body or {}).items()}
        everything = {**signed, **form}
        canonical = "&".join(f"{_enc(k)}={_enc(everything[k])}" for k in sorted(everything))
        string_to_sign = f"{method}&%2F&{_enc(canonical)}"
        key = (self.target.access_key_secret + "&").encode()
        signature = b64(hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest())
        # `+` for spaces on the wire, as the Tea SDK sends them.
        query = "&".join(
            f"{quote(k, safe='~').replace('%20', '+')}={quote(v, safe='~').replace('%20', '+')}"
            for k, v in signed.items()
        )
        query += f"&Signature={_enc(signature)}{unsigned_query}"
        headers = {}
        data = None
        if form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in form.items())
        return requests.request(
            method, f"http://{self.target.address}/?{query}", data=data, headers=headers, timeout=30
        )


@pytest.fixture(scope="session")
def raw(kms) -> RawKms:
    return RawKms(kms)


def expect(response: requests.Response, status: int, code: str) -> dict:
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = response.json()
    assert (response.status_code, body.get("Code")) == (status, code), body
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    return body


def test_raw_requests_sign_awkward_values_by_get_and_body(raw, tea):
    key = new_key(tea)
    context = json.dumps({AWKWARD: AWKWARD}, ensure_ascii=False)
    data = b64(AWKWARD.encode())
    response = raw.call(
        "Encrypt", {"KeyId": key, "Plaintext": data, "EncryptionContext": context}, method="GET"
    )
    assert response.status_code == 200, response.text
    blob = response.json()["CiphertextBlob"]
    response = raw.call(
        "Decrypt", {}, body={"CiphertextBlob": blob, "EncryptionContext": context, "Extra": AWKWARD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["Plaintext"] == data


def test_raw_request_errors(raw, tea):
    key = new_key(tea)
    ok = {"KeyId": key}
    expect(
        raw.call("DescribeKey", ok, body={"KeyId": key}), 400, "InvalidParameter"
    )  # named twice
    expect(
        raw.call("DescribeKey", ok, unsigned_query="&KeyId=x"), 400, "InvalidParameter"
    )  # named twice
    expect(raw.call("DescribeKey", ok, unsigned_query="&Extra=1"), 400, "SignatureDoesNotMatch")
    skewed = datetime.now(timezone.utc) - timedelta(minutes=20)
    expect(raw.call("DescribeKey", ok, timestamp=skewed), 400, "IllegalTimestamp")
    expect(
        raw.call("DescribeKey", ok, timestamp=datetime.now(timezone.utc) + timedelta(minutes=20)),
        400,
        "IllegalTimestamp",
    )
    expect(raw.call("DescribeKey", ok, overrides={"Timestamp": "yesterday"}), 400, "IllegalTimestamp")
    nonce = uuid.uuid4().hex
    assert raw.call("DescribeKey", ok, nonce=nonce).status_code == 200
    expect(raw.call("DescribeKey", ok, nonce=nonce), 400, "SignatureNonceUsed")
    expect(raw.call("DescribeKey", ok, overrides={"Version": "2015-04-01"}), 400, "InvalidVersion")
    expect(raw.call("DescribeKey", ok, overrides={"Format": "XML"}), 400, "InvalidParameter")
    expect(raw.call("FlyToTheMoon", ok), 404, "InvalidAction.NotFound")
    expect(raw.call(None, ok), 400, "MissingParameter")
    expect(
        raw.call("DescribeKey", ok, overrides={"SignatureMethod": "HMAC-SHA256"}),
        400,
        "IncompleteSignature",
    )
    expect(raw.call("DescribeKey", ok, overrides={"SignatureNonce": None}), 400, "MissingParameter")

    address = raw.target.address
    anonymous = requests.get(
        f"http://{address}/?Action=DescribeKey&Version={API_VERSION}&KeyId={key}", timeout=30
    )
    body = expect(anonymous, 400, "MissingParameter")
    assert body["HostId"] == address
    expect(requests.get(f"http://{address}/other", timeout=30), 404, "InvalidAction.NotFound")
    expect(requests.put(f"http://{address}/", timeout=30), 405, "UnsupportedHTTPMethod")
    # The server keeps serving after all of that.
    assert raw.call("DescribeKey", ok).json()["KeyMetadata"]["KeyId"] == key
