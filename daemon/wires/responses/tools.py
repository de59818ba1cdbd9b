"""Responses ``tools`` / ``tool_choice`` → IR ``ToolSpec`` / ``ToolChoice`` (protocols.md §2.4, §4.2).

Owns the tool-kind decisions for a Responses client:

- ``function`` → ``ToolSpec(kind="function")``.
- ``custom`` (Codex's freeform ``apply_patch``) → ``ToolSpec(kind="custom", raw=tool)``; its
  translated form is a function with one string parameter ``input``, and the grammar (if any) is
  appended to ``description`` so a non-OpenAI model sees it.
- ``namespace`` → its functions/custom tools flattened into plain tools. A flattened tool keeps
  its own name unless another tool already has it (then ``<namespace>__<name>``); the mapping is
  kept in ``extra["tool_namespaces"]`` (``{flat_name: {"namespace", "name"}}``) so output items
  get their ``namespace`` back.
- Everything else (``web_search``, ``tool_search``, ``image_generation``, ``local_shell``, mcp, …)
  → ``ToolSpec(kind="builtin", raw=tool)``: forwarded to OpenAI, dropped deliberately elsewhere.

Does not render tools for any upstream (the upstream codecs do). No I/O.
"""

from __future__ import annotations

import re

from ...core.errors import InvalidRequest
from ...core.ir import JSON, ToolChoice, ToolChoiceMode, ToolSpec

NAMESPACE_KEY = "tool_namespaces"
INPUT_SCHEMA: JSON = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
_BAD_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_STRING_CHOICES: dict[str, ToolChoiceMode] = {"auto": "auto", "none": "none", "required": "any"}


def fail(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _name(tool: JSON, path: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise fail(f"{path}.name: field required (non-empty string)", f"{path}.name")
    return name


def _description(tool: JSON, path: str) -> str:
    description = tool.get("description")
    if description is None:
        return ""
    if not isinstance(description, str):
        raise fail(f"{path}.description: must be a string", f"{path}.description")
    return description


def custom_description(tool: JSON, description: str) -> str:
    """The description a translated custom tool carries: its own text plus its grammar."""
    fmt = tool.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") != "grammar":
        return description
    definition = fmt.get("definition")
    if not isinstance(definition, str) or not definition:
        return description
    syntax = fmt.get("syntax") if isinstance(fmt.get("syntax"), str) else "lark"
    note = (
        "Call this tool with a single string argument `input`, which must match "
        f"this {syntax} grammar:\n{definition}"
    )
    return f"{description}\n\n{note}" if description else note


def _one(tool: JSON, path: str) -> ToolSpec:
    kind = tool.get("type")
    if kind == "function":
        params = tool.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise fail(f"{path}.parameters: must be an object or null", f"{path}.parameters")
        strict = tool.get("strict")
        return ToolSpec(
            name=_name(tool, path),
            description=_description(tool, path),
            parameters=params if params is not None else {"type": "object", "properties": {}},
            kind="function",
            strict=strict if isinstance(strict, bool) else None,
            raw=tool,
        )
    if kind == "custom":
        description = custom_description(tool, _description(tool, path))
        return ToolSpec(
            name=_name(tool, path),
            description=description,
            parameters=dict(INPUT_SCHEMA),
            kind="custom",
            raw=tool,
        )
    if not isinstance(kind, str) or not kind:
        raise fail(f"{path}.type: field required (string)", f"{path}.type")
    name = tool.get("name")
    return ToolSpec(name=name if isinstance(name, str) and name else kind, kind="builtin", raw=tool)


def _flat_name(namespace: str, name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    return _BAD_NAME_CHARS.sub("_", f"{namespace}__{name}")[:64]


def parse_tools(raw: object, path: str, into: list[ToolSpec], extra: JSON) -> None:
    """Append the tools of a ``tools`` list (body or ``additional_tools`` item) to ``into``."""
    if raw is None:
        return
    if not isinstance(raw, list):
        raise fail(f"{path}: must be a list", path)
    taken = {t.name for t in into}
    for i, tool in enumerate(raw):
        tpath = f"{path}.{i}"
        if not isinstance(tool, dict):
            raise fail(f"{tpath}: must be an object", tpath)
        if tool.get("type") != "namespace":
            spec = _one(tool, tpath)
            if spec.kind == "builtin" or spec.name not in taken:
                into.append(spec)
                taken.add(spec.name)
            continue
        namespace = _name(tool, tpath)
        members = tool.get("tools")
        if not isinstance(members, list):
            raise fail(f"{tpath}.tools: must be a list", f"{tpath}.tools")
        mapping: JSON = extra.setdefault(NAMESPACE_KEY, {})
        for j, member in enumerate(members):
            mpath = f"{tpath}.tools.{j}"
            if not isinstance(member, dict):
                raise fail(f"{mpath}: must be an object", mpath)
            spec = _one(member, mpath)
            if spec.kind == "builtin":
                into.append(spec)
                continue
            original = spec.name
            spec.name = _flat_name(namespace, original, taken)
            taken.add(spec.name)
            mapping[spec.name] = {"namespace": namespace, "name": original}
            into.append(spec)


def flat_name_for(extra: JSON, namespace: object, name: str) -> str:
    """The flattened tool name for a history item that carries ``namespace`` + ``name``."""
    if not isinstance(namespace, str) or not namespace:
        return name
    for flat, origin in (extra.get(NAMESPACE_KEY) or {}).items():
        if origin.get("namespace") == namespace and origin.get("name") == name:
            return str(flat)
    return name


def parse_tool_choice(raw: object, parallel: object) -> ToolChoice | None:
    """``tool_choice`` + ``parallel_tool_calls`` → IR (hosted-tool choices become ``auto``)."""
    if parallel is not None and not isinstance(parallel, bool):
        raise fail("parallel_tool_calls: must be a boolean", "parallel_tool_calls")
    disable = parallel is False
    if raw is None:
        return ToolChoice(disable_parallel=True) if disable else None
    if isinstance(raw, str):
        mode = _STRING_CHOICES.get(raw)
        if mode is None:
            raise fail("tool_choice: must be 'auto', 'none', 'required' or an object", "tool_choice")
        return ToolChoice(mode=mode, disable_parallel=disable)
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise fail("tool_choice: must be a string or an object with a 'type'", "tool_choice")
    kind = raw["type"]
    if kind in ("function", "custom"):
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise fail("tool_choice.name: field required", "tool_choice.name")
        return ToolChoice(mode="tool", name=name, disable_parallel=disable)
    if kind == "allowed_tools" and raw.get("mode") == "required":
        return ToolChoice(mode="any", disable_parallel=disable)
    return ToolChoice(mode="auto", disable_parallel=disable)
