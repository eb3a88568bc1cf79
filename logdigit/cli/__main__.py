"""``python -m logdigit.cli``: the same as the ``logdigit`` command."""

from logdigit.cli import main

main()
