"""Exceptions for problems a user can fix. The CLI prints them as one line
(no traceback) and exits with their ``exit_code``."""


class TexgsError(Exception):
    """A user-facing error: bad input, bad settings, a missing tool."""

    exit_code = 2


class InputError(TexgsError):
    """An input file or folder cannot be used; the message names it and why."""


class ConfigError(TexgsError):
    """A pipeline file, manifest or command-line setting is invalid."""


class OutputError(TexgsError):
    """An output (file, folder, report, cache) cannot be written: full, read-only, not a folder."""


class FormatError(TexgsError):
    """A packed texgs file is malformed, truncated or of an unknown version."""
