"""Passwords and secret-looking variables are *** in a try's log, as Airflow's masker does."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from taskkit import DAG, BashOperator, Connection, Variable, mask_secret, task
from taskkit.authoring import masking

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    masking.forget_secrets()
    yield
    masking.forget_secrets()


@pytest.mark.parametrize(
    "key", ["password", "DB_PASSWORD", "api-key", "slack_token", "my.secret", "private_key_pem"]
)
def test_keys_that_look_secret(key: str) -> None:
    """Keys containing Airflow's sensitive words (any case, any separator) are secret."""
    assert masking.should_mask(key)


@pytest.mark.parametrize("key", ["region", "bucket", "retries", "owner"])
def test_keys_that_do_not(key: str) -> None:
    """Ordinary keys are not."""
    assert not masking.should_mask(key)


def test_redact_hides_registered_values_and_skips_tiny_ones() -> None:
    """A registered value becomes ***, the longest first; 4-character values are not masked."""
    masking.mask_secret("hunter2hunter2")
    masking.mask_secret("hunter2")
    masking.mask_secret("abc")
    assert masking.redact("pw=hunter2hunter2 or hunter2, abc") == "pw=*** or ***, abc"


def test_secrets_read_in_a_task_are_masked_in_its_log() -> None:
    """A password, a secret variable, an error, a logging record and bash output show ***."""
    with DAG("masked", start_date=START, schedule=None) as dag:

        @task
        def leak() -> None:
            conn = Connection.get("db")
            token = Variable.get("api_token")
            region = Variable.get("region")
            print(f"connecting with {conn.password} and {token} in {region}")
            logging.getLogger("user").warning("token is %s", token)
            raise RuntimeError(f"login failed for {conn.password}")

        echo = BashOperator(
            task_id="echo",
            bash_command="echo {{ conn.db.password }} {{ var.value.api_token }}",
            trigger_rule="all_done",
        )
        leak() >> echo
    result = dag.test(
        variables={"api_token": "tok-0123456789", "region": "eu-central"},
        connections={"db": "postgres://u:s3cr3t-pw@h/db"},
    )
    log = result.logs("leak")
    assert "connecting with *** and *** in eu-central" in log
    assert "token is ***" in log
    assert "login failed for ***" in log
    assert "s3cr3t-pw" not in log
    assert "tok-0123456789" not in log
    assert "*** ***" in result.logs("echo")  # a subprocess's output is relayed masked too


def test_secret_values_in_extra_are_masked_but_others_not() -> None:
    """extra_dejson masks the values under secret-looking keys only."""
    conn = Connection(
        conn_id="x", conn_type="http", extra={"api_key": "k-987654", "zone": "zone-a1"}
    )
    assert conn.extra_dejson["zone"] == "zone-a1"
    assert masking.redact("k-987654 zone-a1") == "*** zone-a1"


def test_mask_secret_hides_a_value_a_task_computed() -> None:
    """`from taskkit import mask_secret` (Airflow's) hides any value from then on."""
    with DAG("own_secret", start_date=START, schedule=None) as dag:

        @task
        def derive() -> None:
            session = "session-" + "abcdef123"
            mask_secret(session)
            print("using", session)

        derive()
    assert "using ***" in dag.test().logs("derive")
