"""``python -m logdigit``: the same command line as the ``logdigit`` script."""

from logdigit.cli import main

if __name__ == "__main__":
    main()
