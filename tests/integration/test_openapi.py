"""The OpenAPI document and the router agree, and the document is sound.

`skyvisord --list-routes` prints the router table (the only URL -> handler
map); the set of its operations must equal the set of (method, path)
operations in openapi/openapi.json.  Each operation also needs an
operationId, a success response and problem+json error responses, and every
$ref must resolve.  The served /openapi.json is the file itself.
"""

import json
import os
import re
import subprocess

from conftest import BUILD, ROOT

DOC_PATH = os.path.join(ROOT, "openapi", "openapi.json")
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def load_doc():
    with open(DOC_PATH) as f:
        return json.load(f)


def router_operations():
    out = subprocess.run([os.path.join(BUILD, "skyvisord"), "--list-routes"],
                         check=True, capture_output=True, text=True).stdout
    ops = set()
    for line in out.splitlines():
        method, path = line.split(" ", 1)
        # The router's rest-of-path placeholder {name*} is {name} in OpenAPI.
        ops.add((method, re.sub(r"\{(\w+)\*\}", r"{\1}", path)))
    return ops


def doc_operations(doc):
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def test_router_and_document_list_the_same_operations():
    router, doc = router_operations(), doc_operations(load_doc())
    assert router, "the router lists no operations"
    assert router == doc, (
        f"only in the router: {sorted(router - doc)}; only in openapi.json: {sorted(doc - router)}")


def test_every_operation_is_complete():
    doc = load_doc()
    seen_ids = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert op.get("operationId"), f"{where} has no operationId"
            assert op["operationId"] not in seen_ids, f"duplicate operationId at {where}"
            seen_ids.add(op["operationId"])
            codes = op["responses"].keys()
            assert any(c.startswith("2") for c in codes), f"{where} has no 2xx"
            errors = [c for c in codes if c[0] in "45"]
            assert errors, f"{where} documents no error response"
            for c in errors:
                r = op["responses"][c]
                if "$ref" in r:
                    r = resolve(doc, r["$ref"])
                assert "application/problem+json" in r["content"], f"{where} {c} is not problem+json"
            for param in re.findall(r"\{(\w+)\}", path):
                names = [resolve(doc, p["$ref"])["name"] if "$ref" in p else p["name"]
                         for p in op.get("parameters", [])]
                assert param in names, f"{where} does not declare path parameter {param}"


def resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def test_every_ref_resolves():
    doc = load_doc()
    refs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    refs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert len(refs) > 50
    for ref in refs:
        resolve(doc, ref)


def test_error_slugs_match_the_catalog():
    """The Problem schema's example slug exists, and every slug of the catalog
    is a valid URN suffix."""
    catalog = open(os.path.join(ROOT, "core", "errors.def")).read()
    slugs = re.findall(r'^SV_ERROR\(\w+,\s*\d+,\s*"([a-z-]+)"', catalog, re.M)
    assert "invalid-value" in slugs and len(slugs) > 20
    example = load_doc()["components"]["schemas"]["Problem"]["properties"]["type"]["examples"][0]
    assert example.rsplit(":", 1)[1] in slugs


def test_served_document_is_the_file(daemon):
    st, _, body = daemon.api(token=None).get("/openapi.json")
    assert st == 200
    assert body == load_doc()
