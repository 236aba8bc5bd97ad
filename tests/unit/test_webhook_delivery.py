"""Webhook delivery's pure parts: the backoff's waits and the signature."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from serving.webhooks.delivery import retry_delay_s, signature
from serving.webhooks.store import WebhookInputError, validate_events, validate_url


@pytest.mark.parametrize("seed", range(20))
def test_waits_double_within_their_jitter_and_stop_growing_at_the_cap(seed: int) -> None:
    rng = random.Random(seed)
    waits = [retry_delay_s(n, base_s=10.0, max_s=300.0, rng=rng) for n in range(1, 10)]
    ceilings = [min(300.0, 10.0 * 2 ** (n - 1)) for n in range(1, 10)]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert waits[:5] == sorted(waits[:5]), "waits grow until the cap"
    assert max(waits) <= 300.0


def test_jitter_spreads_receivers_that_failed_together() -> None:
    rng = random.Random(1)
    waits = {round(retry_delay_s(3, base_s=10.0, max_s=3600.0, rng=rng), 3) for _ in range(50)}
    assert len(waits) > 40


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body, hashlib.sha256)
    assert signature("s3cret-s3cret-s3cret", 1_700_000_000, body) == "v1=" + expected.hexdigest()
    assert signature("s3cret-s3cret-s3cret", 1_700_000_001, body) != signature(
        "s3cret-s3cret-s3cret", 1_700_000_000, body
    )


@pytest.mark.parametrize(
    "url", ["https://crm.example.com/hooks", "http://127.0.0.1:8080/h?x=1", "HTTPS://crm.example"]
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert validate_url(f"  {url} ") == url


@pytest.mark.parametrize(
    "url", ["", "ftp://crm.example.com", "mailto:a@b.c", "https:///path", "//crm.example.com"]
)
def test_other_urls_are_refused_naming_the_url(url: str) -> None:
    with pytest.raises(WebhookInputError) as caught:
        validate_url(url)
    assert caught.value.field == "url"


def test_events_default_to_all_four_and_repeats_collapse() -> None:
    assert [str(e) for e in validate_events(None)] == [
        "lead.hot",
        "trigger.fired",
        "lead.new_in_speed_lane",
        "lead.opted_out",
    ]
    assert [str(e) for e in validate_events(["lead.hot", " lead.hot "])] == ["lead.hot"]
