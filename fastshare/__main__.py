"""``python -m fastshare``: the same as the ``fastshare`` command."""

from fastshare.cli import main

raise SystemExit(main())
