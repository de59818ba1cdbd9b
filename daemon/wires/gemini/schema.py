"""A tool's JSON Schema → the OpenAPI-style ``Schema`` subset Gemini function declarations accept.

Kept: ``type`` (a ``[T, "null"]`` list becomes ``nullable``; other lists ``anyOf``), ``properties``,
``required``, ``items``, ``enum`` (strings), ``const`` (a one-value enum), ``description``, ``title``,
``format`` (only the values Gemini knows), ``nullable``, ``minimum``/``maximum``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``pattern``, ``minProperties``/``maxProperties``, ``default``,
``anyOf`` (``oneOf`` too: same shapes, looser count), ``propertyOrdering``; local ``$ref``s into
``$defs``/``definitions`` are inlined. Dropped, because they only narrow what is valid and the
client validates the call anyway: ``$schema``, ``$id``, ``$comment``, ``additionalProperties``,
``exclusiveMinimum``/``exclusiveMaximum``, ``multipleOf``, ``uniqueItems``, ``examples`` and other
annotations. Anything else changes what the model may produce and has no Gemini form (``not``,
``if``/``then``/``else``, ``allOf``, ``patternProperties``, tuple ``items``, a recursive or foreign
``$ref``, a non-string ``enum``): ``SchemaRefused`` names the tool and the field, and the request
is answered 400 instead of losing the tool. Pure.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidRequest

JSON = dict[str, Any]

_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_FORMATS = {"string": frozenset({"enum", "date-time"}), "integer": frozenset({"int32", "int64"})}
_FORMATS["number"] = frozenset({"float", "double"})
_COPY = (
    "description",
    "title",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "default",
    "propertyOrdering",
)
_DROP = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "additionalProperties",
        "unevaluatedProperties",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "examples",
        "example",
        "readOnly",
        "writeOnly",
        "deprecated",
        "contentEncoding",
        "contentMediaType",
        "propertyNames",
        "dependentRequired",
        "minContains",
        "maxContains",
        "strict",
    }
)
_MAX_DEPTH = 64


class SchemaRefused(InvalidRequest):
    """A tool schema Gemini cannot express (400, naming the tool and the field)."""


class _Converter:
    def __init__(self, tool: str, root: JSON) -> None:
        self.tool = tool
        defs = root.get("$defs")
        legacy = root.get("definitions")
        self.defs: JSON = {
            **(legacy if isinstance(legacy, dict) else {}),
            **(defs if isinstance(defs, dict) else {}),
        }

    def refuse(self, path: str, why: str) -> SchemaRefused:
        return SchemaRefused(
            f"tool {self.tool!r} cannot be sent to Gemini: its input schema at {path} {why}",
            param=f"tools.{self.tool}.{path}",
        )

    def convert(self, node: object, path: str, seen: tuple[str, ...] = ()) -> JSON:
        if len(seen) + path.count(".") > _MAX_DEPTH:
            raise self.refuse(path, "is nested too deeply")
        if node is True or node == {}:
            return {}
        if not isinstance(node, dict):
            raise self.refuse(path, "is not a schema object")
        if "$ref" in node:
            return self.ref(node, path, seen)
        for key in (
            "not",
            "if",
            "then",
            "else",
            "allOf",
            "patternProperties",
            "prefixItems",
            "dependentSchemas",
        ):
            if key in node:
                raise self.refuse(f"{path}.{key}", f"uses {key!r}, which Gemini function schemas lack")
        out: JSON = {}
        self.type_of(node, path, out)
        for key in _COPY:
            if key in node:
                out[key] = node[key]
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS.get(str(out.get("type")), frozenset()):
            out["format"] = fmt
        if node.get("nullable") is True:
            out["nullable"] = True
        self.enum(node, path, out)
        props = node.get("properties")
        if isinstance(props, dict):
            out["properties"] = {
                str(name): self.convert(sub, f"{path}.properties.{name}", seen) for name, sub in props.items()
            }
            required = node.get("required")
            if isinstance(required, list):
                out["required"] = [r for r in required if isinstance(r, str) and r in props]
        if "items" in node:
            items = node["items"]
            if isinstance(items, list):
                raise self.refuse(f"{path}.items", "is a tuple (a list of schemas)")
            out["items"] = self.convert(items, f"{path}.items", seen)
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if isinstance(options, list):
                self.any_of(options, f"{path}.{key}", seen, out)
        for key in node:
            if key not in out and key not in _DROP and key not in _COPY and key not in _KNOWN:
                if key.startswith("x-"):
                    continue
                raise self.refuse(f"{path}.{key}", f"uses {key!r}, which Gemini function schemas lack")
        return out

    def ref(self, node: JSON, path: str, seen: tuple[str, ...]) -> JSON:
        ref = node["$ref"]
        name = None
        if isinstance(ref, str):
            for prefix in ("#/$defs/", "#/definitions/"):
                if ref.startswith(prefix):
                    name = ref[len(prefix) :]
        if name is None or name not in self.defs:
            raise self.refuse(f"{path}.$ref", f"refers to {ref!r}, which is not a local definition")
        if name in seen:
            raise self.refuse(f"{path}.$ref", f"is recursive ({ref!r}), which Gemini cannot express")
        merged = {**self.defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return self.convert(merged, path, (*seen, name))

    def type_of(self, node: JSON, path: str, out: JSON) -> None:
        kind = node.get("type")
        if kind is None:
            if isinstance(node.get("properties"), dict):
                out["type"] = "object"
            elif "items" in node:
                out["type"] = "array"
            return
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or any(k not in _TYPES for k in kinds):
            raise self.refuse(f"{path}.type", f"is {kind!r}, not a JSON Schema type")
        real = [k for k in kinds if k != "null"]
        if len(real) < len(kinds):
            out["nullable"] = True
        if len(real) == 1:
            out["type"] = real[0]
        elif not real:
            raise self.refuse(f"{path}.type", "allows only null")
        else:
            out["anyOf"] = [{"type": k} for k in real]

    def enum(self, node: JSON, path: str, out: JSON) -> None:
        values: object = node.get("enum")
        if "const" in node:
            values = [node["const"]]
        if values is None:
            return
        if not isinstance(values, list) or not values:
            raise self.refuse(f"{path}.enum", "is not a non-empty list")
        strings = [v for v in values if isinstance(v, str)]
        nulls = [v for v in values if v is None]
        if len(strings) + len(nulls) != len(values) or not strings:
            raise self.refuse(f"{path}.enum", "has non-string values; Gemini enums are strings only")
        if nulls:
            out["nullable"] = True
        out["type"] = "string"
        out["format"] = "enum"
        out["enum"] = strings

    def any_of(self, options: list[object], path: str, seen: tuple[str, ...], out: JSON) -> None:
        converted: list[JSON] = []
        for i, option in enumerate(options):
            if isinstance(option, dict) and option.get("type") == "null" and len(option) == 1:
                out["nullable"] = True
                continue
            converted.append(self.convert(option, f"{path}[{i}]", seen))
        if len(converted) == 1 and "type" not in out:
            for key, value in converted[0].items():
                out.setdefault(key, value)
        elif converted:
            out["anyOf"] = [*out.get("anyOf", []), *converted]


_KNOWN = frozenset(
    {"type", "format", "enum", "const", "nullable", "properties", "required", "items", "anyOf", "oneOf"}
)


def function_parameters(tool: str, schema: JSON) -> JSON | None:
    """The ``parameters`` of a function declaration; None for a tool that takes no arguments."""
    converted = _Converter(tool, schema).convert(schema, "input_schema")
    if converted.get("type", "object") != "object":
        raise SchemaRefused(
            f"tool {tool!r} cannot be sent to Gemini: its input schema is not an object",
            param=f"tools.{tool}.input_schema.type",
        )
    if not converted.get("properties"):
        return None
    converted["type"] = "object"
    return converted


def response_schema(name: str, schema: JSON) -> JSON:
    """A JSON-schema output request's schema in Gemini's ``responseSchema`` dialect."""
    return _Converter(name, schema).convert(schema, "schema")
