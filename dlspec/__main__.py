"""`python -m dlspec ...`: the same as the `dlspec` command."""

from dlspec.cli import main

if __name__ == "__main__":
    main()
