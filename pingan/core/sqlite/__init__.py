"""Django's SQLite backend with one writer per process at a time (see :mod:`pingan.core.sqlite.base`)."""
