"""End to end: the API documents.

docs/openapi.json and docs/asyncapi.json are what the binary serves at /openapi.json and
/asyncapi.json and prints with `mdagent contract`, byte for byte (regenerate them with
scripts/gen-contracts.sh); real validators from npm accept them (OpenAPI 3.1:
@seriousme/openapi-schema-validator, AsyncAPI 3: @asyncapi/parser); the routes the running
agent serves and the documented ones are the same set; every documented GET route answers
with a status the document lists and a body its schema accepts (ajv); every error code in the
document is one of docs/API.md's error table; no answer has a member its schema does not
list (check.mjs); the stream's welcome lists only documented channels, and every kind of
message the stream sends validates against the AsyncAPI message schemas the same way."""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from mdtest import SRC, AgentTest, run_cli
from wsclient import RawWs

CONTRACTS = os.path.join(SRC, "tests", "contracts")
KEY = "contracts-key-42"


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
        """Every kind of message the agent sends on /stream - welcome, subscribed (plain,
        adjusted, live indicators, market, a replay), market status, quote, bar (raw and
        adjusted), unsubscribed, pong, errors and replayed messages - validated by ajv against
        the AsyncAPI payload of its type (check.mjs), no member undocumented."""
        doc = json.loads(read("asyncapi.json"))
        messages = doc["components"]["messages"]
        auth = {"Authorization": f"Bearer {KEY}"}
        got = []

        def answers(ws, n):
            out = [ws.message() for _ in range(n)]
            got.extend(out)
            return out

        ws = RawWs(self.agent.port)
        try:
            welcome = answers(ws, 1)[0]
            self.assertEqual(welcome["type"], "welcome")
            enum = messages["subscribe"]["payload"]["properties"]["channels"]["items"]["anyOf"][0]["enum"]
            self.assertEqual(sorted(welcome["channels"]), sorted(enum), "the welcome lists the documented channels")
            ws.send({"op": "subscribe", "symbols": ["CTR"], "channels": ["quote", "bar.1d"]})
            ws.send({"op": "subscribe", "symbols": ["CTR"], "channels": ["bar.1d"], "adjust": "splits"})
            ws.send({"op": "subscribe", "symbols": ["MSFT"], "channels": ["ind.sma:5@1d"], "partial": True})
            self.assertEqual([m["type"] for m in answers(ws, 3)], ["subscribed"] * 3)
            ws.send({"op": "subscribe", "channels": ["market.XNYS"]})
            self.assertEqual([m["type"] for m in answers(ws, 2)], ["subscribed", "market"])
            now = int(time.time())
            body = json.dumps({"quotes": [{"symbol": "CTR", "price": 5.5, "timestamp": now, "bid": 5.4, "ask": 5.6}]})
            self.assertEqual(self.agent.post("/ingest/quotes", body, headers=auth).status, 200)
            body = json.dumps({"bars": [{"symbol": "CTR", "interval": "1d", "timestamp": "2024-01-02", "open": 5,
                                         "high": 6, "low": 4.5, "close": 5.5, "volume": 100, "vwap": 5.2, "trades": 7}]})
            self.assertEqual(self.agent.post("/ingest/bars", body, headers=auth).status, 200)
            data = answers(ws, 3)
            self.assertEqual(sorted(m["type"] for m in data), ["bar", "bar", "quote"], data)
            self.assertIn("bar.1d@splits", [m.get("channel") for m in data], "the adjusted bar came")
            ws.send({"op": "unsubscribe", "symbols": ["CTR"], "channels": ["bar.1d"], "adjust": "splits"})
            ws.send({"op": "ping"})
            for bad in ({"op": "nonsense"}, {"op": "subscribe", "symbols": ["b@d"], "channels": ["quote"]},
                        {"op": "subscribe", "symbols": ["CTR"], "channels": ["nope"]},
                        {"op": "subscribe", "symbols": ["CTR"], "channels": ["bar.1d"], "adjust": "zzz"}):
                ws.send(bad)
            self.assertEqual([m["type"] for m in answers(ws, 6)], ["unsubscribed", "pong"] + ["error"] * 4)
        finally:
            ws.close()
        ws = RawWs(self.agent.port)  # a client that resumes: the replay
        try:
            answers(ws, 1)
            ws.send({"op": "subscribe", "symbols": ["CTR"], "channels": ["quote", "bar.1d"], "since_seq": welcome["seq"]})
            sub = answers(ws, 1)[0]
            self.assertEqual((sub["type"], sub["replayed"], sub["replay_complete"]), ("subscribed", 2, True))
            self.assertEqual(sorted(m["type"] for m in answers(ws, 2)), ["bar", "quote"])
        finally:
            ws.close()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(got, f)
        try:
            p = subprocess.run(["node", "check.mjs", os.path.join(SRC, "docs", "openapi.json"),
                                os.path.join(SRC, "docs", "asyncapi.json"), "-", f.name],
                               cwd=CONTRACTS, capture_output=True, text=True, timeout=300)
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 0, p.stdout[-6000:] + p.stderr[-3000:])
        kinds = "bar error market pong quote subscribed unsubscribed welcome"
        self.assertIn(f"stream message types checked: {kinds}", p.stdout)

if __name__ == "__main__":
    unittest.main()
