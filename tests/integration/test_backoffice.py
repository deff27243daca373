"""Back-office services against the real MariaDB and Redis: operators, sign-in throttling
and lockout, sessions and their expiry, tenant scoping, lookup, export rules, voiding and
background generation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.backoffice import campaigns as campaign_views
from core.backoffice.downloads import ExportRequest, export_for_download
from core.backoffice.errors import (
    AccessDenied,
    InvalidInput,
    OperatorExists,
    SessionInvalid,
    SignInFailed,
)
from core.backoffice.lookup import lookup, void_row
from core.backoffice.model import AuditFilter, Principal
from core.backoffice.sessions import csrf_matches
from core.bootstrap import Container, bootstrap
from core.errors import NotFound, UnknownCampaign
from core.export import export_codes
from core.settings import Settings
from tests.code_support import PLAIN_CODE, reveal
from tests.conftest import unique_id
from tests.e2e.admin_support import (
    PASSWORD,
    campaign_codes,
    make_campaign,
    make_operator,
    make_tenant,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def office(base_settings: Settings) -> Iterator[Container]:
    """A container whose sign-in throttle trips after 3 failures per address."""
    settings = base_settings.model_copy(update={"admin_ip_max_failures": 3,
                                                "admin_login_max_failures": 4})
    with bootstrap(settings) as container:
        yield container


def _principal(container: Container, tenant: str | None, role: str) -> Principal:
    account = make_operator(container, tenant, role)
    operator = container.backoffice.operators.authenticate(account.email, PASSWORD,
                                                           unique_id("ip"))
    return container.backoffice.sessions.open(operator, "10.0.0.1")[1]


def _sql(container: Container, statement: str, **params: object) -> list:
    with container.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


def test_operator_accounts_are_checked(office: Container) -> None:
    operators = office.backoffice.operators
    email = f"{unique_id('op')}@Example.com"
    operator, password = operators.create("T1", email, "operator")
    assert operator.email == email.lower() and len(password) >= 12
    with pytest.raises(OperatorExists):
        operators.create("T1", email.upper(), "viewer", PASSWORD)
    for bad, field in (("not-an-email", "email"), ("a@b.c", "email")):
        with pytest.raises(InvalidInput) as caught:
            operators.create("T1", bad, "viewer", PASSWORD)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as short:
        operators.create("T1", f"{unique_id()}@example.com", "viewer", "short")
    assert short.value.field == "password"
    with pytest.raises(InvalidInput) as role:
        operators.create("T1", f"{unique_id()}@example.com", "root", PASSWORD)
    assert role.value.field == "role"
    stored = _sql(office, "SELECT password_hash FROM operators WHERE operator_id = :o",
                  o=operator.operator_id)[0][0]
    assert stored.startswith("$argon2id$") and password not in stored


def test_lockout_after_consecutive_failures_and_reset(office: Container) -> None:
    operators = office.backoffice.operators
    account = make_operator(office, "T1", "operator")
    for n in range(4):
        with pytest.raises(SignInFailed):
            operators.authenticate(account.email, "wrong-password!", f"10.1.{n}.1")
    with pytest.raises(SignInFailed) as locked:
        operators.authenticate(account.email, PASSWORD, "10.1.9.1")
    assert locked.value.reason == "account locked"
    assert str(locked.value) == SignInFailed.GENERIC
    operators.reset_password(account.email, PASSWORD)
    assert operators.authenticate(account.email, PASSWORD, "10.1.9.2").email == account.email


def test_failures_from_one_address_throttle_it(office: Container) -> None:
    operators = office.backoffice.operators
    account = make_operator(office, "T1", "operator")
    address = unique_id("ip")
    for n in range(3):
        with pytest.raises(SignInFailed):
            operators.authenticate(f"nobody{n}@example.com", "x" * 12, address)
    with pytest.raises(SignInFailed) as throttled:
        operators.authenticate(account.email, PASSWORD, address)
    assert throttled.value.reason == "address throttled"
    assert operators.authenticate(account.email, PASSWORD, unique_id("ip"))


def test_sessions_expire_idle_and_absolute_and_end_when_disabled(office: Container) -> None:
    office_services = office.backoffice
    account = make_operator(office, "T1", "operator")
    operator = office_services.operators.get(account.email)
    sessions = office_services.sessions
    token, principal = sessions.open(operator, "10.2.0.1")
    assert sessions.resolve(token).operator_id == operator.operator_id
    assert csrf_matches(principal, principal.csrf_token)
    assert not csrf_matches(principal, None) and not csrf_matches(principal, "x")
    stored = _sql(office, "SELECT COUNT(*) FROM operator_sessions WHERE token_hash = :h",
                  h=principal.token_hash)
    assert stored[0][0] == 1
    assert not _sql(office, "SELECT 1 FROM operator_sessions WHERE token_hash = :t", t=token)
    for forged in (None, "", "x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"),
                   "<script>"):
        with pytest.raises(SessionInvalid):
            sessions.resolve(forged)
    _sql(office, "UPDATE operator_sessions SET last_seen_at = last_seen_at - INTERVAL 31 MINUTE"
         " WHERE token_hash = :h", h=principal.token_hash)
    with pytest.raises(SessionInvalid, match="expired"):
        sessions.resolve(token)
    token, principal = sessions.open(operator, "10.2.0.1")
    _sql(office, "UPDATE operator_sessions SET expires_at = NOW(6) - INTERVAL 1 SECOND"
         " WHERE token_hash = :h", h=principal.token_hash)
    with pytest.raises(SessionInvalid, match="expired"):
        sessions.resolve(token)
    token, _ = sessions.open(operator, "10.2.0.1")
    office_services.operators.disable(account.email)
    with pytest.raises(SessionInvalid):
        sessions.resolve(token)


def test_scoping_by_tenant(office: Container) -> None:
    tenant_a, tenant_b = make_tenant(office), make_tenant(office)
    campaign = make_campaign(office, tenant_a, codes=10)
    alice = _principal(office, tenant_a, "operator")
    bob = _principal(office, tenant_b, "admin")
    platform = _principal(office, None, "viewer")
    assert campaign_views.campaign_for(office.backoffice.services, alice,
                                       campaign).tenant_id == tenant_a
    assert campaign_views.campaign_for(office.backoffice.services, platform,
                                       campaign).tenant_id == tenant_a
    with pytest.raises(UnknownCampaign):
        campaign_views.campaign_for(office.backoffice.services, bob, campaign)
    services = office.backoffice.services
    assert campaign in {c.campaign_id for c in campaign_views.list_campaigns(services, alice)}
    assert campaign not in {c.campaign_id for c in campaign_views.list_campaigns(services, bob)}
    audit = office.backoffice.audit
    audit.record(alice, "campaign_status", target=campaign)
    assert {e.tenant_id for e in audit.entries(alice, AuditFilter(limit=500))} == {tenant_a}
    seen = {e.tenant_id for e in audit.entries(platform, AuditFilter(limit=500))}
    assert tenant_a in seen and tenant_b in seen
    with pytest.raises(AccessDenied):
        campaign_views.change_status(office.backoffice.services, audit, platform, campaign,
                                     "PAUSED")


def test_campaign_form_names_the_bad_field(office: Container) -> None:
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "operator")
    audit = office.backoffice.audit
    good = {"name": "ok", "product_code": "APP_A",
            "rule": '{"rewardRules": [{"type": "COUPON", "id": "X"}]}'}
    for change, field in (({"name": "n" * 129}, "name"), ({"rule": "[]"}, "rule"),
                          ({"rule": '{"length": 999}'}, "rule"),
                          ({"campaign_id": "bad id!"}, "campaign_id"),
                          ({"product_code": ""}, "product_code"),
                          ({"rule": "x" * 20_000}, "rule")):
        with pytest.raises(InvalidInput) as caught:
            campaign_views.create_from_form(office.backoffice.services, audit, alice, {**good,
                                            **change})
        assert caught.value.field == field, change
    created = campaign_views.create_from_form(office.backoffice.services, audit, alice,
                                              {**good, "tenant_id": "someone-else"})
    assert created.tenant_id == tenant and created.created_by == alice.operator_id


def test_lookup_normalises_masks_and_scopes(office: Container) -> None:
    tenant, other = make_tenant(office), make_tenant(office)
    alice = _principal(office, tenant, "operator")
    campaign = make_campaign(office, tenant, codes=5, account_id=alice.operator_id)
    code = campaign_codes(office, tenant, campaign)[0]
    typed = " " + "-".join(code[i:i + 3] for i in range(0, len(code), 3)).lower() + " "
    services = office.backoffice
    history = lookup(office.backoffice.services, services.operator_store, services.audit,
                     alice, other, typed)
    assert history.tenant_id == tenant, "the session's tenant wins over the form's"
    assert code not in history.masked_code and history.masked_code[:2] == code[:2]
    assert history.generated_by == alice.email and history.status == "unused"
    entry = services.audit.entries(alice, AuditFilter(action="lookup", limit=1))[0]
    assert code not in entry.target and code not in entry.detail
    bob = _principal(office, other, "operator")
    with pytest.raises(NotFound):
        lookup(office.backoffice.services, services.operator_store, services.audit, bob, "", code)
    with pytest.raises(InvalidInput):
        lookup(office.backoffice.services, services.operator_store, services.audit, alice, "",
               "x" * 65)


def test_lookup_shows_who_exported_from_the_export_row(office: Container, tmp_path) -> None:
    """A code keeps only its export's number (migration 15): the lookup joins the export's
    row for who exported it, when and which export; an unexported code shows none."""
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "operator")
    campaign = make_campaign(office, tenant, codes=4, account_id=alice.operator_id)
    out = tmp_path / "two.csv"
    result = export_codes(office.exporter, tenant, campaign, alice.operator_id, 2, "csv", out)
    exported = {line.split(",")[0] for line in out.read_text().splitlines()[1:]}
    services = office.backoffice
    for code in campaign_codes(office, tenant, campaign):
        history = lookup(services.services, services.operator_store, services.audit, alice, "",
                         code)
        if code in exported:
            assert (history.exported_by, history.export_id) == (alice.email, result.export_id)
            assert history.exported_at is not None
        else:
            assert (history.exported_by, history.exported_at, history.export_id) == (
                None, None, None)


def test_void_one_code_with_reason(office: Container) -> None:
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "operator")
    campaign = make_campaign(office, tenant, codes=5)
    row = _sql(office, f"SELECT id, {PLAIN_CODE} FROM redeem_codes WHERE tenant_id = :t"
               " ORDER BY id LIMIT 1", t=tenant)[0]
    row = (row[0], reveal(office, row[1]))
    services = office.backoffice
    with pytest.raises(InvalidInput):
        void_row(office.backoffice.services, services.audit, alice, campaign, int(row[0]), "  ")
    assert void_row(office.backoffice.services, services.audit, alice, campaign, int(row[0]),
                    "lost").voided == 1
    history = lookup(office.backoffice.services, services.operator_store, services.audit,
                     alice, "", row[1])
    assert history.status == "voided"
    assert "lost" in history.voided_notes[0] and alice.email in history.voided_notes[0]


def test_export_owner_rule_and_override(office: Container) -> None:
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "operator")
    admin = _principal(office, tenant, "admin")
    campaign = make_campaign(office, tenant, codes=30, account_id="someone-else")
    audit = office.backoffice.audit
    with pytest.raises(InvalidInput) as mine:
        export_for_download(office.backoffice.services, audit, alice, ExportRequest(campaign,
                            "5", "csv"))
    assert mine.value.field == "count"
    with pytest.raises(AccessDenied):
        export_for_download(office.backoffice.services, audit, alice, ExportRequest(campaign,
                            "5", "csv", True, "r"))
    with pytest.raises(InvalidInput) as reason:
        export_for_download(office.backoffice.services, audit, admin, ExportRequest(campaign,
                            "5", "csv", True))
    assert reason.value.field == "reason"
    for count in ("0", "x", "10000000"):
        with pytest.raises(InvalidInput):
            export_for_download(office.backoffice.services, audit, admin,
                                ExportRequest(campaign, count, "csv"))
    download = export_for_download(office.backoffice.services, audit, admin,
                                   ExportRequest(campaign, "5", "csv", True, "partner asked"))
    assert download.path.exists() and download.result.owner_override
    lines = download.path.read_text().splitlines()
    assert len(lines) == 6
    download.discard()
    assert not download.path.parent.exists(), "no copy stays on the server"
    entry = audit.entries(admin, AuditFilter(action="export_override", limit=1))[0]
    assert "partner asked" in entry.detail and download.result.sha256 in entry.detail


def test_background_generation_reports_progress(office: Container) -> None:
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "operator")
    campaign = make_campaign(office, tenant, codes=0)
    jobs = office.backoffice.jobs
    with pytest.raises(InvalidInput):
        jobs.start(alice, campaign, "-1")
    with pytest.raises(InvalidInput):
        jobs.start(alice, campaign, "10", '{"length": "long"}')
    job = jobs.start(alice, campaign, "3000")
    deadline = time.monotonic() + 60
    while job.status == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job.status == "done" and job.percent == 100 and job.done == 3000
    owners = _sql(office, "SELECT DISTINCT gen_account_id FROM redeem_codes WHERE"
                  " tenant_id = :t AND campaign_id = :c", t=tenant, c=campaign)
    assert owners == [(alice.operator_id,)]
    bob = _principal(office, make_tenant(office), "operator")
    with pytest.raises(NotFound):
        jobs.get(bob, job.job_id)


def test_filtered_code_pages_read_a_bounded_stretch(office: Container, monkeypatch) -> None:
    from core.backoffice import codes as code_views

    monkeypatch.setattr(code_views, "SCAN_WINDOW", 100)
    tenant = make_tenant(office)
    alice = _principal(office, tenant, "viewer")
    campaign = make_campaign(office, tenant, codes=300)
    ids = [r[0] for r in _sql(office, "SELECT id FROM redeem_codes WHERE tenant_id = :t"
                              " ORDER BY id", t=tenant)]
    granted = [ids[10], ids[250]]
    _sql(office, "UPDATE redeem_codes SET status = 2, used_count = 1 WHERE tenant_id = :t"
         " AND id IN :ids", t=tenant, ids=tuple(granted))
    store = office.backoffice.operator_store
    seen, after, pages = [], 0, 0
    while after is not None:
        page = code_views.codes_page(office.backoffice.services, store, alice, campaign,
                                     status="granted",
                                     exported=None, after_id=after, limit=50)
        seen += [v.id for v in page.codes]
        assert all(v.status == "granted" for v in page.codes)
        assert page.scanned_to is not None and page.scanned_to <= max(after, ids[0] - 1) + 100
        after, pages = page.next_after_id, pages + 1
    assert seen == granted and pages == 3
    plain = code_views.codes_page(office.backoffice.services, store, alice, campaign,
                                  status=None, exported=None,
                                  after_id=0, limit=50)
    assert len(plain.codes) == 50 and plain.scanned_to is None


def test_operator_cli(base_settings: Settings, monkeypatch) -> None:
    import orjson
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("REDEEMFLOW_DATABASE_URL", base_settings.database_url)
    monkeypatch.setenv("REDEEMFLOW_REDIS_URL", base_settings.redis_url)
    monkeypatch.setenv("REDEEMFLOW_REDIS_KEY_PREFIX", base_settings.redis_key_prefix)
    runner = CliRunner()
    tenant, email = unique_id("T")[:20], f"{unique_id('cli')}@example.com"
    made = runner.invoke(app, ["operator", "create", "--tenant-id", tenant, "--email", email,
                               "--role", "viewer", "--json"])
    assert made.exit_code == 0, made.output
    password = orjson.loads(made.stdout)["password"]
    assert password and len(password) >= 12
    again = runner.invoke(app, ["operator", "create", "--tenant-id", tenant, "--email", email,
                                "--role", "viewer"])
    assert again.exit_code == 2 and "exists" in again.output
    piped = runner.invoke(app, ["operator", "create", "--email", "p" + email, "--role", "admin",
                                "--password-stdin", "--json"], input="a piped password 1\n")
    assert piped.exit_code == 0 and orjson.loads(piped.stdout)["password"] is None
    short = runner.invoke(app, ["operator", "create", "--email", "s" + email, "--role", "admin",
                                "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "12 characters" in short.output
    listed = runner.invoke(app, ["operator", "list", "--tenant-id", tenant, "--json"])
    assert [o["email"] for o in orjson.loads(listed.stdout)] == [email]
    reset = runner.invoke(app, ["operator", "reset-password", "--email", email])
    assert reset.exit_code == 0 and "one-time password" in reset.output
    disabled = runner.invoke(app, ["operator", "disable", "--email", email])
    assert disabled.exit_code == 0
    listed = runner.invoke(app, ["operator", "list", "--tenant-id", tenant, "--json"])
    assert orjson.loads(listed.stdout)[0]["status"] == "DISABLED"
    unknown = runner.invoke(app, ["operator", "disable", "--email", "nobody@example.com"])
    assert unknown.exit_code == 2
