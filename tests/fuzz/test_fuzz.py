"""The fuzz campaign, small: every route, hostile inputs, no 5xx, every refusal counted, every accepted input accounted for.

``make fuzz`` runs the same campaign long (tests/fuzz/campaign.py).
"""

from __future__ import annotations

import time

import pytest

from tests.fuzz.campaign import Campaign, environment, run, seed_secrets


@pytest.fixture()
def fuzz_stack(aws, monkeypatch):
    from tests.conftest import _reset_caches

    for key, value in environment({}).items():
        monkeypatch.setenv(key, value)
    _reset_caches()
    seed_secrets()
    yield
    _reset_caches()


def test_a_small_campaign_ends_without_a_5xx_and_with_every_input_accounted_for(fuzz_stack):
    campaign = Campaign()
    began = time.monotonic()
    run(campaign, max_examples=300, seconds=240)
    campaign.settle()
    report = campaign.report(time.monotonic() - began)
    print(report)
    assert sum(campaign.by_class.values()) >= 100, report
    assert not campaign.server_errors, report
    assert not campaign.uncounted_refusals(), report
    assert not campaign.unaccounted, report
