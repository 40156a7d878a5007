"""`python -m jobs_cli`: the same entry point as the `jobs` console script."""

from jobs_cli.main import main

raise SystemExit(main())
