"""``python -m omicsd`` runs the command line."""

from omicsd.cli import main

raise SystemExit(main())
