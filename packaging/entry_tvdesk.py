"""Entry script of the frozen `tvdesk` executable: the same command line as the installed one."""

import sys

from tvdesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
