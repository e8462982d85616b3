"""Writing a benchmark's JSON: the payload plus fastcost's configuration."""

from __future__ import annotations

import json
import os
from typing import Any


def write_results(path: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` and ``fastcost.config_info()`` to ``path`` as JSON, and say so."""
    import fastcost

    payload = dict(payload, config=fastcost.config_info())
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2)
    print(f"\nwrote {path}")
