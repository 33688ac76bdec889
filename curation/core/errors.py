"""Exceptions raised for bad input; each message names the file, column or row at fault."""


class CurationError(Exception):
    """Base class of the errors this package raises on purpose."""


class InputError(CurationError):
    """An input file, column or value cannot be used as given."""


class LineageError(CurationError):
    """Outputs made with different metadata or parameters would be combined."""


def os_error_message(exc: OSError) -> str:
    """One line for an IO error: the path it concerns and what the system said."""
    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or str(exc)
    return f"{where}: {what}" if where else what
