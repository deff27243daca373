"""Codes at rest without any service: lookups, seals, masks, and every way keys go wrong."""

from __future__ import annotations

import base64

import orjson
import pytest

from core.codes.keyfile import dev_keys, load_code_keys
from core.codes.protection import CodeKeys, CodeProtector, is_lookup
from core.errors import KeyMaterialError, PermanentError, TamperedCode, UnknownCodeKey
from core.settings import Settings


def key(n: int) -> bytes:
    return bytes([n]) * 32


def text(n: int) -> str:
    return base64.b64encode(key(n)).decode()


PROTECTOR = CodeProtector(CodeKeys(key(1), {"k1": key(2), "k2": key(3)}, "k2"))


def test_a_lookup_is_keyed_per_tenant_and_fits_the_code_column() -> None:
    value = PROTECTOR.lookup("T1", "ABCD2345EFGH")
    assert value == PROTECTOR.lookup("T1", "ABCD2345EFGH") and is_lookup(value)
    assert len(value) == 23 and value[0] == "~" and "ABCD" not in value
    assert value != PROTECTOR.lookup("T2", "ABCD2345EFGH"), "tenant is in the MAC input"
    other = CodeProtector(CodeKeys(key(9), {"k1": key(2)}, "k1"))
    assert value != other.lookup("T1", "ABCD2345EFGH"), "the lookup key matters"
    assert not is_lookup("ABCD2345EFGH")


def test_the_fast_hmac_is_hmac_sha256() -> None:
    import hashlib
    import hmac

    digest = hmac.new(key(1), b"T1\0ABCD", hashlib.sha256).digest()[:16]
    expected = "~" + base64.urlsafe_b64encode(digest).decode()[:22]
    assert PROTECTOR.lookup("T1", "ABCD") == expected


def test_protect_seals_under_the_active_key_and_masks() -> None:
    [row] = PROTECTOR.protect("T1", ["ABCD2345EFGH"])
    assert row.lookup == PROTECTOR.lookup("T1", "ABCD2345EFGH")
    assert row.mask == "AB********GH" and "ABCD2345EFGH" not in row.sealed
    assert PROTECTOR.open("T1", row.lookup, "k2", row.sealed) == "ABCD2345EFGH"
    again = PROTECTOR.protect("T1", ["ABCD2345EFGH"])[0]
    assert again.sealed != row.sealed, "a fresh nonce per seal"


def test_an_older_key_id_stays_readable() -> None:
    old = CodeProtector(CodeKeys(key(1), {"k1": key(2)}, "k1"))
    lookup = old.lookup("T1", "CODE1")
    sealed = old.seal("T1", lookup, "CODE1")
    assert PROTECTOR.open("T1", lookup, "k1", sealed) == "CODE1"
    assert PROTECTOR.reveal("T1", "PLAINROW", None, None) == "PLAINROW", "unmigrated row"


@pytest.mark.parametrize("change", ["tenant", "lookup", "byte", "key"])
def test_a_changed_or_moved_seal_does_not_open(change: str) -> None:
    lookup = PROTECTOR.lookup("T1", "CODE1")
    sealed = PROTECTOR.seal("T1", lookup, "CODE1")
    tenant, key_id = "T1", "k2"
    if change == "tenant":
        tenant = "T2"
    elif change == "lookup":
        lookup = PROTECTOR.lookup("T1", "CODE2")
    elif change == "byte":
        raw = bytearray(base64.b64decode(sealed))
        raw[-1] ^= 1
        sealed = base64.b64encode(bytes(raw)).decode()
    else:
        key_id = "k1"
    with pytest.raises(TamperedCode, match="does not authenticate under key") as caught:
        PROTECTOR.open(tenant, lookup, key_id, sealed, where="row 7")
    assert "row 7" in str(caught.value) and isinstance(caught.value, PermanentError)


def test_a_missing_key_id_names_it() -> None:
    with pytest.raises(UnknownCodeKey, match=r"'k9'.*configured: k1, k2"):
        PROTECTOR.open("T1", "~x", "k9", "AAAA")


def test_key_material_is_checked() -> None:
    with pytest.raises(KeyMaterialError, match="active code key id 'k3'"):
        CodeKeys(key(1), {"k1": key(2)}, "k3")
    with pytest.raises(KeyMaterialError, match="'k1' has 16 bytes"):
        CodeKeys(key(1), {"k1": b"x" * 16}, "k1")


def test_the_key_file_and_environment(tmp_path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(orjson.dumps({"lookup_key": text(1), "active_key_id": "k1",
                                  "keys": {"k1": text(2)}}).decode())
    keys = load_code_keys(str(path), "", {"k2": text(3)}, "k2")
    assert keys.active_id == "k2" and set(keys.keys) == {"k1", "k2"}
    assert keys.lookup_key == key(1)
    assert load_code_keys("", "", {}, "") == dev_keys()


def _file(lookup: str, keys: dict[str, str], active: str | None = "k1") -> str:
    data: dict[str, object] = {"lookup_key": lookup, "keys": keys}
    if active:
        data["active_key_id"] = active
    return orjson.dumps(data).decode()


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot be read"),
    ("{not json", "is not JSON"),
    ('["a"]', "must be an object"),
    (_file("!!!", {"k1": text(2)}), "lookup key of code key file .* is not base64"),
    (_file(text(1), {"k1": "QUJD"}), "code key 'k1' of code key file .* has 3 bytes"),
    (_file(text(1), {"k1": text(2)}, None), "no active code key id"),
    (_file(text(1), {"k1": text(2)}, "k2"), "active code key id 'k2' is not among"),
])
def test_a_wrong_key_file_names_what_is_wrong(tmp_path, content, message) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeyMaterialError, match=message):
        load_code_keys(str(path), "", {}, "")


def test_settings_read_the_keys_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("REDEEMFLOW_CODE_LOOKUP_KEY", text(4))
    monkeypatch.setenv("REDEEMFLOW_CODE_KEYS", orjson.dumps({"a": text(5)}).decode())
    monkeypatch.setenv("REDEEMFLOW_CODE_KEY_ID", "a")
    settings = Settings()
    assert settings.code_protector.material == CodeKeys(key(4), {"a": key(5)}, "a")
    env = settings.to_env()
    assert orjson.loads(env["REDEEMFLOW_CODE_KEYS"]) == {"a": text(5)}
    assert env["REDEEMFLOW_CODE_LOOKUP_KEY"] == text(4)


@pytest.mark.parametrize("code", ["ABCD2345EFGH", "ABCDE", "ABC", "VIP1234567890123"])
def test_the_bulk_path_equals_the_single_ones(code: str) -> None:
    from core.masking import mask_code

    [row] = PROTECTOR.protect("T9", [code])
    assert row.lookup == PROTECTOR.lookup("T9", code) and row.mask == mask_code(code)
    assert PROTECTOR.open("T9", row.lookup, "k2", row.sealed) == code


@pytest.mark.parametrize("lengths", [[13], [12, 5, 3, 16, 4, 8]], ids=["one length", "mixed"])
def test_a_chunk_equals_the_single_ones_code_by_code(lengths: list[int]) -> None:
    import random

    from core.masking import mask_code

    rng = random.Random(7)
    codes = ["".join(rng.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(size))
             for n in range(300) for size in [lengths[n % len(lengths)]]]
    rows = PROTECTOR.protect_rows("T9", codes)
    assert len(rows) == len(codes)
    for code, row in zip(codes, rows.as_tuples(), strict=True):
        assert row.lookup == PROTECTOR.lookup("T9", code) and row.mask == mask_code(code)
        assert PROTECTOR.open("T9", row.lookup, "k2", row.sealed) == code
    nonces = {base64.b64decode(seal)[:12] for seal in rows.seals}
    assert len(nonces) == len(codes), "a fresh nonce per seal"
    ordered = rows.sorted_by_lookup()
    assert ordered.lookups == sorted(rows.lookups) and ordered.lookup_texts() == sorted(
        row.lookup for row in rows.as_tuples())
    assert sorted(ordered.as_tuples()) == sorted(rows.as_tuples()), "rows stay together"
    assert not PROTECTOR.protect_rows("T9", []).lookups
