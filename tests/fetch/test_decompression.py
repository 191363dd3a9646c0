"""Content-coding decoders fed the way the network feeds them: in any split."""

from __future__ import annotations

import gzip
import zlib

import pytest

from watcher.fetch.decompression import CorruptBody, Decoder, TooLarge

TEXT = ("Türkiye ve Suriye savunma işbirliği anlaşması imzaladı. " * 400).encode()


def encoders():
    out = [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),
        (None, lambda b: b),
        ("gzip", lambda b: gzip.compress(b[:999]) + gzip.compress(b[999:])),
    ]
    try:
        import brotli

        out.append(("br", brotli.compress))
    except ImportError:  # pragma: no cover
        pass
    return out


def decode(encoding, data: bytes, limit: int, step: int) -> bytes:
    decoder = Decoder(encoding, limit)
    parts = [decoder.feed(data[i : i + step]) for i in range(0, len(data), step)]
    return b"".join(parts) + decoder.finish()


@pytest.mark.parametrize("encoding, encode", encoders())
@pytest.mark.parametrize("step", [1, 7, 4096, 10**9])
def test_any_split_decodes_the_same(encoding, encode, step):
    assert decode(encoding, encode(TEXT), len(TEXT), step) == TEXT


@pytest.mark.parametrize("encoding, encode", [e for e in encoders() if e[0]])
def test_one_byte_over_the_limit_is_too_large(encoding, encode):
    with pytest.raises(TooLarge):
        decode(encoding, encode(TEXT), len(TEXT) - 1, 4096)


def test_trailing_garbage_after_gzip_is_ignored():
    assert decode("gzip", gzip.compress(TEXT) + b"\0\0junk", len(TEXT), 100) == TEXT


def test_truncated_gzip_keeps_what_arrived():
    packed = gzip.compress(TEXT)
    partial = decode("gzip", packed[: len(packed) // 2], len(TEXT), 100)
    assert 0 < len(partial) < len(TEXT) and TEXT.startswith(partial)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_corrupt_data_names_the_coding(encoding):
    with pytest.raises(CorruptBody, match=f"not valid {encoding} data"):
        decode(encoding, b"\xff" * 64 + b"definitely not compressed" * 10, 10**6, 16)


def test_unknown_codings_pass_through():
    assert decode("compress, x-custom", b"raw bytes", 100, 3) == b"raw bytes"
