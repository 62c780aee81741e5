"""`python -m mtlaqa …`: the `mtlaqa` command line."""

from mtlaqa.cli import main

if __name__ == "__main__":  # pragma: no cover - run as `python -m mtlaqa`
    main(prog_name="mtlaqa")
