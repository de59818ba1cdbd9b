"""The configuration's value validators: raw value -> typed value, or ``Invalid``.

Each validator takes the raw value and whether it came from text (environment, CLI flags) and
returns the converted value or raises ``Invalid`` (what was expected) / ``InvalidAt`` (a nested
field's exact path). ``config_load`` maps dotted keys to them and merges the layers. Pure.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .core.config import mask_url_password
from .core.route_classes import ROUTE_CLASSES

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class Invalid(Exception):
    """Raised by a validator; the text says what was expected."""


Validator = Callable[[object, bool], object]
"""(raw value, came from text such as env/CLI) -> converted value, or raise ``Invalid``."""


def show(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def int_between(lo: int, hi: int | None) -> Validator:
    expected = f"an integer {lo}-{hi}" if hi is not None else f"an integer >= {lo}"

    def check(value: object, text: bool) -> object:
        if text and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise Invalid(expected) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(expected)
        if value < lo or (hi is not None and value > hi):
            raise Invalid(expected)
        return value

    return check


def seconds(*, allow_zero: bool) -> Validator:
    expected = "a number of seconds >= 0" if allow_zero else "a number of seconds > 0"

    def check(value: object, text: bool) -> object:
        if text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise Invalid(expected) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(expected)
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise Invalid(expected)
        if number < 0 or (number == 0 and not allow_zero):
            raise Invalid(expected)
        return number

    return check


def boolean(value: object, text: bool) -> object:
    if text and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def host_name(value: object, text: bool) -> object:
    expected = "a host name or IP address"
    if not isinstance(value, str):
        raise Invalid(expected)
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise Invalid(expected)
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise Invalid(expected + " (IPv6 literals without a port)") from None
    return host


def host_list(value: object, text: bool) -> object:
    if text and isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise Invalid("a list of host names")
    try:
        return tuple(str(host_name(item, text)).lower() for item in value)
    except Invalid:
        raise Invalid("a list of host names") from None


def log_level(value: object, text: bool) -> object:
    if not isinstance(value, str) or value.strip().lower() not in LOG_LEVELS:
        raise Invalid("one of " + ", ".join(LOG_LEVELS))
    return value.strip().lower()


def mode_name(value: object, text: bool) -> object:
    if value not in ("shadow", "live"):
        raise Invalid('"shadow" or "live"')
    return value


def fraction(value: object, text: bool) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise Invalid("a number from 0 to 1")
    return float(value)


HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def otlp_headers(value: object, text: bool) -> object:
    """``{"name": "value"}``: HTTP header names, values without line breaks."""
    expected = 'an object of header names to text values, e.g. {"x-team": "ops"}'
    if not isinstance(value, dict):
        raise Invalid(expected)
    for name, item in value.items():
        if not HEADER_NAME.fullmatch(name) or not isinstance(item, str) or "\r" in item or "\n" in item:
            raise Invalid(expected)
    return {str(name): str(item) for name, item in value.items()}


def otlp_protocol(value: object, text: bool) -> object:
    if value != "http/protobuf":
        raise Invalid('"http/protobuf" (the only OTLP protocol supported)')
    return value


DB_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def db_path(value: object, text: bool) -> object:
    expected = "a path to a .sqlite / .sqlite3 / .db file"
    if not isinstance(value, str) or not value.strip():
        raise Invalid(expected)
    path = Path(value.strip()).expanduser()
    if path.suffix.lower() not in DB_SUFFIXES:
        raise Invalid(expected)
    return path


def http_url(value: object, text: bool) -> object:
    expected = "an http:// or https:// URL"
    if value is None and not text:
        return None
    if not isinstance(value, str):
        raise Invalid(expected)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(expected)
    return value.strip().rstrip("/")


PG_SCHEMES = ("postgresql", "postgres")


def postgres_url(value: object, text: bool) -> object:
    """A libpq URL (``postgresql://user:password@host:5432/db``). The error never shows the
    value itself, only its masked form: the URL may carry a password."""
    key = "telemetry.postgres_url"
    if value is None and not text:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidAt(key, 'expected a PostgreSQL URL such as "postgresql://user@host:5432/db"')
    url = value.strip()
    shown = json.dumps(mask_url_password(url))
    expected = f'expected a PostgreSQL URL such as "postgresql://user@host:5432/db", got {shown}'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidAt(key, expected + " (a malformed host or port)") from None
    if parts.scheme not in PG_SCHEMES:  # maybe not a URL at all: the value is not shown
        scheme = f"{parts.scheme}://" if parts.scheme and "://" in url else "no scheme"
        raise InvalidAt(
            key,
            'expected a PostgreSQL URL such as "postgresql://user@host:5432/db" '
            f"(the scheme must be postgresql://, got {scheme})",
        )
    if not parts.hostname and "host=" not in parts.query:
        raise InvalidAt(key, expected + " (no host)")
    if port == 0 or any(c.isspace() for c in url):
        raise InvalidAt(key, expected)
    return url


GCP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def gcp_name(value: object, text: bool) -> object:
    """A Google Cloud project id or location (``my-project``, ``us-central1``, ``global``)."""
    if not isinstance(value, str) or not GCP_NAME.fullmatch(value.strip()):
        raise Invalid("a Google Cloud name (lower-case letters, digits and dashes)")
    return value.strip()


def file_path(value: object, text: bool) -> object:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a file path")
    return str(Path(value.strip()).expanduser())


TRANSLATE_WIRES = ("responses", "chat")


def translate_wire(value: object, text: bool) -> object:
    if value not in TRANSLATE_WIRES:
        raise Invalid('"responses" or "chat"')
    return value


def lane(value: object, text: bool) -> object:
    if value not in ("cheaper", "cheapest", "off"):
        raise Invalid('"cheaper", "cheapest" or "off"')
    return value


EFFORTS = ("minimal", "low", "medium")


def effort(value: object, text: bool) -> object:
    expected = f'an object of route class -> effort ({", ".join(EFFORTS)}), e.g. {{"cheap_edit": "low"}}'
    if not isinstance(value, dict):
        raise Invalid(expected)
    for name, effort in value.items():
        if name not in ROUTE_CLASSES:
            raise InvalidAt(
                f"routing.effort.{name}",
                f"unknown route class{suggest(str(name), ROUTE_CLASSES)} (known: {', '.join(ROUTE_CLASSES)})",
            )
        if effort not in EFFORTS:
            raise InvalidAt(
                f"routing.effort.{name}", f"expected one of {', '.join(EFFORTS)}, got {show(effort)}"
            )
    return {str(k): str(v) for k, v in value.items()}


class InvalidAt(Exception):
    """Raised by a validator of a nested object: ``path`` names the exact field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def suggest(dotted: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(dotted, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""
