"""The OpenAPI document and the router agree, and the document is sound.

`skyvisord --list-routes` prints the router table (the only URL -> handler
map); the set of its operations must equal the set of (method, path)
operations in openapi/openapi.json.  Each operation also needs an
operationId, a success response and problem+json error responses, and every
$ref must resolve.  The served /openapi.json is the file itself, and a live
skyvisord's answers (one of every resource, a sample of every error class)
carry documented statuses, media types and headers, with bodies valid against
the document's schemas.
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


def test_document_is_canonically_formatted():
    """Hand-maintained but machine-stable: 2-space indent, keys in their
    written order, a final newline, so diffs stay small and reviewable."""
    with open(DOC_PATH) as f:
        text = f.read()
    doc = json.loads(text)
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n", (
        "openapi.json is not in canonical form; rewrite it with "
        "json.dumps(doc, indent=2, ensure_ascii=False) plus a newline")


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


# --- live answers conform to the document -------------------------------
#
# A small JSON Schema 2020-12 subset validator (stdlib only): the keywords
# openapi.json uses for response bodies.  Unknown keywords are ignored, so a
# schema feature added to the document without support here only weakens the
# check, it never fails it spuriously.

def schema_errors(doc, schema, value, where="$"):
    """Returns a list of "where: why" strings; empty when value conforms."""
    if "$ref" in schema:
        return schema_errors(doc, resolve(doc, schema["$ref"]), value, where)
    errs = []
    for sub in schema.get("allOf", []):
        errs += schema_errors(doc, sub, value, where)
    if "oneOf" in schema:
        ok = sum(not schema_errors(doc, s, value, where) for s in schema["oneOf"])
        if ok != 1:
            errs.append(f"{where}: matches {ok} oneOf branches")
    types = schema.get("type")
    if types is not None:
        kinds = {"object": dict, "array": list, "string": str, "boolean": bool,
                 "null": type(None), "integer": int, "number": (int, float)}
        types = types if isinstance(types, list) else [types]
        if not any(isinstance(value, kinds[t]) and not (t in ("integer", "number")
                   and isinstance(value, bool)) for t in types):
            return errs + [f"{where}: {value!r} is not {'|'.join(types)}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errs.append(f"{where}: {value!r} != {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errs.append(f"{where}: {value!r} !~ {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            errs += schema_errors(doc, schema.get("items", {}), v, f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errs += [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                errs += schema_errors(doc, props[k], v, f"{where}.{k}")
            elif extra is False:
                errs.append(f"{where}: undocumented property {k}")
            elif isinstance(extra, dict):
                errs += schema_errors(doc, extra, v, f"{where}.{k}")
    return errs


def documented_response(doc, method, path, status):
    """The response object the document gives for this concrete request."""
    for tmpl, item in doc["paths"].items():
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", tmpl), path.split("?")[0]):
            op = item.get(method.lower()) or item["get"]  # a 405 is on every operation
            r = op["responses"].get(str(status))
            assert r is not None, f"{method} {path}: {status} is not documented"
            return resolve(doc, r["$ref"]) if "$ref" in r else r
    raise AssertionError(f"{method} {path}: no such path in openapi.json")


def test_live_answers_match_the_document(daemon):
    """Drives one of every resource through create/read/list/patch/delete
    and a sample of every error class; each answer's status must be
    documented for its operation, its media type listed, its body valid
    against the schema, and documented headers present."""
    doc, admin = load_doc(), daemon.api()
    problems = []

    def call(method, path, body=None, api=admin, **kw):
        st, hdrs, resp = api.request(method, path, body, **kw)
        r = documented_response(doc, method, path, st)
        ct = hdrs.get("content-type", "").split(";")[0]
        if "content" not in r:
            assert not resp, f"{method} {path} {st}: undocumented body {resp!r}"
        else:
            assert ct in r["content"], f"{method} {path} {st}: {ct} not in {list(r['content'])}"
            schema = r["content"][ct].get("schema")
            if schema is not None and isinstance(resp, (dict, list)):
                problems.extend(f"{method} {path} {st} {e}"
                                for e in schema_errors(doc, schema, resp))
        for h in r.get("headers", {}):
            if h not in ("ETag", "Location") or st in (200, 201):
                assert h.lower() in hdrs, f"{method} {path} {st}: no {h} header"
        return st, hdrs, resp

    n = "/v1/tenants/oa-t/networks/oa-n"
    for method, path, body, want in [
        ("GET", "/healthz", None, 200), ("GET", "/readyz", None, 200),
        ("GET", "/metrics", None, 200), ("GET", "/openapi.json", None, 200),
        ("POST", "/v1/clouds", {"name": "oa-c1", "provider": "aws", "region": "eu-west-1",
                                "jurisdiction": "IE", "kind": "public",
                                "cost_per_hour": "0.25", "labels": {"team": "net"}}, 201),
        ("POST", "/v1/clouds", {"name": "oa-c2", "provider": "gcp", "region": "eu",
                                "jurisdiction": "DE", "kind": "private"}, 201),
        ("POST", "/v1/hosts", {"name": "oa-gw", "cloud": "oa-c1", "role": "gateway",
                               "tunnel_ip": "10.0.0.1", "public_ip": "198.51.100.1",
                               "ovsdb": "unix:/tmp/oa.sock",
                               "openflow": "unix:/tmp/oa.mgmt"}, 201),
        ("POST", "/v1/hosts", {"name": "oa-h", "cloud": "oa-c1", "tunnel_ip": "10.0.0.2",
                               "ovsdb": "tcp:127.0.0.1:6640",
                               "controller": "tcp:127.0.0.1:6653"}, 201),
        ("GET", "/v1/clouds", None, 200), ("GET", "/v1/clouds/oa-c1", None, 200),
        ("PATCH", "/v1/clouds/oa-c2", {"cost_per_hour": "1.5"}, 200),
        ("GET", "/v1/hosts?limit=1", None, 200), ("GET", "/v1/hosts/oa-h", None, 200),
        ("PATCH", "/v1/hosts/oa-h", {"capacity": 4}, 200),
        ("PUT", "/v1/cloud-links/oa-c2/oa-c1", {"cost": 2.5, "rtt_ms": 12}, 201),
        ("PUT", "/v1/cloud-links/oa-c1/oa-c2", {"cost": 3, "bandwidth_mbps": 100}, 200),
        ("GET", "/v1/cloud-links", None, 200),
        ("GET", "/v1/cloud-links/oa-c1/oa-c2", None, 200),
        ("POST", "/v1/tenants", {"name": "oa-t"}, 201),
        ("GET", "/v1/tenants", None, 200), ("GET", "/v1/tenants/oa-t", None, 200),
        ("POST", "/v1/tenants/oa-t/networks", {"name": "oa-n", "subnet": "10.1.0.0/24"}, 201),
        ("GET", "/v1/tenants/oa-t/networks", None, 200), ("GET", n, None, 200),
        ("PATCH", n, {"labels": {"env": "test"}}, 200),
        ("POST", n + "/switches", {"name": "s1"}, 201),
        ("POST", n + "/switches", {"name": "s2"}, 201),
        ("GET", n + "/switches", None, 200), ("GET", n + "/switches/s1", None, 200),
        ("PATCH", n + "/switches/s2", {"labels": {"k": "v"}}, 200),
        ("POST", n + "/links", {"a": "s2", "b": "s1", "bandwidth_mbps": 100}, 201),
        ("GET", n + "/links", None, 200), ("GET", n + "/links/s1--s2", None, 200),
        ("PATCH", n + "/links/s1--s2", {"bandwidth_mbps": 200}, 200),
        ("POST", n + "/vms", {"name": "vm1", "mac": "02:00:00:00:00:01", "ip": "10.1.0.2",
                              "switch": "s1", "placement": {"cloud": "oa-c1"}}, 201),
        ("POST", n + "/vms", {"name": "vm2", "mac": "02:00:00:00:00:02", "ip": "10.1.0.3",
                              "switch": "s2", "placement": {"jurisdiction": ["IE"]}}, 201),
        ("GET", n + "/vms", None, 200), ("GET", n + "/vms/vm1", None, 200),
        ("PATCH", n + "/vms/vm2", {"labels": {"k": "v"}}, 200),
        ("POST", n + "/vms/vm1/snapshots", {"name": "sn1"}, 202),
        ("GET", n + "/vms/vm1/snapshots", None, 200),
        ("GET", n + "/vms/vm1/snapshots/sn1", None, 200),
        ("GET", n + "/vms/vm1/stats", None, 200),
        ("POST", n + "/vms/vm1/migrations", {"host": "oa-gw"}, 202),
        ("GET", n + "/vms/vm1/migrations", None, 200),
        ("GET", n + "/vms/vm1", None, 200),
        ("POST", n + "/vms/vm1/stop", None, 409),
        ("POST", n + "/vms/vm2/stop", {"snapshot": "at-stop"}, 202),
        ("POST", n + "/vms/vm2/start", None, 409),
        ("DELETE", n + "/vms/vm1/snapshots/sn1", None, 204),
        ("GET", n + "/status", None, 200),
        ("POST", n + "/batch", {"operations": [
            {"op": "create", "kind": "switch", "body": {"name": "s3"}},
            {"op": "update", "kind": "switch", "target": "s3", "body": {"labels": {}}},
            {"op": "delete", "kind": "switch", "target": "s3"}]}, 200),
        ("POST", n + "/batch", {"operations": [
            {"op": "create", "kind": "vm", "body": {"name": "vm9"}}]}, 422),
        # one of each error class
        ("POST", "/v1/clouds", {"name": "oa-c3"}, 400),
        ("PATCH", "/v1/clouds/oa-c1", {"id": "x"}, 400),
        ("GET", "/v1/clouds?limit=0", None, 400),
        ("GET", "/v1/clouds/oa-nope", None, 404),
        ("DELETE", "/v1/clouds/oa-c1", None, 409),
        ("PATCH", "/v1/clouds", {"name": "x"}, 405),
        ("DELETE", n + "/vms/vm2", None, 204),
        ("DELETE", n + "/links/s1--s2", None, 204),
        ("DELETE", "/v1/cloud-links/oa-c1/oa-c2", None, 204),
    ]:
        st, _, resp = call(method, path, body)
        assert st == want, f"{method} {path}: {st} {resp}"
        if path == "/v1/tenants" and method == "POST":
            tenant = daemon.api(resp["token"])

    mig = call("GET", n + "/vms/vm1/migrations")[2]["items"][0]["id"]
    assert call("GET", f"{n}/vms/vm1/migrations/{mig}")[0] == 200
    assert call("POST", f"{n}/vms/vm1/migrations/{mig}/activate")[0] == 202
    assert call("DELETE", f"{n}/vms/vm1/migrations/{mig}")[0] == 202
    assert call("POST", f"{n}/vms/vm1/migrations/{mig}/activate")[0] == 409
    assert call("GET", "/v1/clouds", token=None)[0] == 401
    assert call("GET", "/v1/clouds", api=tenant)[0] == 403
    assert call("GET", n, api=tenant)[0] == 200
    assert call("PATCH", "/v1/hosts/oa-h", {"capacity": 5},
                headers={"If-Match": '"r999999"'})[0] == 412
    assert call("POST", "/v1/tenants", None, raw=b"name=x", content_type="text/plain")[0] == 415
    assert call("POST", "/v1/tenants", None, raw=b"{" + b" " * (1 << 20) + b"}")[0] == 413
    key = {"Idempotency-Key": "oa-key-1"}
    assert call("POST", "/v1/tenants", {"name": "oa-k1"}, headers=key)[0] == 201
    assert call("POST", "/v1/tenants", {"name": "oa-k2"}, headers=key)[0] == 422
    etag = call("GET", "/v1/clouds/oa-c1")[1]["etag"]
    assert call("GET", "/v1/clouds/oa-c1", headers={"If-None-Match": etag})[0] == 304
    assert not problems, "answers that do not match openapi.json:\n" + "\n".join(problems)
