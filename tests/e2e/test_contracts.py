"""End to end: the API documents.

docs/openapi.json and docs/asyncapi.json are what the binary serves at /openapi.json and
/asyncapi.json and prints with `mdagent contract`, byte for byte (regenerate them with
scripts/gen-contracts.sh); real validators from npm accept them (OpenAPI 3.1:
@seriousme/openapi-schema-validator, AsyncAPI 3: @asyncapi/parser); the routes the running
agent serves and the documented ones are the same set; every documented GET route answers
with a status the document lists and a body its schema accepts (ajv); every error code in the
document is one of docs/API.md's error table; the stream's welcome lists only documented
channels, and a live quote and bar validate against the AsyncAPI message schemas."""
import json
import os
import re
import subprocess
import time
import unittest

from mdtest import SRC, AgentTest, run_cli
from wsclient import RawWs

CONTRACTS = os.path.join(SRC, "tests", "contracts")
KEY = "contracts-key-42"


def next_of(ws, kind):
    for _ in range(50):
        m = ws.message()
        if m.get("type") == kind:
            return m
    raise AssertionError(f"no {kind} message")


def read(name):
    with open(os.path.join(SRC, "docs", name)) as f:
        return f.read()


class Contracts(AgentTest):
    env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_SOURCES_PRIORITY": ""}

    def test_committed_documents_are_what_the_binary_serves(self):
        for name, route in (("openapi", "/openapi.json"), ("asyncapi", "/asyncapi.json")):
            committed = read(f"{name}.json")
            r = self.agent.get(route)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("content-type", "").split(";")[0], "application/json")
            self.assertEqual(r.body, committed, f"docs/{name}.json is stale: run scripts/gen-contracts.sh")
            self.assertEqual(run_cli("contract", name).stdout, committed)

    def test_validators_and_the_running_agent(self):
        if not os.path.isdir(os.path.join(CONTRACTS, "node_modules", "@asyncapi")):
            self.fail("tests/contracts/node_modules missing: run scripts/install-deps.sh")
        p = subprocess.run(["node", "check.mjs", os.path.join(SRC, "docs", "openapi.json"),
                            os.path.join(SRC, "docs", "asyncapi.json"), self.agent.url],
                           cwd=CONTRACTS, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-6000:] + p.stderr[-3000:])
        m = re.search(r"(\d+) passed, 0 failed", p.stdout)
        self.assertTrue(m and int(m.group(1)) > 50, p.stdout[-2000:])

    def test_every_documented_error_code_is_in_the_error_table(self):
        api = read("API.md")
        table = dict(re.findall(r"^\| `(\w+)` \| (\d+) \|", api, re.M))
        self.assertGreater(len(table), 20)
        doc = json.loads(read("openapi.json"))
        self.assertEqual(sorted(doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]),
                         sorted(table))
        seen = 0
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if op.get("security"):
                    self.assertIn("401", op["responses"], f"{method} {path} needs a key: 401 documented")
                for status, resp in op["responses"].items():
                    schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
                    for part in schema.get("allOf", []):
                        for code in part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {}).get("enum", []):
                            self.assertEqual(table.get(code), status, f"{method} {path}: {code} is {table.get(code)}")
                            seen += 1
        self.assertGreater(seen, 100)
        # auth and parameters come from routes.def
        self.assertEqual(doc["paths"]["/ingest/bars"]["post"]["security"], [{"bearer": []}, {"apiKey": []}])
        names = [p["name"] for p in doc["paths"]["/historical/{symbol}"]["get"]["parameters"]]
        for want in ("symbol", "interval", "start", "end", "limit", "format", "cached_only", "source"):
            self.assertIn(want, names)

    def test_post_errors_are_documented(self):
        """check.mjs asks the GET routes; the write routes' error answers are checked here:
        each status and code is the one the document lists for that operation."""
        doc = json.loads(read("openapi.json"))
        auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        ok = {"symbols": ["MSFT"], "start": "2024-01-02"}
        cases = [("/backfill", {**ok, "sourcex": "yahoo"}, 400, "invalid_parameter"),
                 ("/backfill", {**ok, "source": "nowhere"}, 400, "invalid_parameter"),
                 ("/backfill", {**ok, "source": "yahoo"}, 503, "no_healthy_source"),
                 ("/backfill", ok, 503, "no_healthy_source"),
                 ("/backfill", {**ok, "interval": "7m"}, 400, "invalid_interval")]
        for path, body, status, code in cases:
            r = self.agent.post(path, json.dumps(body), headers=auth)
            self.assertEqual((r.status, r.json()["error"]["code"]), (status, code), (body, r))
            resp = doc["paths"][path]["post"]["responses"].get(str(status))
            self.assertIsNotNone(resp, f"POST {path}: {status} documented")
            enum = resp["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
            self.assertIn(code, enum, f"POST {path} {status}")

    def test_stream_messages_match_the_asyncapi_document(self):
        doc = json.loads(read("asyncapi.json"))
        messages = doc["components"]["messages"]
        ws = RawWs(self.agent.port)
        try:
            welcome = ws.message()
            self.assertEqual(welcome["type"], "welcome")
            enum = messages["subscribe"]["payload"]["properties"]["channels"]["items"]["anyOf"][0]["enum"]
            self.assertEqual(sorted(welcome["channels"]), sorted(enum), "the welcome lists the documented channels")
            ws.send({"op": "subscribe", "symbols": ["CTR"], "channels": ["quote", "bar.1m"]})
            got = ws.message()
            self.assertEqual(got["type"], "subscribed")
            now = int(time.time())
            body = json.dumps({"quotes": [{"symbol": "CTR", "price": 5.5, "timestamp": now, "bid": 5.4, "ask": 5.6}]})
            r = self.agent.post("/ingest/quotes", body, headers={"Authorization": f"Bearer {KEY}"})
            self.assertEqual(r.status, 200, r.body)
            quote = next_of(ws, "quote")
            ws.send({"op": "nonsense"})
            err = next_of(ws, "error")
        finally:
            ws.close()
        for msg, name in ((welcome, "welcome"), (got, "subscribed"), (quote, "quote"), (err, "error")):
            payload = messages[name]["payload"]
            for field in payload["required"]:
                self.assertIn(field, msg, f"{name} lacks {field}")
            self.assertEqual(msg["type"], payload["properties"]["type"]["const"])
            for field in msg:
                self.assertIn(field, payload["properties"], f"{name}.{field} is not documented")
        self.assertIn(err["code"], messages["error"]["payload"]["properties"]["code"]["enum"])


if __name__ == "__main__":
    unittest.main()
