"""Opt in (MDTEST_IMAGE=1): the container image of deploy/Dockerfile, built and run on this
machine by scripts/image.sh with Debian's podman from a debootstrap root file system (no
registry): it must become ready, serve the dashboard, /metrics and /cluster as uid 10001 and
exit 0 on SIGTERM. Minutes of downloads and a full build, so not part of the default run."""
import os
import subprocess
import unittest

from mdtest import SRC


@unittest.skipUnless(os.environ.get("MDTEST_IMAGE") == "1", "opt in with MDTEST_IMAGE=1 (builds the image)")
class Image(unittest.TestCase):
    def test_the_image_builds_runs_and_stops_cleanly(self):
        d = os.environ.get("MDTEST_IMAGE_DIR", os.path.join(SRC, "build-image"))
        p = subprocess.run([os.path.join(SRC, "scripts", "image.sh"), "test", "--dir", d],
                           capture_output=True, text=True, timeout=3600)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertIn("served /health/ready, /dashboard, /metrics, /cluster as uid 10001", p.stdout)


if __name__ == "__main__":
    unittest.main()
