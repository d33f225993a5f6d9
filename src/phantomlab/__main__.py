"""``python -m phantomlab``: the same as the ``phantomlab`` command."""

from phantomlab.cli import main

if __name__ == "__main__":
    main()
