"""The echo object that ``scripts/autobahn`` serves to the Autobahn|Testsuite.

Every message goes straight back to its sender, text as text and bytes as bytes. The
limits are raised so the suite's largest cases fit: Autobahn sends messages of up to
16 MiB (cases 9.*), and echoing one needs a send buffer larger than that.
"""

from __future__ import annotations

from pathlib import Path

import hub

#: Autobahn's largest message (case 9.1.6 / 9.2.6) is 16 MiB.
MESSAGE_BYTES = 16 * 1024 * 1024


class Echo(hub.DurableObject):
    """Sends every message back on the socket it came from."""

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Echo ``message`` unchanged."""
        ws.send(message)


app = hub.Hub(
    {"ECHO": Echo},
    data_dir=Path(__file__).resolve().parent.parent / ".autobahn" / "data",
    limits=hub.Limits(message_bytes=MESSAGE_BYTES, outbox_bytes=4 * MESSAGE_BYTES),
)
