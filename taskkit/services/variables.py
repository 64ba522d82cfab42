"""Variables: list, read, set, delete, import and export (the CLI, the API and tries call these).

Values are encrypted with the installation's Fernet key before they reach
the metastore and decrypted on the way out (services/fernet.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from taskkit import validation
from taskkit.authoring.masking import should_mask
from taskkit.errors import TaskkitError, VariableError, VariableNotFoundError
from taskkit.metastore.secrets import StoredVariable
from taskkit.services.json_files import read_object, write_private

if TYPE_CHECKING:
    from taskkit.metastore import Metastore
    from taskkit.services.fernet import SecretBox

_EXAMPLE = '{"key": "value", "other": {"value": {"a": 1}, "description": "..."}}'


@attrs.frozen
class VariableView:
    """A variable with its plain value."""

    key: str
    value: str = attrs.field(repr=False)
    description: str | None = None

    @property
    def is_sensitive(self) -> bool:
        """Whether the key looks secret, so its value is masked wherever it is shown."""
        return should_mask(self.key)


def _plain(stored: StoredVariable, box: SecretBox) -> VariableView:
    value = box.decrypt(stored.value, f"variable {stored.key!r}")
    return VariableView(stored.key, value, stored.description)


def _sealed(key: str, value: str, description: str | None, box: SecretBox) -> StoredVariable:
    validation.variable_key(key)
    validation.text(f"Variable {key!r}'s description", description)
    if "\x00" in value:
        raise VariableError(f"Variable {key!r}'s value must not contain NUL characters.")
    return StoredVariable(key, box.encrypt(value), description)


def list_variables(
    store: Metastore, box: SecretBox, *, limit: int | None = None, offset: int = 0
) -> tuple[list[VariableView], int]:
    """A page of variables by key, and how many there are in all."""
    page = store.list_variables(limit=limit, offset=offset)
    return [_plain(v, box) for v in page], store.count_variables()


def find_variable(store: Metastore, box: SecretBox, key: str) -> VariableView | None:
    """One variable, or None."""
    stored = store.get_variable(key)
    return None if stored is None else _plain(stored, box)


def get_variable(store: Metastore, box: SecretBox, key: str) -> VariableView:
    """One variable; VariableNotFoundError if there is none by that key."""
    found = find_variable(store, box, key)
    if found is None:
        raise VariableNotFoundError(key)
    return found


def set_variable(
    store: Metastore, box: SecretBox, key: str, value: str, description: str | None = None
) -> None:
    """Create or replace a variable."""
    store.put_variables([_sealed(key, value, description, box)])


def delete_variable(store: Metastore, key: str) -> None:
    """Delete a variable; VariableNotFoundError if there is none by that key."""
    if not store.delete_variable(key):
        raise VariableNotFoundError(key)


def read_variables_file(path: Path) -> dict[str, tuple[str, str | None]]:
    """A variables file, checked whole: key -> (stored text, description).

    The format is Airflow's: `{"key": value}`, where a value that is not a
    string is stored as JSON, and `{"key": {"value": ..., "description": ...}}`.
    """
    document = read_object(path, "variables", VariableError, _EXAMPLE)
    found: dict[str, tuple[str, str | None]] = {}
    for key, entry in document.items():
        value, description = entry, None
        if isinstance(entry, dict) and "value" in entry:
            value, description = entry["value"], entry.get("description")
        try:
            validation.variable_key(key)
            validation.text(f"Variable {key!r}'s description", description)
        except TaskkitError as exc:
            raise VariableError(f"In variables file {path}: {exc}") from None
        found[key] = (value if isinstance(value, str) else json.dumps(value, indent=2), description)
    return found


def import_variables(store: Metastore, box: SecretBox, path: Path) -> list[str]:
    """Create or replace every variable in the file, in one transaction; their keys."""
    wanted = read_variables_file(path)
    store.put_variables([_sealed(k, v, d, box) for k, (v, d) in wanted.items()])
    return list(wanted)


def export_variables(store: Metastore, box: SecretBox, path: Path) -> int:
    """Write every variable to the file (0600) in the format `import_variables` reads."""
    document: dict[str, Any] = {}
    for var in list_variables(store, box)[0]:
        value: Any = var.value
        try:
            decoded = json.loads(var.value)
        except json.JSONDecodeError:
            decoded = None
        if decoded is not None and not isinstance(decoded, str):
            value = decoded
        if var.description or (isinstance(value, dict) and "value" in value):
            document[var.key] = {"value": value, "description": var.description}
        else:
            document[var.key] = value
    write_private(path, document, "variables", VariableError)
    return len(document)
