"""`conf`: taskkit's settings read from DAG code, as Airflow's `airflow.configuration.conf`.

A DAG file or a task that calls `conf.get("core", "parallelism")` gets the
effective value `taskkit config get-value core parallelism` prints: defaults,
then $TASKKIT_HOME/taskkit.toml, then TASKKIT__SECTION__KEY variables, read
again at each call. Settings taskkit does not have (Airflow's `webserver`
section, a section of your own) raise AirflowConfigException with the
nearest name, unless a `fallback` is given, as in Airflow. Secrets (the
secret key, the Fernet key, Flower's password) are never handed to DAG code.
"""

from __future__ import annotations

from typing import Any

from taskkit.authoring.arguments import did_you_mean
from taskkit.config import load_settings, setting_is_secret, setting_names, shown_value
from taskkit.errors import AirflowConfigException

_UNSET: Any = object()
#: What Airflow's getboolean reads as true and as false.
_TRUE = frozenset({"t", "true", "1"})
_FALSE = frozenset({"f", "false", "0"})


class AirflowConf:
    """Airflow's `conf` methods over taskkit's settings (see the module's note)."""

    def has_option(self, section: str, key: str) -> bool:
        """Whether taskkit has this setting."""
        return _name(section, key) in setting_names()

    def get(self, section: str, key: str, fallback: Any = _UNSET, **_: Any) -> Any:
        """The setting's effective value as text ("" when unset), or `fallback` if taskkit has
        no such setting."""
        name = _name(section, key)
        if name not in setting_names():
            if fallback is not _UNSET:
                return fallback
            raise AirflowConfigException(
                f"taskkit has no setting {name!r}.{did_you_mean(name, setting_names())} "
                "`taskkit config list` shows every setting; pass fallback= for a default, or "
                "keep values of your own in a Variable (Variable.get)."
            )
        if setting_is_secret(name):
            raise AirflowConfigException(
                f"{name} is a secret: taskkit does not hand it to DAG code (docs/security.md)."
            )
        return shown_value(load_settings().get(name))

    def getboolean(self, section: str, key: str, fallback: Any = _UNSET, **_: Any) -> Any:
        """The setting as a bool, as Airflow reads one ("t", "true", "1" / "f", "false", "0")."""
        value = self.get(section, key, fallback=fallback)
        if value is fallback:
            return value
        text = value.lower().strip()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise AirflowConfigException(_not_a(section, key, value, "a bool (true or false)"))

    def getint(self, section: str, key: str, fallback: Any = _UNSET, **_: Any) -> Any:
        """The setting as an int."""
        return self._converted(section, key, fallback, int, "an integer")

    def getfloat(self, section: str, key: str, fallback: Any = _UNSET, **_: Any) -> Any:
        """The setting as a float."""
        return self._converted(section, key, fallback, float, "a number")

    def getsection(self, section: str) -> dict[str, str] | None:
        """Every setting of `section` (secrets left out) as text, or None if there is none."""
        prefix = section.lower() + "."
        names = [n for n in setting_names() if n.startswith(prefix) and not setting_is_secret(n)]
        if not names:
            return None
        settings = load_settings()
        return {n[len(prefix) :]: shown_value(settings.get(n)) for n in names}

    def _converted(self, section: str, key: str, fallback: Any, kind: type[Any], what: str) -> Any:
        value = self.get(section, key, fallback=fallback)
        if value is fallback:
            return value
        try:
            return kind(value)
        except ValueError:
            raise AirflowConfigException(_not_a(section, key, value, what)) from None


def _name(section: str, key: str) -> str:
    return f"{section.lower()}.{key.lower()}"


def _not_a(section: str, key: str, value: str, what: str) -> str:
    return f"Setting {_name(section, key)} = {value!r} is not {what}."


#: The object DAG files import: `from taskkit import conf`.
conf = AirflowConf()
