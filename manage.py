#!/usr/bin/env python
"""Django's command-line utility for kafkaview."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaview.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        # A bad variable or file was already said in one line (kafkaview/settings.py).
        if type(exc).__name__ == "StartupError":
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
