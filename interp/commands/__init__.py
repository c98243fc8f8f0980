"""Subcommands of the ``interp`` CLI, one module each (see :mod:`interp.cli`)."""
