"""Typed errors: one class per stable code, flags from the table, the close-code policy."""

from __future__ import annotations

import pytest
import roost_client
from roost_client import errors

import protocol


@pytest.mark.parametrize("code", sorted(c for c, row in protocol.ERRORS.items() if row.in_frames))
def test_every_wire_code_has_a_class_with_the_tables_retryable_flag(code: str) -> None:
    cls = roost_client.CODES[code]
    error = cls("m")
    assert error.code == code
    assert error.retryable is protocol.ERRORS[code].retryable
    assert isinstance(error, roost_client.RoostError)


def test_an_error_frame_becomes_its_class_with_the_hubs_members() -> None:
    frame = protocol.Error(id=7, code="method_not_found", message="no method 'x'", retryable=False)
    error = errors.from_frame(frame)
    assert type(error) is roost_client.MethodNotFound
    assert (error.code, error.message, error.retryable, error.id) == (
        "method_not_found",
        "no method 'x'",
        False,
        7,
    )
    assert str(error) == "no method 'x'"


def test_an_unknown_code_keeps_its_code_and_the_hubs_flag() -> None:
    frame = protocol.Error(id=None, code="from_the_future", message="m", retryable=True)
    error = errors.from_frame(frame)
    assert type(error) is roost_client.RoostError
    assert (error.code, error.retryable, error.id) == ("from_the_future", True, None)


def test_client_only_codes_cannot_be_spoofed_as_their_classes_by_the_hub() -> None:
    frame = protocol.Error(id=1, code="connection_closed", message="m", retryable=False)
    assert type(errors.from_frame(frame)) is roost_client.RoostError


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (403, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_a_refused_handshake_is_retryable_only_for_transient_statuses(
    status: int, retryable: bool
) -> None:
    error = roost_client.HandshakeRejected("refused", status=status)
    assert (error.code, error.status, error.retryable) == ("handshake_rejected", status, retryable)


@pytest.mark.parametrize(
    ("code", "closed_by_client", "reconnects"),
    [
        (1000, False, False),
        (1000, True, False),
        (1001, False, True),
        (1002, False, False),
        (1006, False, True),
        (1007, False, False),
        (1008, False, True),
        (1009, False, False),
        (1011, False, True),
        (1011, True, False),
        (1012, False, True),
        (1013, False, True),
        (4000, False, False),
    ],
)
def test_reconnects_after_the_close_codes_of_spec_7_3(
    code: int, closed_by_client: bool, reconnects: bool
) -> None:
    assert errors.reconnects_after(code, closed_by_client=closed_by_client) is reconnects


def test_a_close_announced_by_an_error_frame_is_reported_as_that_error() -> None:
    announced = errors.from_frame(
        protocol.Error(id=None, code="message_too_big", message="too big", retryable=False)
    )
    error = errors.error_for_close(1009, "message too big", announced)
    assert type(error) is roost_client.MessageTooBig
    assert (error.close_code, error.retryable) == (1009, False)


def test_any_other_close_for_good_is_connection_closed_with_code_and_reason() -> None:
    unrelated = roost_client.BadFrame("earlier")
    error = errors.error_for_close(4001, "kicked", unrelated)
    assert isinstance(error, roost_client.ConnectionClosed)
    assert (error.code, error.close_code, error.reason, error.retryable) == (
        "connection_closed",
        4001,
        "kicked",
        False,
    )
    assert error.message == "connection closed with 4001 (closed by the object): 'kicked'"
    protocol_error = errors.error_for_close(1002, "", None)
    assert protocol_error.message == "connection closed with 1002 (protocol error)"


def test_a_1009_close_is_message_too_big_even_unannounced() -> None:
    error = errors.error_for_close(1009, "", None)
    assert type(error) is roost_client.MessageTooBig
    assert (error.close_code, error.message) == (
        1009,
        "connection closed with 1009 (message too big)",
    )
