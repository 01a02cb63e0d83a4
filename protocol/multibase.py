"""Multibase (base58btc `z`, base64url `u`) and the multicodec headers pcfx uses for keys."""

from __future__ import annotations

import base64

from pcfx.protocol.errors import MultibaseError

__all__ = [
    "ED25519_PRIV",
    "ED25519_PUB",
    "X25519_PUB",
    "b58decode",
    "b58encode",
    "multibase_decode",
    "multibase_encode_b58",
    "multibase_encode_b64url",
    "multicodec_unwrap",
    "multicodec_wrap",
]

# multicodec table varints: ed25519-pub 0xed, x25519-pub 0xec, ed25519-priv 0x1300
ED25519_PUB = b"\xed\x01"
X25519_PUB = b"\xec\x01"
ED25519_PRIV = b"\x80\x26"

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
# Two characters per step halves the Python-level loop on the verification hot path (88-char signatures).
_PAIR_INDEX = {a + b: i * 58 + j for a, i in _INDEX.items() for b, j in _INDEX.items()}


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 of `data`, keeping leading zero bytes as '1'."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    num = int.from_bytes(data, "big")
    out: list[str] = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of `b58encode`; raises MultibaseError on a character outside the alphabet."""
    zeros = len(text) - len(text.lstrip("1"))
    num = 0
    try:
        start = len(text) % 2
        if start:
            num = _INDEX[text[0]]
        pairs = _PAIR_INDEX
        for i in range(start, len(text), 2):
            num = num * 3364 + pairs[text[i : i + 2]]
    except KeyError as exc:
        raise MultibaseError(f"invalid base58btc character in {text[:16]!r}") from exc
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def multibase_encode_b58(data: bytes) -> str:
    """`z` + base58btc."""
    return "z" + b58encode(data)


def multibase_encode_b64url(data: bytes) -> str:
    """`u` + unpadded base64url (the encoding Bitstring Status List uses)."""
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def multibase_decode(text: str) -> bytes:
    """Decode a `z` (base58btc) or `u` (base64url, no padding) multibase string."""
    if not isinstance(text, str) or not text:
        raise MultibaseError("empty or non-string multibase value")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        return b58decode(body)
    if prefix == "u":
        if "=" in body or "+" in body or "/" in body:
            raise MultibaseError("base64url multibase must be unpadded URL-safe base64")
        try:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError as exc:
            raise MultibaseError(f"invalid base64url: {exc}") from exc
    raise MultibaseError(f"unsupported multibase prefix {prefix!r}")


def multicodec_wrap(codec: bytes, raw: bytes) -> str:
    """`z`-multibase of multicodec header + raw key bytes (the Multikey form)."""
    return multibase_encode_b58(codec + raw)


def multicodec_unwrap(value: str, codec: bytes, length: int) -> bytes:
    """Raw key bytes of a Multikey value; checks the codec header and the length."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise MultibaseError("a Multikey value must be base58btc multibase ('z' prefix)")
    data = b58decode(value[1:])
    if not data.startswith(codec) or len(data) != len(codec) + length:
        raise MultibaseError(f"not a {codec.hex()} multicodec key of {length} bytes")
    return data[len(codec) :]
