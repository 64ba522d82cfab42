"""Asset declarations and the pure evaluation of asset conditions."""

from __future__ import annotations

import pytest

from taskkit import Asset, AssetAlias, AssetAll, AssetAny
from taskkit.errors import AssetDefinitionError, DagDefinitionError
from taskkit.model.assets import as_condition, describe_condition

A, B, C = Asset("s3://b/a"), Asset("s3://b/b"), Asset("s3://b/c")


@pytest.mark.parametrize(
    ("condition", "fresh", "holds"),
    [
        (as_condition([A, B]), {A.uri}, False),
        (as_condition([A, B]), {A.uri, B.uri}, True),
        (A & B, {B.uri}, False),
        (A | B, {B.uri}, True),
        (A | B, set(), False),
        ((A & B) | C, {C.uri}, True),
        ((A & B) | C, {A.uri}, False),
        (A & (B | C), {A.uri, C.uri}, True),
        (A & (B | C), {B.uri, C.uri}, False),
        (A, {A.uri, B.uri}, True),
    ],
)
def test_a_condition_holds_exactly_when_its_assets_have_new_events(
    condition: AssetAll | AssetAny | Asset, fresh: set[str], holds: bool
) -> None:
    """& needs every part, | any part, and a list means all of them, as in Airflow."""
    assert condition.evaluate(fresh) is holds


def test_chained_operators_stay_flat_and_name_each_asset_once() -> None:
    """a & b & c is one AssetAll; iter_assets lists each asset once, in written order."""
    condition = A & B & C
    assert isinstance(condition, AssetAll)
    assert len(condition.objects) == 3
    assert [a.uri for a in ((A | B) & (B | C)).iter_assets()] == [A.uri, B.uri, C.uri]
    assert describe_condition((A & B) | C) == "((s3://b/a & s3://b/b) | s3://b/c)"


def test_uris_are_normalized_as_airflow_stores_them() -> None:
    """Scheme lower-cased, trailing slash, fragment and user info dropped, query sorted."""
    assert Asset("S3://user:pw@bucket/key/?b=2&a=1#frag").uri == "s3://bucket/key?a=1&b=2"
    assert Asset("plain-name").uri == "plain-name"  # no scheme: a name, kept as written
    assert Asset("s3://b/k") == Asset("s3://b/k/", extra={"other": 1})  # extra is not identity


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("s3://bucket/a key", "whitespace"),
        ("http://[::1/x", "not a valid URI"),
        ("http://host:port/x", "not a valid URI"),
        ("airflow://x/y", "reserved"),
        ("x" * 1501, "at most 1500"),
    ],
)
def test_an_invalid_uri_is_one_definition_error_saying_why(uri: str, fragment: str) -> None:
    """A bad URI fails where the asset is written, with the reason and the fix."""
    with pytest.raises(DagDefinitionError, match=fragment):
        Asset(uri)


def test_only_assets_combine_into_conditions() -> None:
    """A stray value in a schedule list is refused with what to write instead."""
    with pytest.raises(AssetDefinitionError, match="not an asset condition"):
        as_condition([A, "s3://b/b"])


def test_an_alias_holds_when_an_asset_it_resolved_to_has_a_new_event() -> None:
    """An alias stands for the assets events were added through it for (none: never holds)."""
    alias = AssetAlias("daily")
    condition = as_condition([A, alias])
    assert [a.name for a in condition.iter_aliases()] == ["daily"]
    assert not condition.evaluate({A.uri, B.uri})
    assert not condition.evaluate({A.uri, B.uri}, {"daily": {C.uri}})
    assert condition.evaluate({A.uri, C.uri}, {"daily": {B.uri, C.uri}})
    assert (alias | A).evaluate({B.uri}, {"daily": {B.uri}})


def test_refs_hold_through_the_assets_they_name() -> None:
    """Asset.ref(uri=...) holds on that URI's events (normalized); Asset.ref(name=...) on any
    known asset with that name; exactly one of name= and uri= is required."""
    by_uri = Asset.ref(uri="S3://lake/orders/")
    by_name = Asset.ref(name="orders")
    assert by_uri.evaluate({"s3://lake/orders"})
    assert not by_name.evaluate({"s3://lake/orders"})  # no known asset has that name yet
    assert (by_name & A).evaluate({A.uri, "s3://lake/orders"}, {}, {"orders": {"s3://lake/orders"}})
    assert list((by_name | by_uri | by_name).iter_refs()) == [by_name, by_uri]
    assert list(by_name.iter_assets()) == []  # a reference declares nothing
    assert describe_condition(by_name | by_uri) == "(ref:name=orders | ref:s3://lake/orders)"
    with pytest.raises(AssetDefinitionError, match="exactly one of name= or uri="):
        Asset.ref(name="a", uri="s3://b")
    with pytest.raises(AssetDefinitionError, match="exactly one of name= or uri="):
        Asset.ref()
