"""Generated documentation must be current: the README's configuration table (from the key
table) and docs/API.md's error-code table (from src/core/errors.def)."""
import os
import re
import subprocess
import unittest

from mdtest import SRC, run_cli


class Docs(unittest.TestCase):
    def test_readme_config_table_is_current(self):
        table = run_cli("config", "--markdown").stdout.strip()
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        m = re.search(r"<!-- config:begin[^>]*-->\n(.*?)<!-- config:end -->", readme, re.S)
        self.assertIsNotNone(m, "README has no config table markers")
        self.assertEqual(m.group(1).strip(), table,
                         "README config table is stale: run scripts/gen-config-table.sh")

    def test_config_table_bounds_are_exact(self):
        # an integer key's bounds are the numbers its error message gives, never 1.07374e+09
        table = run_cli("config", "--markdown").stdout
        rows = re.findall(r"^\| `([^`]+)` \|[^|]*\|[^|]*\| integer \|.*\((-?[^.()]+)\.\.([^()]+)\) \|$",
                          table, re.M)
        self.assertGreater(len(rows), 50)
        for key, lo, hi in rows:
            self.assertRegex(lo, r"^-?\d+$", key)
            self.assertRegex(hi, r"^-?\d+$", key)
        self.assertIn("| `server.max_body_bytes` |", table)
        self.assertIn("(1024..1073741824) |", table)

    def test_api_error_table_is_current(self):
        gen = os.path.join(SRC, "scripts", "gen-error-table.sh")
        table = subprocess.run([gen, "--print"], capture_output=True, text=True, check=True,
                               timeout=60).stdout.strip()
        with open(os.path.join(SRC, "docs", "API.md")) as f:
            api = f.read()
        m = re.search(r"<!-- errors:begin[^>]*-->\n(.*?)<!-- errors:end -->", api, re.S)
        self.assertIsNotNone(m, "docs/API.md has no error table markers")
        self.assertEqual(m.group(1).strip(), table,
                         "docs/API.md error table is stale: run scripts/gen-error-table.sh")
        # the generator read the real table: one row per code, each code once
        codes = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", table, re.M)
        with open(os.path.join(SRC, "src", "core", "errors.def")) as f:
            n_rows = len(re.findall(r"^MD_ERR\(", f.read(), re.M))
        self.assertEqual(len(codes), n_rows)
        self.assertEqual(len({c for c, _ in codes}), len(codes), "an API code is used twice")
        # codes the API text names elsewhere are in the table
        for named in ("invalid_symbol", "invalid_interval", "invalid_time_range", "length_required",
                      "method_not_allowed", "unknown_op", "too_many_subscriptions"):
            self.assertIn(named, {c for c, _ in codes})


if __name__ == "__main__":
    unittest.main()
