"""The metastore as a try sees it: opened on first use, from what the executor exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from taskkit.authoring.secrets import use_source
from taskkit.authoring.variables import Variable
from taskkit.config import load_settings
from taskkit.metastore import Metastore
from taskkit.services import variables
from taskkit.services.fernet import secret_box
from taskkit.services.secrets_source import MetastoreSecrets, try_environment


def test_a_try_opens_the_metastore_from_the_executors_environment(
    metastore: Metastore, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With try_environment's variables set, the source never parses taskkit.toml (which may
    hold core.secret_key): a broken file there does not matter."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    key = Fernet.generate_key().decode()
    settings = load_settings(
        environ={
            "TASKKIT_HOME": str(home),
            "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "TASKKIT__CORE__FERNET_KEY": key,
        }
    )
    variables.set_variable(metastore, secret_box(settings), "region", "eu-west")
    exported = try_environment(settings)
    assert exported["TASKKIT__CORE__FERNET_KEY"] == key
    (home / "taskkit.toml").write_text("this is [not toml")
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    source = MetastoreSecrets()
    try:
        with use_source(source):
            assert Variable.get("region") == "eu-west"
            Variable.set("written", "by a try")
            assert Variable.delete("region") is True
    finally:
        source.close()
    assert variables.get_variable(metastore, secret_box(settings), "written").value == "by a try"
    assert metastore.get_variable("region") is None
