"""Entry point for ``python -m chatpulse``."""

from chatpulse.cli import main

raise SystemExit(main())
