#!/usr/bin/env python3
"""`sam deploy --config-env ENV` with overrides that keep the config env's own parameters.

    scripts/sam-deploy.py ENV [Name=value ...] [sam deploy option ...]

`--parameter-overrides` on the command line replaces samconfig.toml's whole list for ENV, so this
passes that list first and the overrides after it (of two values for one name, SAM takes the last).
Every argument after the first that does not start with "-" is a Name=value override; the first
that does, and all after it, go to `sam deploy` as they are. Prints the command, then runs it (the
`sam` on PATH, or $SAM). Needs Python 3.11 or later (tomllib). docs/deploy.md, "Deploy", says why;
the pipeline's deploy job adds the stage's permissions boundary this way.
"""

import os
import shlex
import sys
import tomllib
from pathlib import Path


def main(argv):
    if not argv or argv[0].startswith("-"):
        raise SystemExit(__doc__)
    env, rest = argv[0], argv[1:]
    split = next((i for i, arg in enumerate(rest) if arg.startswith("-")), len(rest))
    overrides, options = rest[:split], rest[split:]
    bad = [arg for arg in overrides if "=" not in arg]
    if bad:
        raise SystemExit(f"sam-deploy: not Name=value: {' '.join(bad)}")
    config = tomllib.loads((Path(__file__).resolve().parent.parent / "samconfig.toml").read_text())
    try:
        listed = config[env]["deploy"]["parameters"]["parameter_overrides"]
    except KeyError:
        raise SystemExit(f"sam-deploy: samconfig.toml has no parameter_overrides for the config env {env!r}")
    listed = shlex.split(listed) if isinstance(listed, str) else list(listed)
    args = [os.environ.get("SAM", "sam"), "deploy", "--config-env", env,
            "--parameter-overrides", *listed, *overrides, *options]
    print("+", shlex.join(args), file=sys.stderr, flush=True)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv[1:])
