"""`python -m bench [--quick] [--only NAME ...] [--json PATH] [--results PATH]`."""

from __future__ import annotations

from bench.harness import main

raise SystemExit(main())
