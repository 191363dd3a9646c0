"""Undoing HTTP content codings (gzip, deflate, br) with a hard cap on output.

A few kilobytes of gzip can inflate to gigabytes ("zip bomb"), so bodies are
decoded chunk by chunk as they arrive, and decoding stops with ``TooLarge``
as soon as the output would pass the cap; memory stays near the cap.
Unknown codings are passed through unchanged (as browsers and most clients do).
"""

from __future__ import annotations

import zlib

from watcher.errors import WatcherError

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is a dependency
    brotli = None


def _brotli_can_cap() -> bool:
    """brotli >= 1.2 can bound its output; older versions cannot, so br is not offered."""
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except (AttributeError, TypeError):
        return False
    return True


_BROTLI = brotli is not None and _brotli_can_cap()

ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI else "gzip, deflate"
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 32 + zlib.MAX_WBITS  # 32: gzip or zlib header, auto-detected


class TooLarge(WatcherError):
    """The decoded body would be larger than the cap."""


class CorruptBody(WatcherError):
    """The body is not valid data for its Content-Encoding; the message says which."""


class Decoder:
    """Decodes one body: ``feed`` each raw chunk, then ``finish``.

    Every stage's output is capped at ``limit`` bytes in total."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        # Codings are listed in the order they were applied: undo them in reverse.
        self._stages = [stage for stage in map(_stage, reversed(codings)) if stage is not None]
        self._limit = limit
        self.decoded = 0

    def feed(self, data: bytes) -> bytes:
        for stage in self._stages:
            data = stage.feed(data, self._limit - stage.produced)
        return self._count(data)

    def finish(self) -> bytes:
        data = b""
        for stage in self._stages:
            data = stage.feed(data, self._limit - stage.produced) + stage.finish()
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self.decoded += len(data)
        if self.decoded > self._limit:
            raise TooLarge()
        return data


def _stage(coding: str) -> _Inflate | _Brotli | None:
    if coding in ("gzip", "x-gzip"):
        return _Inflate("gzip", _GZIP_WBITS)
    if coding == "deflate":
        return _Inflate("deflate", None)  # zlib-wrapped or raw: the first bytes tell
    if coding == "br" and _BROTLI:
        return _Brotli()
    return None


class _Inflate:
    def __init__(self, name: str, wbits: int | None) -> None:
        self._name = name
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None
        self._head = b""
        self.produced = 0

    def feed(self, data: bytes, room: int) -> bytes:
        if self._zlib is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            self._zlib = zlib.decompressobj(_deflate_wbits(self._head))
            data, self._head = self._head, b""
        stream = self._zlib
        out = bytearray()
        while data:
            limit = room - len(out) + 1
            out += self._decompress(stream, data, limit)
            if len(out) > room:
                raise TooLarge()
            data = stream.unconsumed_tail
            if not data:
                stream, data = self._next_member(stream)
        self.produced += len(out)
        return bytes(out)

    def finish(self) -> bytes:
        return b""  # a missing trailer is tolerated: the data so far is kept

    def _decompress(self, stream: zlib._Decompress, data: bytes, limit: int) -> bytes:
        try:
            return stream.decompress(data, limit)
        except zlib.error as exc:
            raise CorruptBody(f"the body is not valid {self._name} data ({exc})") from None

    def _next_member(self, stream: zlib._Decompress) -> tuple[zlib._Decompress, bytes]:
        """Concatenated gzip members are one body; anything else after the end is ignored."""
        tail = stream.unused_data if stream.eof else b""
        if self._name != "gzip" or len(tail) < 2 or not tail.startswith(_GZIP_MAGIC):
            return stream, b""
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        return self._zlib, tail


def _deflate_wbits(head: bytes) -> int:
    """'deflate' should be zlib-wrapped (RFC 9110) but some servers send raw
    deflate; a valid zlib header in the first two bytes decides."""
    cmf, flg = head[0], head[1]
    wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


class _Brotli:
    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()
        self.produced = 0

    def feed(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        while True:
            try:
                chunk = self._brotli.process(data, output_buffer_limit=room - len(out) + 1)
            except brotli.error as exc:
                raise CorruptBody(f"the body is not valid br data ({exc})") from None
            out += chunk
            if len(out) > room:
                raise TooLarge()
            data = b""
            if not chunk or self._brotli.is_finished() or self._brotli.can_accept_more_data():
                break
        self.produced += len(out)
        return bytes(out)

    def finish(self) -> bytes:
        return b""
