"""The webhook path must not import cryptography or defusedxml until a scheme needs them."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import chalicelib.ingress.verify, chalicelib.ingress.deliveries, chalicelib.ingress.webhook_config, chalicelib.runtime.secrets
heavy = sorted(m for m in ("cryptography", "defusedxml", "boto3") if m in sys.modules)
print(",".join(heavy))
"""


def test_heavy_modules_load_lazily():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
