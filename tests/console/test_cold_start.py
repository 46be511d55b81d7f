"""API cold starts do not pay for the console: importing app.py loads its route table and nothing else of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import json, sys
import app
loaded = [m for m in sys.modules if m.split(".")[0] in ("jinja2", "markupsafe", "yaml") or m.startswith("chalicelib.console")]
print(json.dumps(sorted(loaded)))
"""


def test_importing_the_app_loads_only_the_consoles_route_table():
    env = dict(os.environ, AWS_XRAY_SDK_ENABLED="false", AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["chalicelib.console", "chalicelib.console.routes"]
