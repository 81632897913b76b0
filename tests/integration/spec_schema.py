"""The seeds' public OpenAPI description (reference/1claw-openapi.yaml, version 0.53.2, MIT) as a
contract the tests hold Coffer's answers to, with python3-jsonschema (Draft 2020-12, as OpenAPI 3.1
uses). Its official clients (the TypeScript and Python SDKs, the CLI, the MCP server) rely on it.

    body = spec_schema.check_request("POST", "/v1/auth/agent-token", {"api_key": key})
    token = spec_schema.check_response("POST", "/v1/auth/agent-token", r)

check_request validates a body the test is about to send against the operation's request schema
(so a test only ever sends what the spec allows a client to send) and returns it; check_response
checks that the status is one the operation declares and validates the JSON body against that
status's schema, and returns the parsed body. `path` is the spec's path template, verbatim.

The description writes OpenAPI 3.0's `nullable: true` in places; as its authors mean, such a schema
also admits null (it is rewritten to JSON Schema's `type: [T, "null"]` before validation, nothing
else is changed). `format` is not asserted (jsonschema's default).
"""
import copy
import functools
import json
import os

import jsonschema
import yaml

SPEC_PATH = os.path.join(os.path.dirname(__file__), "reference", "1claw-openapi.yaml")


def _admit_null(node):
    if isinstance(node, dict):
        if node.get("nullable") is True:
            t = node.get("type")
            if isinstance(t, str):
                node["type"] = [t, "null"]
            elif isinstance(t, list) and "null" not in t:
                node["type"] = t + ["null"]
            elif t is None and "enum" not in node:
                pass  # no type: null is already admitted
            if "enum" in node and None not in node["enum"]:
                node["enum"] = node["enum"] + [None]
        for v in node.values():
            _admit_null(v)
    elif isinstance(node, list):
        for v in node:
            _admit_null(v)


@functools.lru_cache(maxsize=1)
def spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    doc = copy.deepcopy(doc)
    _admit_null(doc["components"])
    _admit_null(doc["paths"])
    return doc


def operation(method, path):
    ops = spec()["paths"].get(path)
    assert ops is not None, f"the spec has no path {path}"
    op = ops.get(method.lower())
    assert op is not None, f"the spec has no {method} {path}"
    return op


def _deref(node):
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        parts = node["$ref"].lstrip("#/").split("/")
        node = spec()
        for p in parts:
            node = node[p]
    return node


def _validate(instance, schema, what):
    # The schema's $refs ("#/components/schemas/…") resolve against a root that holds the spec's
    # components, so the library resolves them itself.
    root = dict(schema)
    root["components"] = spec()["components"]
    validator = jsonschema.Draft202012Validator(root)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{what} does not match the spec's schema:"]
        for e in errors[:10]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            lines.append(f"  at {where}: {e.message[:300]}")
        raise AssertionError("\n".join(lines))


def schema_of(method, path, status=None):
    """The JSON schema of the request body (status None) or of the response with `status`."""
    op = operation(method, path)
    if status is None:
        body = _deref(op.get("requestBody"))
        assert body, f"{method} {path} takes no request body in the spec"
    else:
        responses = op.get("responses", {})
        body = responses.get(str(status))
        assert body is not None, (f"{method} {path} answered {status}; the spec declares only "
                                  f"{sorted(responses)}")
        body = _deref(body)
    content = body.get("content") or {}
    media = content.get("application/json")
    return None if media is None else media.get("schema")


def check_request(method, path, body):
    """Validates `body` against the operation's request schema; returns it unchanged."""
    schema = schema_of(method, path)
    assert schema is not None, f"{method} {path} takes no JSON body in the spec"
    _validate(body, schema, f"the request body of {method} {path}")
    return body


def check_response(method, path, response, status=None):
    """Checks the response's status (it must be `status` if given, and one the spec declares) and
    validates its JSON body against that status's schema; returns the parsed body (None if the
    spec's response has none)."""
    if status is not None:
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text[:300]}")
    schema = schema_of(method, path, response.status_code)
    if schema is None:
        return None
    body = json.loads(response.content)
    _validate(body, schema, f"the {response.status_code} answer of {method} {path}")
    return body


def check_schema(name, instance):
    """Validates `instance` against components/schemas/<name>."""
    _validate(instance, {"$ref": f"#/components/schemas/{name}"}, name)
    return instance
