"""Pure pieces of the back office: roles, labels, charts, masking of ops views, passwords."""

from __future__ import annotations

import orjson
import pytest

from admin.charts import _nice, bar_chart, outcome_shares
from admin.i18n import _LABELS, LANGUAGES, pick, translator
from core.backoffice.dashboard import Series
from core.backoffice.errors import InvalidInput
from core.backoffice.jobs import chunk_for, parse_rule
from core.backoffice.model import Permission, Role, role_allows
from core.backoffice.operators import clean_email
from core.backoffice.ops import _masked_key, _masked_value
from core.backoffice.passwords import check_strength, hash_password, verify_password


def test_roles_carry_their_permissions() -> None:
    assert role_allows(Role.VIEWER, Permission.VIEW)
    assert not role_allows(Role.VIEWER, Permission.WORK)
    assert role_allows(Role.OPERATOR, Permission.WORK)
    assert not role_allows(Role.OPERATOR, Permission.OVERRIDE_OWNER)
    assert not role_allows(Role.OPERATOR, Permission.OPS)
    assert all(role_allows(Role.ADMIN, p) for p in Permission)


def test_every_label_has_both_languages() -> None:
    for key, pair in _LABELS.items():
        assert len(pair) == len(LANGUAGES) and all(pair), key
    assert translator("en")["campaigns"] == "Campaigns"
    assert translator("zh")["campaigns"] == "活动"
    assert pick("fr") == "zh" and pick(None) == "zh"


def test_chart_scales_to_a_round_maximum() -> None:
    assert [_nice(n) for n in (1, 3, 7, 10, 11, 99, 101)] == [1, 5, 10, 10, 20, 100, 200]
    chart = bar_chart(Series([("2026-12-03 10:00", 0), ("2026-12-03 11:00", 7)]), 1,
                      slice(11, 16))
    assert chart.total == 7 and [b.value for b in chart.bars] == [0, 7]
    assert chart.bars[0].height == 0 and chart.bars[1].height > 0
    assert chart.labels[-1][1] == "11:00"
    assert outcome_shares({"REDEEMED": 3, "NOT_FOUND": 1})[0] == ("REDEEMED", 3, 75.0)


def test_dead_letters_never_show_a_full_code() -> None:
    raw = orjson.dumps({"request_id": "r1", "code": "ABCDEFGHJKMN", "user_id": "u"})
    shown = _masked_value(raw)
    assert "ABCDEFGHJKMN" not in shown and "AB********MN" in shown
    assert _masked_value(b"{broken ABCDEFGHJKMN") == "(not JSON, 20 bytes)"
    assert _masked_key("redeem.requests", b"T1:ABCDEFGHJKMN") == "T1:AB********MN"
    assert _masked_key("tenant.updated", b"T1") == "T1"


def test_passwords_and_emails() -> None:
    digest = hash_password("a long enough secret")
    assert verify_password(digest, "a long enough secret")
    assert not verify_password(digest, "a long enough secreT")
    assert not verify_password(None, "a long enough secret")
    with pytest.raises(InvalidInput):
        check_strength("short")
    assert clean_email("  Ops@Example.COM ") == "ops@example.com"
    with pytest.raises(InvalidInput):
        clean_email("<script>@x.y")


def test_generation_chunks_and_rules() -> None:
    assert chunk_for(10_000) == 1_000 and chunk_for(10_000_000) == 50_000
    assert parse_rule("  ") is None
    assert parse_rule('{"codeType": "RANDOM_NUM", "length": 10}') is not None
    with pytest.raises(InvalidInput):
        parse_rule("{")


def test_counts_cache_reuses_then_forgets() -> None:
    from core.backoffice.counts import CountsCache

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    cache = CountsCache(60)
    assert cache.get(("T", None), compute)[0] == 1
    assert cache.get(("T", None), compute)[0] == 1
    assert cache.get(("T", "c"), compute)[0] == 2
    cache.forget()
    assert cache.get(("T", None), compute)[0] == 3
    off = CountsCache(0)
    assert off.get(("T", None), compute)[0] == 4 and off.get(("T", None), compute)[0] == 5


def test_dead_letter_errors_quoting_the_code_are_masked() -> None:
    from core.backoffice.ops import _view
    from core.dlq import DeadLetter

    letter = DeadLetter(0, 7, b"T1:ABCDEFGHJKMN",
                        orjson.dumps({"code": "ABCDEFGHJKMN"}),
                        {"error": "code ABCDEFGHJKMN is bad", "error_type": "X"})
    view = _view("redeem.requests", letter)
    assert "ABCDEFGHJKMN" not in f"{view.key}{view.error}{view.preview}"
    assert view.error == "code AB********MN is bad"
