"""The README's configuration table is generated from the key table; it must be current."""
import os
import re
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


if __name__ == "__main__":
    unittest.main()
