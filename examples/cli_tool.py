"""A command-line tool: argparse sub-commands, typed settings as options, plugins from other distributions.

::

    python examples/cli_tool.py --help                      # the settings are options, with their env variables
    python examples/cli_tool.py count "the quick brown fox"
    python examples/cli_tool.py --repeat 2 shout hello      # or: shout hello --repeat 2, or WORDTOOL_REPEAT=2
    python examples/cli_tool.py filter hello                # every installed 'wordtool.filters' plugin
    python examples/cli_tool.py count x --bogus             # exit 2: one line with a did-you-mean
    saf plugins --app cli_tool:setup                        # (from examples/) the plugins, as the tool sees them

Filters come from other installed distributions: a package that declares, in its ``pyproject.toml``::

    [project.entry-points."scitrera_app_framework.plugins"]
    reverse = "wordtool_extras:Reverse"

is picked up by ``entry_points=True``. A configuration or plugin error (a bad ``WORDTOOL_REPEAT``, a plugin whose
``initialize`` raises) is one line on stderr and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from scitrera_app_framework import Variables, get_extensions
from scitrera_app_framework.cmdline import run
from scitrera_app_framework.core.core import init_framework_cli
from scitrera_app_framework.settings import Secret, Settings, field

FILTERS = 'wordtool.filters'  # a multi extension point: each plugin gives a function str -> str


class ToolSettings(Settings, prefix='WORDTOOL'):
    repeat: int = field(1, help='print each result this many times')
    upper: bool = field(False, help='upper-case the results')
    api_token: Secret[str] = field('', help='token for the dictionary service (never shown)')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='wordtool', description='Small things to do with words.')
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    sub.add_parser('count', help='count the words of TEXT').add_argument('text')
    sub.add_parser('shout', help='TEXT, loudly').add_argument('text')
    sub.add_parser('filter', help='TEXT through every installed filter plugin').add_argument('text')
    return parser


def filters(v: Variables) -> dict[str, Callable[[str], str]]:
    return get_extensions(FILTERS, v)  # {} when no installed distribution provides one


def main(args: argparse.Namespace, v: Variables) -> int:
    s = ToolSettings.load(v)
    if args.command == 'count':
        result = str(len(args.text.split()))
    elif args.command == 'shout':
        result = args.text.upper() + '!'
    else:
        found = filters(v)
        if not found:
            print('no filter plugins installed (pip install a distribution that provides wordtool.filters)')
            return 1
        result = args.text
        for name in sorted(found):
            result = found[name](result)
    for _ in range(s.repeat):
        print(result.upper() if s.upper else result)
    return 0


def setup() -> Any:
    """For ``saf config|plugins|health --app cli_tool:setup``: the tool's configuration and plugins."""
    v = init_framework_cli('wordtool', entry_points=True)
    ToolSettings.load(v)
    return v


if __name__ == '__main__':
    run(main, 'wordtool', parser=build_parser(), settings=[ToolSettings], entry_points=True)
