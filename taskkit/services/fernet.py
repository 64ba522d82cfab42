"""Encryption at rest for variables and connection secrets: Fernet from `cryptography`.

The key is `core.fernet_key` when set (a comma-separated list rotates keys:
the first encrypts, each decrypts, as Airflow's MultiFernet), else the file
`$TASKKIT_HOME/fernet_key`, created with mode 0600 the first time a secret
is stored. A value encrypted under another key is refused with an error
naming the key's origin; it is never decrypted into garbage (Fernet tokens
are authenticated).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from taskkit.errors import FernetKeyError

if TYPE_CHECKING:
    from taskkit.config import Settings

KEY_FILE = "fernet_key"


class SecretBox:
    """Encrypts and decrypts text with this installation's Fernet key(s)."""

    def __init__(self, keys: list[bytes], origin: str) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self.origin = origin

    def encrypt(self, text: str) -> str:
        """The Fernet token of `text`."""
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str, what: str) -> str:
        """The text of a token; FernetKeyError naming `what` if the key does not fit."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise FernetKeyError(
                f"Cannot decrypt {what}: it was encrypted with another Fernet key than this "
                f"installation's ({self.origin}). Restore the key it was stored with (as "
                "core.fernet_key; a comma-separated list tries each), or store it again."
            ) from None


def secret_box(config: Settings) -> SecretBox:
    """The box for `config`: core.fernet_key, else the key file (created on first need)."""
    origin = f"core.fernet_key from {config.source_of('core.fernet_key')}"
    return box_for(config.core.fernet_key, config.home, origin)


def box_for(fernet_key: str | None, home: Path, origin: str = "core.fernet_key") -> SecretBox:
    """The box for a core.fernet_key value (None: the key file in `home`)."""
    if fernet_key:
        return SecretBox([k.strip().encode() for k in fernet_key.split(",")], origin)
    path = home / KEY_FILE
    return SecretBox([_key_file(path)], f"the key file {path}")


def _key_file(path: Path) -> bytes:
    """The key in `path`, created 0600 if missing.

    The new key is written to a private temporary file first and linked into
    place, so two processes starting at once agree on one key and neither can
    read a half-written file.
    """
    if not path.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fernet_key.")
            try:
                os.write(fd, Fernet.generate_key())
                os.close(fd)
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                Path(temporary).unlink()
        except OSError as exc:
            raise FernetKeyError(f"Cannot create the Fernet key file {path}: {exc}.") from None
    try:
        key = path.read_bytes().strip()
        Fernet(key)
    except OSError as exc:
        raise FernetKeyError(f"Cannot read the Fernet key file {path}: {exc.strerror}.") from None
    except ValueError:
        raise FernetKeyError(
            f"The Fernet key file {path} does not hold a Fernet key (32 url-safe base64 "
            "bytes). Restore it from your backup: secrets stored with it cannot be read without it."
        ) from None
    return key
