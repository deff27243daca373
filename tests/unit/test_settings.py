"""``load_settings``: environment and overrides in, one clear error for bad values."""

from __future__ import annotations

import pytest

from core.errors import ConfigurationError, PermanentError
from core.settings import load_settings


def test_an_override_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDEEMFLOW_REDEEM_BATCH_SIZE", "50")
    assert load_settings().redeem_batch_size == 50
    assert load_settings(redeem_batch_size=7).redeem_batch_size == 7


def test_an_invalid_value_names_the_setting_and_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDEEMFLOW_REDEEM_BATCH_SIZE", "many")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redeem_batches_in_flight=0)
    message = str(caught.value)
    assert "redeem_batch_size (REDEEMFLOW_REDEEM_BATCH_SIZE)" in message
    assert "redeem_batches_in_flight (REDEEMFLOW_REDEEM_BATCHES_IN_FLIGHT)" in message
    assert "greater than or equal to 1" in message
    assert isinstance(caught.value, PermanentError)  # bad configuration is not retried
