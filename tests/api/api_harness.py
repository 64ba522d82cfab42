"""The API test harness: a taskkit home with DAG files, users of each role, and a client."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import attrs
from fastapi.testclient import TestClient

from taskkit.api.app import create_app
from taskkit.api.tokens import TokenSigner
from taskkit.config import Settings, load_settings
from taskkit.metastore import Metastore, init_db
from taskkit.services import users
from taskkit.services.dag_versions import secret_key

ETL_DAG = """
import datetime as dt
from taskkit import BashOperator, Param, dag, task

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), tags=["demo", "etl"],
     params={"rows": Param(3, type="integer", minimum=1), "label": "x", "dry": False})
def etl():
    @task(pool="db", pool_slots=1, priority_weight=7)
    def extract() -> dict:
        print("extracting rows")
        return {"rows": 3}

    @task
    def load(data: dict) -> int:
        return data["rows"]

    notify = BashOperator(task_id="notify", bash_command="echo try {{ ti.try_number }}")
    load(extract()) >> notify

etl()
"""

OTHER_DAG = """
from taskkit import DAG, EmptyOperator
with DAG("other", tags=["misc"]):
    EmptyOperator(task_id="only")
"""

PASSWORDS = {"admin": "admin-pass-1", "op": "op-pass-12", "viewer": "viewer-pass"}


@attrs.define
class ApiHome:
    """One taskkit home with a metastore, DAG files, a user per role and an in-process client."""

    home: Path
    url: str
    config: Settings
    store: Metastore
    client: TestClient

    @property
    def dags(self) -> Path:
        """The DAGs folder."""
        return self.home / "dags"

    def write_dag(self, name: str, source: str) -> None:
        """Put a DAG file in the folder."""
        (self.dags / name).write_text(textwrap.dedent(source))

    def token(self, role: str) -> dict[str, str]:
        """Headers with a bearer token of the user named after `role`."""
        got = self.client.post("/auth/token", json={"username": role, "password": PASSWORDS[role]})
        assert got.status_code == 201, got.text
        return {"Authorization": f"Bearer {got.json()['access_token']}"}

    def signer(self) -> TokenSigner:
        """A signer with the server's key (to make expired tokens)."""
        return TokenSigner(secret_key(self.config))

    def env(self) -> dict[str, str]:
        """The environment for a taskkit process on this home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT__")}
        env["TASKKIT_HOME"] = str(self.home)
        env["TASKKIT__DATABASE__SQL_ALCHEMY_CONN"] = self.url
        return env

    def run_scheduler(self) -> None:
        """Run every queued run to the end with the real scheduler, in its own process."""
        done = subprocess.run(
            [sys.executable, "-m", "taskkit", "scheduler", "--exit-when-idle"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def get(self, url: str, role: str = "viewer", **kwargs: Any) -> Any:
        """GET with a token of `role`."""
        return self.client.get(url, headers=self.token(role), **kwargs)


def make_home(tmp_path: Path, url: str, monkeypatch: Any) -> ApiHome:
    """A fresh home on `url` with ETL_DAG and OTHER_DAG parsed and a user of each role."""
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    for var in list(os.environ):
        if var.startswith("TASKKIT__"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("TASKKIT_HOME", str(home))
    monkeypatch.setenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", url)
    init_db(url)
    config = load_settings()
    store = Metastore.open(url)
    for role, password in PASSWORDS.items():
        users.create_user(store, role, users.Role(role), password)
    store.set_pool("db", 1, "database connections")
    client = TestClient(create_app(config, store, live_interval=0.05))
    api = ApiHome(home, url, config, store, client)
    api.write_dag("etl.py", ETL_DAG)
    api.write_dag("other.py", OTHER_DAG)
    from taskkit.services.dags import sync_folder

    sync_folder(store, config)
    return api


def utc(*args: int) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(*args, tzinfo=dt.timezone.utc)
