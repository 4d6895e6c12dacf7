"""Google's discovery documents as the sandbox's contract: methods, parameters, schemas.

The documents are the ones bundled with googleapiclient, so the sandbox checks requests
against exactly what the client library believes the API to be.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from .errors import GoogleError

DOCUMENTS = ("calendar.v3", "gmail.v1", "meet.v2", "oauth2.v2", "cloudtasks.v2")

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_INTEGER = re.compile(r"-?\d+")
# RFC 3339: a date, "T", a time with optional fraction, and (for query parameters) an offset.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
# A protobuf Duration in JSON: seconds with an "s" ("3.5s").
_DURATION = re.compile(r"-?\d+(\.\d{1,9})?s")

# Where Google words a missing required body field its own way.
_MISSING_MESSAGES = {
    ("gmail.users.messages.send", "raw"): (
        "invalidArgument",
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
    ),
    ("calendar.events.insert", "end"): ("required", "Missing end time."),
    ("calendar.events.update", "end"): ("required", "Missing end time."),
}


@dataclass(frozen=True)
class Method:
    id: str
    api: str  # "calendar.v3"
    spec: dict[str, Any]

    @property
    def scopes(self) -> list[str]:
        return list(self.spec.get("scopes", []))


@cache
def document(name: str) -> dict[str, Any]:
    """The discovery document ``name`` ("calendar.v3") from the installed googleapiclient."""
    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / f"{name}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@cache
def methods() -> dict[str, Method]:
    """Every method of the sandbox's APIs, by discovery id."""
    found: dict[str, Method] = {}

    def walk(api: str, node: dict[str, Any]) -> None:
        for spec in node.get("methods", {}).values():
            found[spec["id"]] = Method(id=spec["id"], api=api, spec=spec)
        for child in node.get("resources", {}).values():
            walk(api, child)

    for api in DOCUMENTS:
        walk(api, document(api))
    return found


def method(method_id: str) -> Method:
    try:
        return methods()[method_id]
    except KeyError:
        raise LookupError(f"no discovery method {method_id!r}") from None


# -- query parameters ----------------------------------------------------------------------


def _invalid_param(name: str, value: str) -> GoogleError:
    return GoogleError(
        400,
        "invalid",
        f"Invalid value '{value}' for parameter '{name}'.",
        location=name,
        location_type="parameter",
    )


def convert_parameter(name: str, spec: dict[str, Any], value: str) -> Any:
    """One query parameter, checked against its discovery spec and converted to Python."""
    kind = spec.get("type", "string")
    fmt = spec.get("format")
    if "enum" in spec and value not in spec["enum"]:
        raise _invalid_param(name, value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise _invalid_param(name, value)
        return value == "true"
    if kind == "integer" or fmt in _INT_RANGES:
        if not _INTEGER.fullmatch(value):
            raise _invalid_param(name, value)
        number = int(value)
        low, high = _INT_RANGES.get(fmt or "int32", _INT_RANGES["int64"])
        if "minimum" in spec:
            low = max(low, int(spec["minimum"]))
        if "maximum" in spec:
            high = min(high, int(spec["maximum"]))
        if not low <= number <= high:
            raise _invalid_param(name, value)
        return number if kind == "integer" else value
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            raise _invalid_param(name, value) from None
    if fmt == "date-time":
        # Query timestamps must carry an offset (Calendar's timeMin/timeMax/updatedMin say so).
        match = _DATE_TIME.fullmatch(value)
        if match is None or match.group("offset") is None:
            raise _invalid_param(name, value)
        return value
    if fmt == "date" and not _is_date(value):
        raise _invalid_param(name, value)
    return value


def validate_query(m: Method, args: Any, path_params: dict[str, Any]) -> dict[str, Any]:
    """Check the query string (a werkzeug MultiDict) and return converted values.

    Repeated parameters come back as lists. Unknown names are refused, as Google's
    front end answers "Cannot bind query parameter".
    """
    doc = document(m.api)
    specs: dict[str, dict[str, Any]] = dict(doc.get("parameters", {}))
    specs.update(m.spec.get("parameters", {}))
    converted: dict[str, Any] = {}
    for name in args:
        spec = specs.get(name)
        if spec is None or spec.get("location") == "path":
            raise GoogleError(
                400,
                "invalid",
                f'Invalid JSON payload received. Unknown name "{name}": '
                f"Cannot bind query parameter. Field '{name}' could not be found in request "
                "message.",
                location=name,
            )
        values = args.getlist(name)
        if len(values) > 1 and not spec.get("repeated"):
            raise _invalid_param(name, values[1])
        items = [convert_parameter(name, spec, v) for v in values]
        converted[name] = items if spec.get("repeated") else items[0]
    for name, spec in specs.items():
        if not spec.get("required"):
            continue
        present = name in converted or (spec.get("location") == "path" and path_params.get(name))
        if not present:
            raise GoogleError(400, "required", f"Required parameter: {name}", location=name)
    return converted


# -- request bodies ------------------------------------------------------------------------


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_date_time(value: str) -> bool:
    # Bodies may omit the offset when a separate timeZone field says which zone is meant.
    if _DATE_TIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _is_base64(value: str) -> bool:
    # Google's "byte" fields accept both alphabets, with or without padding.
    padded = value + "=" * (-len(value) % 4)
    try:
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


class BodyValidator:
    """Checks a JSON request body against the method's ``request`` schema."""

    def __init__(self, m: Method) -> None:
        self.method = m
        self.schemas: dict[str, Any] = document(m.api).get("schemas", {})

    def validate(self, body: Any) -> None:
        ref = self.method.spec.get("request", {}).get("$ref")
        if ref is None:
            return
        root = ref[0].lower() + ref[1:]
        self._check(body, {"$ref": ref}, root, top=True)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        return schema

    def _fail(self, where: str, kind: str, value: Any) -> GoogleError:
        shown = json.dumps(value)[:60]
        return GoogleError(
            400,
            "invalid",
            f"Invalid value at '{where}' ({kind}), {shown}",
        )

    def _check(self, value: Any, schema: dict[str, Any], where: str, top: bool = False) -> None:
        schema = self._resolve(schema)
        kind = schema.get("type")
        fmt = schema.get("format")
        if value is None or kind == "any":
            # JSON null clears a field in Google's APIs (PATCH semantics); "any" is untyped.
            return
        if kind == "object":
            if not isinstance(value, dict):
                raise self._fail(where, "TYPE_MESSAGE", value)
            self._check_object(value, schema, where, top)
        elif kind == "array":
            if not isinstance(value, list):
                raise self._fail(where, "TYPE_LIST", value)
            for index, item in enumerate(value):
                self._check(item, schema.get("items", {}), f"{where}[{index}]")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise self._fail(where, "TYPE_BOOL", value)
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise self._fail(where, "TYPE_INT32", value)
            self._check_integer(value, fmt or "int32", where)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._fail(where, "TYPE_DOUBLE", value)
        elif kind == "string":
            self._check_string(value, fmt, schema, where)

    def _check_object(
        self, value: dict[str, Any], schema: dict[str, Any], where: str, top: bool
    ) -> None:
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                self._check(item, properties[key], f"{where}.{key}" if where else key)
            elif extra is not None:
                self._check(item, extra, f"{where}[{key}]")
            else:
                raise GoogleError(
                    400,
                    "invalid",
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                    "Cannot find field.",
                )
        if top:
            for key, prop in properties.items():
                required_for = prop.get("annotations", {}).get("required", [])
                if self.method.id in required_for and value.get(key) is None:
                    reason, message = _MISSING_MESSAGES.get(
                        (self.method.id, key), ("required", f"Missing {key}.")
                    )
                    raise GoogleError(400, reason, message, location=key)

    def _check_integer(self, value: int | str, fmt: str, where: str) -> None:
        if isinstance(value, str) and not _INTEGER.fullmatch(value):
            raise self._fail(where, f"TYPE_{fmt.upper()}", value)
        low, high = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
        if not low <= int(value) <= high:
            raise self._fail(where, f"TYPE_{fmt.upper()}", value)

    def _check_string(
        self, value: Any, fmt: str | None, schema: dict[str, Any], where: str
    ) -> None:
        # 64-bit integers travel as JSON strings, but Google's parser also takes numbers.
        if fmt in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
            self._check_integer(value, fmt, where)
            return
        if not isinstance(value, str):
            raise self._fail(where, "TYPE_STRING", value)
        if fmt in ("int64", "uint64"):
            self._check_integer(value, fmt, where)
        elif (
            (fmt in ("date-time", "google-datetime") and not _is_date_time(value))
            or (fmt == "date" and not _is_date(value))
            or (fmt == "google-duration" and not _DURATION.fullmatch(value))
        ):
            raise self._fail(where, "TYPE_STRING", value)
        elif fmt == "byte" and not _is_base64(value):
            raise GoogleError(
                400,
                "invalid",
                f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed for "
                f"{json.dumps(value)[:60]}",
            )
        elif "enum" in schema and value not in schema["enum"]:
            raise self._fail(where, "TYPE_ENUM", value)


def validate_body(m: Method, body: Any) -> None:
    """Raise GoogleError(400) when ``body`` does not fit the method's request schema."""
    BodyValidator(m).validate(body)
