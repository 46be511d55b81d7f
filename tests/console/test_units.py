"""Pure parts of the console: signing, links, language choice, charts, masking of raw inputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.console import i18n, links, session, signing
from chalicelib.console.charts import hourly_chart
from chalicelib.errors import ConsoleUnavailable
from chalicelib.runtime.settings import Settings, get_settings
from chalicelib.store.stats import HourCounts


@pytest.fixture()
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("SALESBRIDGE_CONSOLE_KEY", "unit-key")
    monkeypatch.setenv("SALESBRIDGE_STAGE", "local")
    signing.reset_cache()
    from chalicelib.runtime import settings as runtime_settings
    from chalicelib.runtime.secrets import default_resolver

    runtime_settings.reset_settings()
    default_resolver().clear()
    yield get_settings()
    signing.reset_cache()
    runtime_settings.reset_settings()
    default_resolver().clear()


def test_a_session_round_trips_and_any_change_breaks_it(settings: Settings) -> None:
    minted, value = session.mint_session(settings, "admin:alice", "operator", "admin_token", now=1000)
    assert session.read_session(settings, value, now=1001) == minted
    assert minted.expires == 1000 + session.SESSION_SECONDS
    assert session.read_session(settings, value, now=minted.expires) is None, "expired"
    body, signature = value.split(".")
    assert session.read_session(settings, f"{body}x.{signature}", now=1001) is None
    assert session.read_session(settings, f"{body}.{signature[::-1]}", now=1001) is None
    assert session.read_session(settings, "garbage", now=1001) is None
    with pytest.raises(ValueError):
        session.mint_session(settings, "admin", "root", "admin_token")  # type: ignore[arg-type]


def test_a_session_signed_with_another_key_or_for_another_purpose_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _, value = session.mint_session(settings, "admin", "operator", "admin_token", now=1000)
    body, signature = value.split(".")
    assert not signing.verify(settings, "customer-link/v1", body, signature), "keys are bound to their purpose"
    monkeypatch.setenv("SALESBRIDGE_CONSOLE_KEY", "rotated-key")
    signing.reset_cache()
    from chalicelib.runtime.secrets import default_resolver

    default_resolver().clear()
    assert session.read_session(settings, value, now=1001) is None, "rotating the key ends every session"


def test_csrf_tokens_are_bound_to_their_session(settings: Settings) -> None:
    first, _ = session.mint_session(settings, "admin", "operator", "admin_token")
    second, _ = session.mint_session(settings, "admin", "operator", "admin_token")
    token = session.csrf_token(settings, first)
    assert session.csrf_ok(settings, first, token)
    assert not session.csrf_ok(settings, second, token)
    assert not session.csrf_ok(settings, first, None)
    nonce, signed = session.login_csrf(settings)
    assert session.login_csrf_ok(settings, nonce, signed) and not session.login_csrf_ok(settings, nonce + "x", signed)


def test_only_the_local_stage_may_fall_back_to_a_fixed_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESBRIDGE_CONSOLE_KEY")
    signing.reset_cache()
    from chalicelib.runtime.secrets import default_resolver

    default_resolver().clear()
    assert signing.console_key(settings) == signing.LOCAL_FALLBACK_KEY
    signing.reset_cache()
    with pytest.raises(ConsoleUnavailable):
        signing.console_key(replace(settings, stage="prod"))


def test_customer_links_refuse_alteration_expiry_and_other_entities(settings: Settings) -> None:
    token = links.make_token(settings, "customer#cus_1", 2000)
    assert links.read_token(settings, token, now=1999) == links.CustomerLink("customer#cus_1", 2000)
    encoded, expires, signature = token.split(".")
    cases = {
        "expired": token,
        "tampered": f"{encoded}.{int(expires) + 1}.{signature}",
        "malformed": "not-a-link",
    }
    other = links.make_token(settings, "customer#cus_2", 2000).split(".")[0]
    cases_other = f"{other}.{expires}.{signature}"
    for reason, value in cases.items():
        with pytest.raises(links.LinkRefused) as refused:
            links.read_token(settings, value, now=2000)
        assert refused.value.reason == reason
    with pytest.raises(links.LinkRefused, match="tampered"):
        links.read_token(settings, cases_other, now=1000)
    order = links.make_token(settings, "order#ord_1", 5000)
    with pytest.raises(links.LinkRefused, match="malformed"):
        links.read_token(settings, order, now=1000)


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", None, "en"),
        ("zh-TW", None, "zh-CN"),
        ("fr-FR,de;q=0.9", None, "en"),
        ("en;q=0.2, zh;q=0.9", None, "zh-CN"),
        ("zh-CN;q=0", None, "en"),
        ("", None, "en"),
        (None, None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh-CN", "zh-CN"),
        ("en", "xx", "en"),
    ],
)
def test_the_customer_page_language(header: str | None, chosen: str | None, expected: str) -> None:
    assert i18n.negotiate(header, chosen) == expected


def test_every_text_exists_in_both_languages() -> None:
    assert set(i18n.TEXT["en"]) == set(i18n.TEXT["zh-CN"])
    from chalicelib.api.sovereignty import CATEGORIES

    assert set(i18n.CATEGORIES) == set(CATEGORIES)
    assert i18n.purpose_text("event:customer.grade_changed", "zh-CN") == "预警：客户等级变更"


def test_hourly_chart_stacks_outcomes_in_proportion() -> None:
    hours = [
        HourCounts("2026-11-25T08", {}),
        HourCounts("2026-11-25T09", {"received": 4, "applied": 2, "duplicate": 1, "quarantined": 1}),
        HourCounts("2026-11-25T10", {"received": 8, "applied": 8, "refused": 0}),
    ]
    chart = hourly_chart(hours)
    assert chart.peak == 8
    assert chart.totals == {"received": 12, "applied": 10, "duplicate": 1, "quarantined": 1, "refused": 0, "other": 0}
    full = [b for b in chart.bars if b.title.startswith("2026-11-25T10")]
    assert len(full) == 1 and full[0].height == pytest.approx(chart.baseline - 8, abs=0.2)  # the whole plot
    nine = [b for b in chart.bars if b.title.startswith("2026-11-25T09")]
    assert [b.series for b in nine] == ["applied", "duplicate", "quarantined"]
    assert sum(b.height for b in nine) == pytest.approx(full[0].height / 2, abs=0.3)
    assert nine[0].y + nine[0].height == pytest.approx(chart.baseline, abs=0.2), "stacked from the axis up"
    assert hourly_chart([HourCounts("2026-11-25T08", {})]).bars == []


def test_raw_inputs_show_only_what_the_mapping_declares_non_personal() -> None:
    from chalicelib.configuration import load_configuration
    from chalicelib.console.masking import Masker

    config = load_configuration(Path(__file__).resolve().parents[2])
    payload = {
        "event_id": "evt-1",
        "customer": {"id": "C-1", "name": "Acme", "tier": "Gold", "email": "a@b.example", "updated_at": "2026-11-01T00:00:00Z"},
        "notes": "call Mr Wang on 138 0000 0000",
    }
    shown = Masker(config, reveal=False).raw_input(payload, "demo_crm_customer")
    assert shown["customer"] | {"email": None} == {**payload["customer"], "email": None}
    assert str(shown["customer"]["email"]).startswith("masked:")
    assert str(shown["notes"]).startswith("masked:"), "a value no mapping path names is masked"
    assert str(Masker(config, reveal=False).raw_input(payload, None)["customer"]["id"]).startswith("masked:")
    assert Masker(config, reveal=True).raw_input(payload, "demo_crm_customer") == payload
