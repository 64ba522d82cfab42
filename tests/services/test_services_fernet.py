"""The Fernet key: a 0600 file made on first need, or core.fernet_key; wrong keys never decrypt."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from taskkit.config import Settings, load_settings
from taskkit.errors import ConfigError, FernetKeyError
from taskkit.services.fernet import KEY_FILE, secret_box


def _settings(home: Path, fernet_key: str | None = None) -> Settings:
    env = {"TASKKIT_HOME": str(home)}
    if fernet_key is not None:
        env["TASKKIT__CORE__FERNET_KEY"] = fernet_key
    return load_settings(environ=env)


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    """The first box creates $TASKKIT_HOME/fernet_key (0600); later boxes reuse it."""
    box = secret_box(_settings(tmp_path))
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.encrypt("hunter22")
    assert "hunter22" not in token
    assert secret_box(_settings(tmp_path)).decrypt(token, "x") == "hunter22"


def test_a_wrong_key_is_a_clear_error_never_garbage(tmp_path: Path) -> None:
    """A token made under another key is refused with what it was and where the key came from."""
    token = secret_box(_settings(tmp_path / "a")).encrypt("hunter22")
    other = _settings(tmp_path / "b", Fernet.generate_key().decode())
    with pytest.raises(FernetKeyError) as caught:
        secret_box(other).decrypt(token, "variable 'pw'")
    message = str(caught.value)
    assert "Cannot decrypt variable 'pw'" in message
    assert "core.fernet_key from env TASKKIT__CORE__FERNET_KEY" in message


def test_rotating_keys_decrypts_old_tokens(tmp_path: Path) -> None:
    """core.fernet_key = "new,old" encrypts with new and still decrypts tokens of old."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = secret_box(_settings(tmp_path, old)).encrypt("v")
    rotated = secret_box(_settings(tmp_path, f"{new},{old}"))
    assert rotated.decrypt(token, "x") == "v"
    assert secret_box(_settings(tmp_path, new)).decrypt(rotated.encrypt("w"), "x") == "w"


def test_a_malformed_key_setting_or_file_is_one_clear_error(tmp_path: Path) -> None:
    """core.fernet_key that is not a Fernet key, or a damaged key file, say how to fix it."""
    with pytest.raises(ConfigError, match=r"core.fernet_key = <hidden>.*32 url-safe base64"):
        _settings(tmp_path, "not-a-key")
    (tmp_path / KEY_FILE).write_text("damaged")
    with pytest.raises(FernetKeyError, match="does not hold a Fernet key"):
        secret_box(_settings(tmp_path))
