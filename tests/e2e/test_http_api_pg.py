"""The end-to-end HTTP API and ingest tests once more, with the agent on PostgreSQL (a fresh
database of the test fixture per class): same requests, same answers as on sqlite."""
import unittest

import test_http_api as http_api
import test_ingest as ingest
from mdtest import psql, run_cli, SAMPLE


class HttpApiPg(http_api.HttpApi):
    pg = True

    def test_the_agent_really_stores_in_postgresql(self):
        h = self.get_json("/health")
        self.assertEqual(h["components"]["store"]["kind"], "postgresql", h)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg_db), "7869")
        self.assertEqual(psql("SELECT value FROM meta WHERE key = 'layout'", url=self.pg_db), "partitioned")

    def test_loading_twice_is_idempotent(self):
        run_cli("load", SAMPLE + "/MSFT.csv", "--db", self.pg_db, "--quiet")
        self.assertEqual(self.get_json("/symbols")["symbols"][3]["count"], 249)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg_db), "7869")


class IngestPg(ingest.Ingest):
    pg = True


if __name__ == "__main__":
    unittest.main()
