"""A small byte mutator: a seed changed a few times over (bytes flipped, set to edge values,
cut, repeated, removed, spliced with another seed). Driven by a `random.Random`, so a fixed seed
(or Hypothesis, through `st.randoms()`) gives the same inputs each time."""
from __future__ import annotations

import random

# values that sit on the edges parsers test: zero, sign bits, all ones, ASCII digits and quotes
EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x30, 0x39, 0x2D, 0x22, 0x5B, 0x7B)


def mutated(seeds: tuple[bytes, ...], rng: random.Random, max_changes: int = 4) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, max_changes)):
        rng.choice(MUTATIONS)(data, rng, seeds)
    return bytes(data)


def _position(data: bytearray, rng: random.Random) -> int:
    return rng.randrange(len(data) + 1)


def _flip_bit(data, rng, seeds):
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _edge_byte(data, rng, seeds):
    if data:
        data[rng.randrange(len(data))] = rng.choice(EDGE_BYTES)


def _random_bytes(data, rng, seeds):
    start = _position(data, rng)
    data[start:start + rng.randint(1, 8)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))


def _truncate(data, rng, seeds):
    del data[_position(data, rng):]


def _remove_range(data, rng, seeds):
    start = _position(data, rng)
    del data[start:start + rng.randint(1, 64)]


def _repeat_range(data, rng, seeds):
    start = _position(data, rng)
    piece = data[start:start + rng.randint(1, 64)]
    data[start:start] = piece * rng.randint(1, 8)


def _splice(data, rng, seeds):
    other = rng.choice(seeds)
    start, other_start = _position(data, rng), rng.randrange(len(other) + 1)
    data[start:] = other[other_start:other_start + rng.randint(1, 256)] + data[start:]


def _big_number(data, rng, seeds):
    """A digit run made long or a 32-bit field made huge: sizes, counts and offsets that lie."""
    start = _position(data, rng)
    data[start:start + 4] = rng.choice((b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"99999999999", b"-1", b"1e308"))


MUTATIONS = (_flip_bit, _edge_byte, _random_bytes, _truncate, _remove_range, _repeat_range, _splice, _big_number)
