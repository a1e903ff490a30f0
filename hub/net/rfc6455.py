"""What RFC 6455 asks of the server beyond websockets' sans-I/O ``ServerProtocol``.

Rules:

1. These are checks and mappings; websockets parses every frame but one kind.
   ``TextCheckingReader`` only watches the reads websockets' ``Frame.parse`` makes
   (head, length, mask, payload, in that order) to know the frame it is reading.
   The exception, ``hub.net.fastframes``: a whole message in one plain frame (FIN, no
   RSV bit, text or binary, masked, a 7- or 16-bit length within the limit, all of it
   received, valid UTF-8) is taken before websockets sees it, when
   ``ServerProtocol.takes_whole_frames`` says websockets' parser waits for a new frame
   with nothing buffered. websockets does nothing per such frame that a connection
   could miss (``recv_frame`` only queues it as an event), so its state stays true; the
   first frame of any other kind, and all after it, go to websockets as before. Why:
   websockets' generator parser and this reader's watching were about half of the
   server's instructions per echoed message (issue 15), which a bare websockets server
   pays too; taking the common frame directly is what gets the hub ahead of it.
2. An upgrade is refused here before the object sees it; the answer is JSON with a
   stable code, as every other HTTP error.
3. Invalid UTF-8 fails the connection as soon as it arrives (RFC 6455 §8.1), even in
   the middle of one frame still being received: a text payload waiting for more
   bytes is checked as far as it has come (Autobahn cases 6.4.3 and 6.4.4).
4. A socket opened by ``hub.net.handshake`` gets ``ServerProtocol.opened``: the same
   attributes as websockets' constructor gives (copied from one protocol built by it,
   so a websockets upgrade changes both), except that the parser generators, the
   reader and the uuid4 ``id`` are made when first used. Most sockets then never
   start a parser before their Close (the fast path takes their messages), and a
   parked socket keeps none: building them, and collecting them as garbage, was about
   a tenth of the server's CPU per upgrade (issue 15).
"""

from __future__ import annotations

import codecs
import logging
import uuid
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import websockets.server
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.streams import StreamReader
from websockets.utils import apply_mask

from hub.errors import (
    BadRequestError,
    HubError,
    InvalidUtf8Error,
    MessageTooBigError,
    MethodNotAllowedError,
    WebSocketError,
    WebSocketProtocolError,
)
from hub.net.answers import error_response
from hub.net.http1 import ParsedRequest

__all__ = ["ServerProtocol", "TextCheckingReader", "parser_problem", "refuse_upgrade"]


def parser_problem(error: Exception) -> WebSocketError:
    """What websockets' parser failed on, as the error the object gets."""
    if isinstance(error, PayloadTooBig):
        return MessageTooBigError(str(error))
    if isinstance(error, UnicodeDecodeError):  # a text payload or a close reason
        return InvalidUtf8Error(f"invalid UTF-8: {error.reason} at position {error.start}")
    return WebSocketProtocolError(str(error))


class ServerProtocol(websockets.server.ServerProtocol):
    """websockets' server side, except that a Close frame may end a fragmented message,
    and that text is checked as it arrives (``TextCheckingReader``).

    RFC 6455 §5.4 allows control frames between the fragments of a message; websockets
    fails the connection with 1002 ("incomplete fragmented message") when the one in
    between is a Close. Here the unfinished message is dropped and the closing
    handshake completes with the client's code (Autobahn case 7.1.5).
    """

    #: False until the reader exists (``opened`` makes it at its first use).
    reading = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The parser started on websockets' own reader in ``__init__``, before any data:
        # start it again on ours, as ``Protocol.__init__`` does (rule 3).
        self.reader = TextCheckingReader()
        self.parser = self.parse()
        next(self.parser)
        limits = [n for n in (self.max_message_size, self.max_fragment_size) if n is not None]
        #: The largest payload websockets accepts in a frame that starts a message.
        self.frame_limit = min(limits) if limits else _NO_LIMIT

    @classmethod
    def opened(cls, max_size: int, logger: logging.Logger) -> ServerProtocol:
        """An OPEN protocol for a handshake answered by ``hub.net.handshake`` (rule 4):
        what ``cls(state=OPEN, max_size=max_size, logger=logger)`` is, built from a
        copy of one such protocol, its parser and reader started at their first use."""
        fields = _OPENED.get((cls, max_size, logger))
        if fields is None:
            model = cls(state=OPEN, max_size=max_size, logger=logger)
            fields = [(n, v) for n, v in vars(model).items() if n not in _LAZY]
            _OPENED[(cls, max_size, logger)] = fields
        protocol = cls.__new__(cls)
        for name, value in fields:
            setattr(protocol, name, value.copy() if type(value) in _MUTABLE else value)
        protocol.reading = False
        protocol.debug = logger.isEnabledFor(logging.DEBUG)  # as at construction
        return protocol

    if not TYPE_CHECKING:  # mypy keeps websockets' declared attributes

        def __getattr__(self, name: str) -> Any:
            # Only for what ``opened`` left out (rule 4), made at the first use.
            if name == "reader" or name == "parser":
                self.reader = TextCheckingReader()
                self.reading = True
                try:  # ``fail`` sets ``parser`` (to discard input) before reading
                    object.__getattribute__(self, "parser")
                except AttributeError:
                    # Started on the empty reader, as websockets' ``__init__`` does.
                    self.parser = self.parse()
                    next(self.parser)
                return self.reader if name == "reader" else self.parser
            if name == "id":  # websockets' id for its logs: the uuid4 it makes
                self.id = uuid.uuid4()
                return self.id
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def takes_whole_frames(self) -> bool:
        """True when ``hub.net.fastframes`` may take frames before websockets (rule 1):
        open, no extension, no error or EOF, no fragmented message in progress, and the
        parser waiting for the first byte of a frame with nothing buffered."""
        if not (
            self.state is OPEN
            and not self.extensions
            and self.parser_exc is None
            and self.current_size is None
            and not self.debug  # websockets logs every frame it parses at DEBUG
        ):
            return False
        if not self.reading:
            return True  # nothing read by websockets yet: the next byte starts a frame
        reader = self.reader
        return isinstance(reader, TextCheckingReader) and reader.at_frame_start

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None
        super().recv_frame(frame)


_UTF8 = codecs.getincrementaldecoder("utf-8")
#: What ``ServerProtocol.opened`` copies, per class, size limit and logger.
_OPENED: dict[tuple[type[ServerProtocol], int, logging.Logger], list[tuple[str, Any]]] = {}
#: Left out of the copy, made at their first use (``ServerProtocol.__getattr__``).
_LAZY = frozenset({"id", "reader", "parser"})
#: Copied per protocol rather than shared (websockets' events, writes, extensions lists).
_MUTABLE = (list, dict, set, bytearray)
# What the next ``read_exact`` of ``Frame.parse`` reads.
_HEAD, _LENGTH, _MASK, _PAYLOAD = range(4)
_TEXT, _CONT, _CONTROL = Opcode.TEXT.value, Opcode.CONT.value, 0x8
#: A limit above any 16-bit length, for a protocol without ``max_size``.
_NO_LIMIT = 1 << 16


class TextCheckingReader(StreamReader):
    """websockets' stream reader that also checks text as it arrives (rule 3).

    A text payload that is all there already is left to the connection, which decodes
    every message (the common case costs one head parse per frame here). One that
    waits for more bytes is unmasked and decoded, so far as it came, with an
    incremental decoder; so is every fragment of a fragmented text message, so that the
    decoder's state runs on across fragments. Invalid UTF-8 raises
    ``UnicodeDecodeError``, which websockets turns into a 1007 close. Compressed
    messages (permessage-deflate) are not checked here.
    """

    __slots__ = ("_check", "_compressed", "_fin", "_mask", "_opcode", "_step", "_text")

    def __init__(self) -> None:
        super().__init__()
        self._step = _HEAD
        self._fin = True
        self._opcode = 0
        self._mask = b""
        #: A fragmented text message is in progress (its first frame was TEXT, not FIN).
        self._text = False
        #: The message in progress is compressed (RSV1 on its first frame).
        self._compressed = False
        #: The decoder checking the text message in progress, when one is needed.
        self._check: codecs.IncrementalDecoder | None = None

    def read_exact(self, n: int) -> Generator[None, None, bytearray]:
        # This runs four times per frame: bytes already there are taken without the
        # base class's generator (what it would do, one frame of Python less).
        step, buffer = self._step, self.buffer
        if step != _PAYLOAD:
            if len(buffer) >= n:
                data = buffer[:n]
                del buffer[:n]
            else:
                data = yield from super().read_exact(n)
            self._watch(step, data)
            return data
        opcode = self._opcode
        if opcode >= _CONTROL or self._compressed or not (opcode == _TEXT or self._text):
            if len(buffer) >= n:
                data = buffer[:n]
                del buffer[:n]
            else:
                data = yield from super().read_exact(n)
            self._step = _HEAD  # only once the payload is read: ``at_frame_start``
            return data
        check = self._check
        checked = 0
        while len(self.buffer) < n and not self.eof:
            have = len(self.buffer)
            if have > checked:
                if check is None:
                    check = self._check = _UTF8()
                check.decode(self._unmask(self.buffer[checked:have], checked), False)
                checked = have
            yield
        data = yield from super().read_exact(n)
        self._step = _HEAD
        if check is not None or not self._fin:  # fragments run on through one decoder
            if check is None:
                check = self._check = _UTF8()
            check.decode(self._unmask(data[checked:], checked), self._fin)
        if self._fin:
            self._text, self._check = False, None
        elif opcode == _TEXT:
            self._text = True
        return data

    @property
    def at_frame_start(self) -> bool:
        """True when nothing is buffered and the next read is a frame's head: the
        parser waits between frames, not inside one (``ServerProtocol.takes_whole_frames``)."""
        return self._step == _HEAD and not self.buffer and not self.eof

    def _unmask(self, data: bytearray, offset: int) -> bytes:
        shift = offset % 4
        mask = self._mask[shift:] + self._mask[:shift]
        return apply_mask(bytes(data), mask)

    def _watch(self, step: int, data: bytearray) -> None:
        """Note what ``Frame.parse`` just read of the frame's header."""
        if step == _HEAD:
            head1, head2 = data[0], data[1]
            self._fin = bool(head1 & 0x80)
            self._opcode = opcode = head1 & 0x0F
            if opcode == _TEXT or opcode == Opcode.BINARY.value:
                self._compressed = bool(head1 & 0x40)
                self._text, self._check = False, None  # a new message starts
            self._step = _LENGTH if head2 & 0x7F >= 126 else _MASK
        elif step == _LENGTH:
            self._step = _MASK
        else:
            self._mask, self._step = bytes(data), _PAYLOAD


def refuse_upgrade(request: ParsedRequest) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The answer to an upgrade request that RFC 6455 §4.1 rules out, else None."""
    if request.method != "GET":
        refusal: HubError = MethodNotAllowedError(
            f"a WebSocket upgrade must be a GET request, got {request.method!r}"
        )
        status, headers, body = error_response(refusal)
        return status, [("Allow", "GET"), *headers], body
    if request.version < (1, 1):
        major, minor = request.version
        refusal = BadRequestError(f"a WebSocket upgrade needs HTTP/1.1, got HTTP/{major}.{minor}")
        return error_response(refusal)
    return None
