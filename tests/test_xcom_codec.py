"""XCom values: tagged JSON by default, signed pickles only when enabled, never unverified."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import pickle
import threading
import uuid

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskkit import tagged_json, xcom_codec
from taskkit.errors import XComEncodeError, XComIntegrityError
from taskkit.xcom_codec import XComEncoding

KEY = b"k" * 32


@attrs.frozen
class Point:
    """An attrs class, importable by its name."""

    x: int
    label: str = "p"
    _hidden: int = 0


@dataclasses.dataclass(frozen=True)
class Box:
    """A dataclass, importable by its name."""

    items: tuple[int, ...]
    when: dt.date


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.sampled_from(list(Color))
)
hashables = st.recursive(
    scalars.filter(lambda v: not isinstance(v, dt.datetime) or v.tzinfo is None),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.tuples(inner, inner)
        | st.frozensets(hashables, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.builds(Point, st.integers(), st.text())
        | st.builds(Box, st.lists(st.integers(), max_size=3).map(tuple), st.dates())
    ),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    """Equal, of the same types all the way down (1 == 1.0 == True must not hide a change)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold  # type: ignore[attr-defined]
    return a == b


# Nested values are slow to draw on a loaded machine: that is not a failure of the codec.
RELAXED = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@RELAXED
@given(values)
def test_every_supported_value_round_trips_as_json_with_its_types(value: object) -> None:
    """Any mix of the supported types comes back equal and of the same types, stored as JSON."""
    data, encoding = xcom_codec.encode_xcom(value, allow_pickle=False, key=None)
    assert encoding is XComEncoding.JSON
    assert _same(xcom_codec.decode_xcom(data, encoding, key=None), value)


@RELAXED
@given(values)
def test_equal_values_encode_to_equal_bytes(value: object) -> None:
    """Encoding is deterministic (sets are sorted), so a value's bytes do not depend on order."""
    assert tagged_json.dumps(value) == tagged_json.dumps(pickle.loads(pickle.dumps(value)))


def test_special_floats_and_tag_lookalike_keys_survive() -> None:
    """NaN/inf and a user dict that happens to use the tag key are kept as they were."""
    value = {"__taskkit__": "tuple", "v": [1]}
    decoded = xcom_codec.decode_xcom(tagged_json.dumps(value), "json", key=None)
    assert decoded == value
    floats = xcom_codec.decode_xcom(
        tagged_json.dumps([float("inf"), float("-inf")]), "json", key=None
    )
    assert floats == [float("inf"), float("-inf")]
    nan = xcom_codec.decode_xcom(tagged_json.dumps(float("nan")), "json", key=None)
    assert nan != nan  # noqa: PLR0124 - NaN is the one value not equal to itself


def test_a_plain_value_is_readable_json() -> None:
    """Plain data is stored as ordinary JSON, readable by any tool."""
    data, _ = xcom_codec.encode_xcom({"rows": 3, "names": ["a"]}, allow_pickle=False, key=None)
    assert data == b'{"rows": 3, "names": ["a"]}'


def test_pendulums_dates_are_stored_as_the_plain_values_they_extend() -> None:
    """A task that returns pendulum's DateTime, Date or Duration (as Airflow DAGs do) pushes
    JSON, read back as datetime, date and timedelta, equal to what it pushed."""
    pushed = {
        "at": pendulum.datetime(2026, 7, 1, 9, tz="Europe/Paris"),
        "utc": pendulum.instance(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)),
        "day": pendulum.date(2026, 1, 2),
        "took": pendulum.duration(hours=2),
    }
    data, encoding = xcom_codec.encode_xcom(pushed, allow_pickle=False, key=None)
    assert encoding is XComEncoding.JSON
    pulled = xcom_codec.decode_xcom(data, encoding, key=None)
    assert pulled == pushed
    assert [type(v) for v in pulled.values()] == [dt.datetime, dt.datetime, dt.date, dt.timedelta]
    assert pulled["at"].tzinfo.key == "Europe/Paris"  # the zone by name, not an offset


def test_unsupported_value_fails_naming_the_type_and_the_setting() -> None:
    """Without pickling, an object JSON cannot hold fails naming its type and the setting."""
    with pytest.raises(XComEncodeError) as caught:
        xcom_codec.encode_xcom({"lock": threading.Lock()}, allow_pickle=False, key=KEY)
    message = str(caught.value)
    assert "_thread.lock" in message
    assert "value['lock']" in message
    assert "core.enable_xcom_pickling" in message


def test_unpicklable_value_fails_even_with_pickling() -> None:
    """With pickling on, a value that neither JSON nor pickle can hold is still a clear error."""
    with pytest.raises(XComEncodeError, match="neither JSON nor picklable"):
        xcom_codec.encode_xcom(threading.Lock(), allow_pickle=True, key=KEY)


def test_local_classes_are_not_stored_as_json() -> None:
    """A dataclass defined inside a function cannot be found by name, so JSON refuses it."""

    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(XComEncodeError, match="not importable"):
        xcom_codec.encode_xcom(Local(1), allow_pickle=False, key=KEY)


class Opaque:
    """A plain class: only pickling can store it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.n == self.n

    __hash__ = None  # type: ignore[assignment]


def test_pickling_when_enabled_is_signed_and_verified() -> None:
    """With pickling on, other objects are pickled, signed and load only under the same key."""
    data, encoding = xcom_codec.encode_xcom(Opaque(3), allow_pickle=True, key=KEY)
    assert encoding is XComEncoding.PICKLE
    assert xcom_codec.decode_xcom(data, encoding, key=KEY) == Opaque(3)
    with pytest.raises(XComIntegrityError, match="HMAC"):
        xcom_codec.decode_xcom(data, encoding, key=b"x" * 32)
    with pytest.raises(XComIntegrityError):
        xcom_codec.decode_xcom(data, encoding, key=None)


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_a_crafted_pickle_row_is_never_loaded(capsys: pytest.CaptureFixture[str]) -> None:
    """A pickle written into the metastore without the key fails its check and runs nothing."""
    crafted = pickle.dumps(_Boom())
    for forged in (crafted, b"\0" * 32 + crafted, b""):
        with pytest.raises(XComIntegrityError):
            xcom_codec.decode_xcom(forged, "pickle", key=KEY)
    assert "pwned" not in capsys.readouterr().out


def test_a_try_without_the_key_gets_its_pickle_signed_by_the_scheduler() -> None:
    """A try pickles unsigned; the scheduler signs; the scheduler verifies without loading;
    the try loads the verified bytes: the key never has to reach the try."""
    data, encoding = xcom_codec.encode_xcom(Opaque(5), allow_pickle=True, key=None)
    assert encoding is XComEncoding.UNSIGNED_PICKLE
    stored, stored_as = xcom_codec.sign_xcom(data, encoding, KEY)
    assert stored_as is XComEncoding.PICKLE
    checked, checked_as = xcom_codec.verify_xcom(stored, stored_as, KEY)
    assert checked_as is XComEncoding.UNSIGNED_PICKLE
    assert xcom_codec.decode_xcom(checked, checked_as, key=None) == Opaque(5)
    json_data, json_as = xcom_codec.sign_xcom(b"[1]", "json", KEY)
    assert (json_data, json_as) == (b"[1]", XComEncoding.JSON)


@pytest.mark.parametrize(
    "text",
    [
        b"not json",
        b'{"__taskkit__": "nope", "v": 1}',
        b'{"__taskkit__": "tuple", "v": 3}',
        b'{"__taskkit__": "dict", "v": [[[1], 2]]}',
        b'{"__taskkit__": "attrs", "cls": "subprocess:Popen", "v": {"args": "true"}}',
        b'{"__taskkit__": "dataclass", "cls": "os:system", "v": {}}',
        b'{"__taskkit__": "enum", "cls": "tests.test_xcom_codec:Color", "v": "GREEN"}',
        b'{"__taskkit__": "bytes", "v": "***"}',
        b'{"__taskkit__": "timedelta", "v": ["a", 0, 0]}',
        b'{"__taskkit__": "attrs", "cls": "no_such_module_x:C", "v": {}}',
        b"[" * 100000,
    ],
)
def test_malformed_json_rows_are_refused_and_run_nothing(text: bytes) -> None:
    """A stored JSON value taskkit did not write is refused; no non-data class is ever called."""
    with pytest.raises(XComIntegrityError):
        xcom_codec.decode_xcom(text, "json", key=KEY)


def test_unknown_encoding_is_refused() -> None:
    """An encoding name taskkit does not know is refused, not guessed."""
    with pytest.raises(XComIntegrityError, match="Unknown XCom encoding"):
        xcom_codec.decode_xcom(b"x", "marshal", key=KEY)


def test_attrs_private_fields_and_enums_come_back() -> None:
    """attrs classes with private fields and enum members keep their exact type."""
    value = [
        Point(1, "a", hidden=5),
        Color.BLUE,
        Box((1, 2), dt.date(2026, 1, 2)),
        decimal.Decimal("1.10"),
    ]
    data, _ = xcom_codec.encode_xcom(value, allow_pickle=False, key=None)
    assert xcom_codec.decode_xcom(data, "json", key=None) == value
    assert uuid.UUID(int=5) == xcom_codec.decode_xcom(
        xcom_codec.encode_xcom(uuid.UUID(int=5), allow_pickle=False, key=None)[0], "json", key=None
    )
