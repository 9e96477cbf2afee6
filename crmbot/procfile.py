"""Run one process of the Procfile in place of this one, as honcho would start it.

    python -m crmbot.procfile gateway

supervisord (`make run`, `deploy/supervisord.conf`) and the systemd units
(`deploy/systemd/`) start every process through this, so the Procfile stays the one
place where a process's command is written. The command replaces this Python process
(exec), and each Procfile line execs its server in turn, so the supervisor watches,
signals and restarts the server itself, never a wrapper that could leave it orphaned.

Like honcho, it reads `.env` from the project folder; unlike honcho, the environment the
supervisor passes (systemd's `EnvironmentFile`) wins over `.env`, as it does in
`crm_store.settings`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from honcho.environ import parse, parse_procfile

ROOT = Path(__file__).resolve().parent.parent
SHELL = "/bin/sh"


class UnknownProcess(LookupError):
    """No line of the Procfile names this process."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no process {name!r} in the Procfile; it has {', '.join(known)}")
        self.name = name


def procfile_commands(root: Path = ROOT) -> dict[str, str]:
    """The Procfile's processes, by name, in file order."""
    text = (root / "Procfile").read_text(encoding="utf-8")
    return dict(parse_procfile(text).processes)


def command_for(name: str, root: Path = ROOT) -> str:
    commands = procfile_commands(root)
    if name not in commands:
        raise UnknownProcess(name, list(commands))
    return commands[name]


def process_environment(base: Mapping[str, str], root: Path = ROOT) -> dict[str, str]:
    """`.env` (if any) under the given environment, which wins."""
    dotenv = root / ".env"
    from_file = parse(dotenv.read_text(encoding="utf-8")) if dotenv.exists() else {}
    return {**from_file, **base}


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit(f"usage: python -m crmbot.procfile NAME (one of {', '.join(procfile_commands())})")
    try:
        command = command_for(args[0])
    except UnknownProcess as error:
        sys.exit(str(error))
    os.chdir(ROOT)
    os.execve(SHELL, [SHELL, "-c", command], process_environment(os.environ))


if __name__ == "__main__":
    main()
