"""The hub's errors all come from the one error table (protocol/SPEC.md §7.2)."""

from __future__ import annotations

import pytest

import hub.errors
import protocol
from hub.errors import HubError


def _subclasses(cls: type[HubError]) -> list[type[HubError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


@pytest.mark.parametrize("cls", [HubError, *_subclasses(HubError)], ids=lambda c: c.__name__)
def test_every_hub_error_has_a_row_in_the_one_table(cls: type[HubError]) -> None:
    row = protocol.ERRORS[cls.code]
    assert hub.errors.ERROR_CODES is protocol.ERRORS
    assert cls.http_status.fget is not None  # read from the table, not stored
    error = cls.__new__(cls)
    assert (error.http_status, error.retryable) == (row.status, row.retryable)


@pytest.mark.parametrize(
    ("cls", "close"),
    [
        (hub.errors.WebSocketProtocolError, 1002),
        (hub.errors.InvalidUtf8Error, 1007),
        (hub.errors.MessageTooBigError, 1009),
        (hub.errors.WebSocketInternalError, 1011),
    ],
)
def test_what_websocket_error_receives_names_the_close_code_that_was_sent(
    cls: type[hub.errors.WebSocketError], close: int
) -> None:
    assert cls("m").close_code == close == protocol.ERRORS[cls.code].close


def test_one_condition_has_one_code() -> None:
    from hub.net.http1 import BodyTooLargeError

    assert BodyTooLargeError.code == hub.errors.MessageTooBigError.code == "message_too_big"
    assert "frame_too_large" not in protocol.ERRORS
