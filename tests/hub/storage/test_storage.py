"""``ctx.storage`` helpers that need no running object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.errors import StorageError
from hub.storage.storage import to_epoch_ms


def test_alarm_times_are_epoch_milliseconds() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    assert to_epoch_ms(when) == 1_893_456_000_000
    assert to_epoch_ms(when.astimezone(timezone(timedelta(hours=5)))) == 1_893_456_000_000
    assert to_epoch_ms(1_893_456_000_000.4) == 1_893_456_000_000
    assert to_epoch_ms(0) == 0


@pytest.mark.parametrize("bad", [True, float("nan"), float("inf"), "soon", None])
def test_anything_else_is_refused(bad: object) -> None:
    with pytest.raises(StorageError, match="datetime or epoch milliseconds"):
        to_epoch_ms(bad)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(StorageError, match="timezone-aware"):
        to_epoch_ms(datetime(2030, 1, 1))
