"""XCom values: tagged JSON by default, a signed pickle only when pickling is enabled.

Split from taskkit.serde so that storing or reading a JSON value (nearly every
XCom) never imports cloudpickle: a try's first return value, or a cold
DAG.test(), would pay ~10 ms for it. cloudpickle loads only to pickle a value,
pickle (~2 ms) only to pickle or load one, and hashlib/hmac (OpenSSL, ~2 ms)
only to sign or check one.
"""

from __future__ import annotations

import enum

from taskkit import tagged_json
from taskkit.errors import XComEncodeError, XComIntegrityError


class XComEncoding(str, enum.Enum):
    """How an XCom value's bytes are encoded; the metastore stores only JSON and PICKLE."""

    JSON = "json"  #: tagged JSON (taskkit.tagged_json): safe to read anywhere
    PICKLE = "pickle"  #: HMAC-SHA256 digest (32 bytes) + cloudpickle; verified before loading
    #: cloudpickle without a signature: what a try without the secret key produces, to be
    #: signed by the scheduler (`sign_xcom`), or what a verified value becomes (`verify_xcom`)
    #: on its way into a try. Never stored.
    UNSIGNED_PICKLE = "pickle-unsigned"


STORED_XCOM_ENCODINGS = frozenset({XComEncoding.JSON, XComEncoding.PICKLE})
_DIGEST = 32  # an HMAC-SHA256 digest's size


def encode_xcom(
    value: object, *, allow_pickle: bool, key: bytes | None
) -> tuple[bytes, XComEncoding]:
    """Encode an XCom value as tagged JSON, or (only if `allow_pickle`) as a pickle.

    With `key` the pickle is signed (PICKLE); without it, it is left for the
    scheduler to sign (UNSIGNED_PICKLE), so tries never need the key. Raises
    XComEncodeError naming the type and `core.enable_xcom_pickling`.
    """
    try:
        return tagged_json.dumps(value), XComEncoding.JSON
    except tagged_json.UnsupportedValueError as exc:
        if not allow_pickle:
            raise XComEncodeError(exc.type_name, exc.path, pickling=False) from None
        unsupported = exc
    import pickle  # lazy, as cloudpickle: see the module's note

    import cloudpickle

    try:
        pickled = bytes(cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # a lock, a socket, a generator...
        raise XComEncodeError(
            unsupported.type_name, unsupported.path, pickling=True, reason=str(exc)
        ) from None
    if key is None:
        return pickled, XComEncoding.UNSIGNED_PICKLE
    return sign_xcom(pickled, XComEncoding.UNSIGNED_PICKLE, key)


def sign_xcom(data: bytes, encoding: str, key: bytes) -> tuple[bytes, XComEncoding]:
    """Make a try's encoded value storable: sign an unsigned pickle; JSON passes unchanged."""
    kind = XComEncoding(encoding)
    if kind is XComEncoding.UNSIGNED_PICKLE:
        return _digest(key, data) + data, XComEncoding.PICKLE
    return data, kind


def verify_xcom(data: bytes, encoding: str, key: bytes) -> tuple[bytes, XComEncoding]:
    """Check a stored pickle's signature WITHOUT unpickling it, and strip the signature.

    The scheduler calls this before handing a stored value to a try, so the
    try can load it without holding the key. Raises XComIntegrityError.
    """
    kind = _stored_encoding(encoding)
    if kind is XComEncoding.JSON:
        return data, kind
    digest, pickled = data[:_DIGEST], data[_DIGEST:]
    import hmac  # lazy: see the module's note

    if len(data) < _DIGEST or not hmac.compare_digest(digest, _digest(key, pickled)):
        raise XComIntegrityError(
            "A stored XCom pickle failed its HMAC check and was not loaded: it was written "
            "with another secret key or altered in the database. Clear the task that "
            "pushed it (`taskkit tasks clear`) to have it pushed again."
        )
    return pickled, XComEncoding.UNSIGNED_PICKLE


def _digest(key: bytes, data: bytes) -> bytes:
    import hashlib  # lazy: see the module's note
    import hmac

    return hmac.new(key, data, hashlib.sha256).digest()


def decode_xcom(data: bytes, encoding: str, *, key: bytes | None) -> object:
    """Decode an XCom value: JSON anywhere; a pickle only once verified.

    A stored PICKLE is verified with `key` (required) before it is loaded;
    an UNSIGNED_PICKLE is loaded as is, so pass one only if it came from
    `verify_xcom` (the scheduler checked it). Raises XComIntegrityError.
    """
    try:
        kind = XComEncoding(encoding)
    except ValueError:
        raise XComIntegrityError(f"Unknown XCom encoding {encoding!r}.") from None
    if kind is XComEncoding.JSON:
        try:
            return tagged_json.loads(data)
        except tagged_json.MalformedValueError as exc:
            raise XComIntegrityError(f"A stored XCom value is not valid: {exc}.") from None
    if kind is XComEncoding.PICKLE:
        if key is None:
            raise XComIntegrityError("A pickled XCom value cannot be loaded without the key.")
        data, kind = verify_xcom(data, kind, key)
    import pickle  # lazy: see the module's note

    return pickle.loads(data)


def _stored_encoding(encoding: str) -> XComEncoding:
    if encoding not in STORED_XCOM_ENCODINGS:
        raise XComIntegrityError(
            f"XCom encoding {encoding!r} cannot be stored or read back; "
            "expected one of json, pickle."
        )
    return XComEncoding(encoding)
