"""``python -m fastcost``: the same as the ``fastcost`` command."""

from __future__ import annotations

from fastcost.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
