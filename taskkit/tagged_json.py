"""JSON with tagged types: the XCom format that is safe to read anywhere.

Plain JSON loses tuples, sets, bytes, dates and non-str dict keys, and
pickle runs code when loaded. So values that JSON cannot hold exactly are
written as a small object `{"__taskkit__": <tag>, "v": ...}`; decoding turns
each tag back into its type and never runs code, except the `__init__` of an
attrs class or dataclass, which must already be importable by its name and
is checked to be one before it is called.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import math
import sys
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import decimal

# base64, dataclasses, decimal and uuid are imported where a value needs them (~5 ms
# together, most of a cold DAG.test()'s imports otherwise): a value of their types
# can only exist once its module is loaded, so an encoder looks in sys.modules.

TAG = "__taskkit__"
_MAX_DEPTH = 200


class UnsupportedValueError(TypeError):
    """A value (or a part of it) has a type tagged JSON cannot hold."""

    def __init__(self, type_name: str, path: str) -> None:
        super().__init__(type_name, path)
        self.type_name = type_name
        self.path = path


class MalformedValueError(ValueError):
    """Stored text is not tagged JSON this module wrote."""


def dumps(value: object) -> bytes:
    """Encode `value` as compact UTF-8 JSON; raises UnsupportedValueError naming the type."""
    return json.dumps(_encode(value, "value", 0)).encode()


def loads(data: bytes) -> object:
    """Decode what `dumps` wrote; raises MalformedValueError on anything else."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedValueError(f"not JSON: {exc}") from exc
    try:
        return _decode(document)
    except MalformedValueError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ArithmeticError, RecursionError) as exc:
        raise MalformedValueError(f"{type(exc).__name__}: {exc}") from exc


def _type_name(value: object) -> str:
    return _type_name_of(type(value))


def _type_name_of(kind: type) -> str:
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _tagged(tag: str, inner: object, **extra: object) -> dict[str, object]:
    return {TAG: tag, "v": inner, **extra}


def _encode(value: object, path: str, depth: int) -> object:
    if depth > _MAX_DEPTH:
        raise UnsupportedValueError("nesting deeper than 200 levels", path)
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else _tagged("float", repr(value))
    if type(value) is list:
        return [_encode(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if type(value) is dict:
        return _encode_dict(value, path, depth)
    if type(value) is tuple:
        return _tagged(
            "tuple", [_encode(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(value)]
        )
    if type(value) is set or type(value) is frozenset:
        items = [_encode(x, f"{path}{{}}", depth + 1) for x in value]
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))  # same value, same bytes
        return _tagged("set" if type(value) is set else "frozenset", items)
    encoder = (
        _SCALARS.get(type(value))
        or _SCALARS_BY_NAME.get(_type_name(value))
        or _subclass_scalar(value)
    )
    if encoder is not None:
        return _tagged(encoder[0], encoder[1](value))
    return _encode_object(value, path, depth)


def _subclass_scalar(value: object) -> tuple[str, Callable[[Any], object]] | None:
    """The encoder of the standard type a subclass extends (pendulum's DateTime, Date, Time
    and Duration, which Airflow DAGs return): it is read back as that plain type."""
    for base in (dt.datetime, dt.date, dt.time, dt.timedelta):  # datetime is a date: first
        if isinstance(value, base):
            return _SCALARS[base]
    return None


def _encode_dict(value: dict[object, object], path: str, depth: int) -> object:
    if all(type(k) is str for k in value) and TAG not in value:
        return {str(k): _encode(v, f"{path}[{k!r}]", depth + 1) for k, v in value.items()}
    pairs = [
        [_encode(k, f"{path} key", depth + 1), _encode(v, f"{path}[{k!r}]", depth + 1)]
        for k, v in value.items()
    ]
    return _tagged("dict", pairs)


def _encode_object(value: object, path: str, depth: int) -> object:
    kind = type(value)
    if isinstance(value, enum.Enum):
        _check_importable(kind, path)
        return _tagged("enum", value.name, cls=f"{kind.__module__}:{kind.__qualname__}")
    if attrs.has(kind):
        fields = {f.alias: getattr(value, f.name) for f in attrs.fields(kind) if f.init}
        tag = "attrs"
    elif (dataclasses := sys.modules.get("dataclasses")) and dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        tag = "dataclass"
    else:
        raise UnsupportedValueError(_type_name(value), path)
    _check_importable(kind, path)
    encoded = {k: _encode(v, f"{path}.{k}", depth + 1) for k, v in fields.items()}
    return _tagged(tag, encoded, cls=f"{kind.__module__}:{kind.__qualname__}")


def _check_importable(kind: type, path: str) -> None:
    """Only classes a reader can import by name are stored: decoding looks them up so."""
    name = f"{kind.__module__}:{kind.__qualname__}"
    try:
        found = _resolve(name)
    except MalformedValueError:
        found = None
    if found is not kind:
        raise UnsupportedValueError(
            f"{_type_name_of(kind)} (not importable by its name; DAG-file classes are not)", path
        )


def _encode_timedelta(value: dt.timedelta) -> list[int]:
    return [value.days, value.seconds, value.microseconds]


def _encode_time(value: dt.time) -> list[object]:
    return [value.isoformat(), value.fold]


def _encode_datetime(value: dt.datetime) -> list[object]:
    """An IANA zone is kept by name (its offset alone would lose DST rules), else the offset."""
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        return [value.replace(tzinfo=None).isoformat(), value.fold, value.tzinfo.key]
    return [value.isoformat(), value.fold, None]


def _b64encode(data: bytes | bytearray) -> str:
    import base64  # lazy, see the module's note

    return base64.b64encode(data).decode("ascii")


_SCALARS: dict[type, tuple[str, Callable[[Any], object]]] = {
    dt.datetime: ("datetime", _encode_datetime),
    dt.date: ("date", dt.date.isoformat),
    dt.time: ("time", _encode_time),
    dt.timedelta: ("timedelta", _encode_timedelta),
    bytes: ("bytes", _b64encode),
    bytearray: ("bytearray", _b64encode),
}
#: Types whose modules load lazily, by name, so that encoding need not import them.
_SCALARS_BY_NAME: dict[str, tuple[str, Callable[[Any], object]]] = {
    "decimal.Decimal": ("decimal", str),
    "uuid.UUID": ("uuid", str),
}


def _b64decode(inner: object) -> bytes:
    import base64  # lazy, see the module's note

    return base64.b64decode(_text(inner), validate=True)


# --- decoding ---------------------------------------------------------------------------


def _decode(node: object) -> object:
    if isinstance(node, list):
        return [_decode(item) for item in node]
    if not isinstance(node, dict):
        return node
    if TAG not in node:
        return {k: _decode(v) for k, v in node.items()}
    tag, inner = node[TAG], node.get("v")
    decoder = _DECODERS.get(tag) if isinstance(tag, str) else None
    if decoder is None:
        raise MalformedValueError(f"unknown type tag {tag!r}")
    if tag == "enum":
        return _decode_enum(node.get("cls"), inner)
    if tag in ("attrs", "dataclass"):
        return _decode_object(tag, node.get("cls"), inner)
    return decoder(inner)


def _seq(inner: object) -> list[object]:
    if not isinstance(inner, list):
        raise MalformedValueError("a tagged sequence must hold a list")
    return [_decode(item) for item in inner]


def _decode_dict(inner: object) -> dict[object, object]:
    pairs = _seq(inner)
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise MalformedValueError("a tagged dict must hold [key, value] pairs")
    return {_hashable(p[0]): p[1] for p in pairs}  # type: ignore[index]


def _hashable(key: object) -> object:
    hash(key)  # TypeError (a list key) surfaces as MalformedValueError
    return key


def _text(inner: object) -> str:
    if not isinstance(inner, str):
        raise MalformedValueError("expected text inside the tag")
    return inner


def _decode_float(inner: object) -> float:
    text = _text(inner)
    if text not in ("nan", "inf", "-inf"):
        raise MalformedValueError(f"bad float {text!r}")
    return float(text)


def _parts(inner: object, count: int) -> list[object]:
    if not isinstance(inner, list) or len(inner) != count:
        raise MalformedValueError(f"expected a list of {count} items inside the tag")
    return inner


def _fold(raw: object) -> int:
    if raw not in (0, 1) or type(raw) is not int:
        raise MalformedValueError("fold must be 0 or 1")
    return raw


def _decode_datetime(inner: object) -> dt.datetime:
    text, fold, zone = _parts(inner, 3)
    value = dt.datetime.fromisoformat(_text(text)).replace(fold=_fold(fold))
    if zone is None:
        return value
    if value.tzinfo is not None:
        raise MalformedValueError("a datetime with a zone name must be stored without an offset")
    try:
        return value.replace(tzinfo=zoneinfo.ZoneInfo(_text(zone)))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise MalformedValueError(f"unknown time zone {zone!r}") from exc


def _decode_time(inner: object) -> dt.time:
    text, fold = _parts(inner, 2)
    return dt.time.fromisoformat(_text(text)).replace(fold=_fold(fold))


def _decode_timedelta(inner: object) -> dt.timedelta:
    days, seconds, micro = _parts(inner, 3)
    if not (type(days) is int and type(seconds) is int and type(micro) is int):
        raise MalformedValueError("a timedelta holds three integers")
    return dt.timedelta(days=days, seconds=seconds, microseconds=micro)


def _decode_decimal(inner: object) -> decimal.Decimal:
    import decimal  # lazy, see the module's note

    try:
        return decimal.Decimal(_text(inner))
    except decimal.InvalidOperation as exc:
        raise MalformedValueError(f"bad decimal {inner!r}") from exc


def _decode_uuid(inner: object) -> object:
    import uuid  # lazy, see the module's note

    return uuid.UUID(_text(inner))


def _decode_object(tag: str, cls_name: object, inner: object) -> object:
    if not isinstance(cls_name, str) or ":" not in cls_name or not isinstance(inner, dict):
        raise MalformedValueError(f"a tagged {tag} object needs cls and a field mapping")
    kind = _resolve(cls_name)
    if tag == "attrs":
        ok = attrs.has(kind)
    else:
        import dataclasses  # lazy, see the module's note

        ok = dataclasses.is_dataclass(kind)
    if not isinstance(kind, type) or not ok:
        raise MalformedValueError(f"{cls_name} is not an {tag} class")
    fields = {str(k): _decode(v) for k, v in inner.items()}
    return kind(**fields)


def _decode_enum(cls_name: object, inner: object) -> object:
    if not isinstance(cls_name, str) or ":" not in cls_name:
        raise MalformedValueError("a tagged enum needs cls")
    kind = _resolve(cls_name)
    if not (isinstance(kind, type) and issubclass(kind, enum.Enum)):
        raise MalformedValueError(f"{cls_name} is not an enum")
    return kind[_text(inner)]


def _resolve(cls_name: str) -> Any:
    """The class named module:qualname; its module is imported only if not loaded yet."""
    module_name, qualname = cls_name.split(":", 1)
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise MalformedValueError(f"cannot import {module_name} for {cls_name}: {exc}") from exc
    target: Any = module
    if "<locals>" in qualname:
        raise MalformedValueError(f"{cls_name} is local to a function")
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise MalformedValueError(f"no class {cls_name}")
    return target


_DECODERS: dict[str, Callable[[object], object]] = {
    "float": _decode_float,
    "tuple": lambda inner: tuple(_seq(inner)),
    "set": lambda inner: set(_seq(inner)),
    "frozenset": lambda inner: frozenset(_seq(inner)),
    "dict": _decode_dict,
    "datetime": _decode_datetime,
    "date": lambda inner: dt.date.fromisoformat(_text(inner)),
    "time": _decode_time,
    "timedelta": _decode_timedelta,
    "decimal": _decode_decimal,
    "uuid": _decode_uuid,
    "bytes": _b64decode,
    "bytearray": lambda inner: bytearray(_b64decode(inner)),
    "enum": lambda inner: None,  # handled by _decode_enum (needs cls)
    "attrs": lambda inner: None,  # handled by _decode_object (needs cls)
    "dataclass": lambda inner: None,
}
