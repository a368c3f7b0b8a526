"""``bounded-lr`` and ``python -m bounded_lr_resolver``: the main job, or one line naming the extra it needs.

The base install has no numpy, torch or matplotlib; the main job needs the ``[cli]`` extra.
"""

from __future__ import annotations

import sys

from bounded_lr_resolver.errors import MissingExtraError


def main() -> None:
    try:
        from bounded_lr_resolver.app import main as job
    except MissingExtraError as error:
        print(
            f"Error: bounded-lr (the main job) needs the [cli] extra: pip install 'bounded-lr-resolver[cli]' "
            f"({error.name} is not installed)",
            file=sys.stderr,
        )
        sys.exit(1)
    job()


if __name__ == "__main__":
    main()
