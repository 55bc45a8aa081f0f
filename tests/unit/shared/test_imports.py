"""shared/ is imported by the web app, whose image has no numpy, and by
both services, so it must import neither numpy (nor pandas) nor either service."""

from __future__ import annotations

import subprocess
import sys


def test_shared_imports_no_numpy_and_no_service() -> None:
    code = (
        "import sys\n"
        "import shared.answers, shared.card, shared.codecs, shared.codecs.csv\n"
        "import shared.codecs.json, shared.codecs.rows, shared.media, shared.problems\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('numpy', 'pandas', 'model_service', 'web_app'))\n"
        "print(' '.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
