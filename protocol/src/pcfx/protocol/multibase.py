"""Multibase (base58btc `z`, base64url `u`) and the multicodec headers pcfx uses for keys."""

from __future__ import annotations

import base64

import based58
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


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 of `data`, keeping leading zero bytes as '1'."""
    return based58.b58encode(data).decode("ascii")


def b58decode(text: str) -> bytes:
    """Inverse of `b58encode`; raises MultibaseError on a character outside the alphabet."""
    try:
        return based58.b58decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise MultibaseError(f"invalid base58btc in {text[:16]!r}: {exc}") from None


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
