"""Translate pydantic JSON Schemas into MongoDB ``$jsonSchema`` validators.

MongoDB accepts a subset of JSON Schema draft 4 with ``bsonType``: no
``$ref``, ``format``, ``default`` or ``const``. References are inlined and
JSON types mapped to BSON types (date-time strings become BSON dates).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_BSON_TYPES = {
    "string": ["string"],
    "integer": ["int", "long"],
    "number": ["double", "int", "long", "decimal"],
    "boolean": ["bool"],
    "null": ["null"],
    "array": ["array"],
    "object": ["object"],
}
_KEPT = ("description", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
         "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "required")


def _bson_types(node: dict[str, Any]) -> list[str]:
    if node.get("format") == "date-time":
        return ["date"]
    types = node["type"] if isinstance(node["type"], list) else [node["type"]]
    return [bson for json_type in types for bson in _BSON_TYPES[json_type]]


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _convert({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    out: dict[str, Any] = {key: node[key] for key in _KEPT if key in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if "type" in node:
        types = _bson_types(node)
        out["bsonType"] = types[0] if len(types) == 1 else types
    for combiner in ("anyOf", "oneOf", "allOf"):
        if combiner in node:
            members = [_convert(member, defs) for member in node[combiner]]
            simple = all(set(member) <= {"bsonType", "description"} for member in members)
            if combiner == "anyOf" and simple:
                listed = [m["bsonType"] if isinstance(m["bsonType"], list) else [m["bsonType"]] for m in members]
                merged = [bson for types in listed for bson in types]
                out["bsonType"] = list(dict.fromkeys(merged))
            else:
                out[combiner] = members
    if "properties" in node:
        out["properties"] = {name: _convert(sub, defs) for name, sub in node["properties"].items()}
    if "additionalProperties" in node:
        extra = node["additionalProperties"]
        out["additionalProperties"] = _convert(extra, defs) if isinstance(extra, dict) else extra
    if "items" in node:
        items = node["items"]
        out["items"] = _convert(items, defs) if isinstance(items, dict) else [_convert(i, defs) for i in items]
    if "prefixItems" in node:
        out["items"] = [_convert(item, defs) for item in node["prefixItems"]]
    return out


def mongo_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the ``$jsonSchema`` validator of ``model`` (documents as stored, ``_id`` included)."""
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    converted = _convert(schema, schema.get("$defs", {}))
    converted["title"] = schema.get("title", model.__name__)
    return converted
