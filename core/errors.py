"""Typed errors. Library code raises these; only the CLI catches and prints them."""


class ReconError(Exception):
    """Base of every error this project raises on purpose."""


class UserError(ReconError):
    """Bad input or configuration: the message says what to do. CLI exit status 2."""


class MissingRelationError(UserError):
    """A table or view the step reads is not in the warehouse (not built yet, or not written yet)."""


class UnreadableSourceError(UserError):
    """An input (an ERP file or table) cannot be read as its table at all: the run stops before
    dbt, the warehouse keeps that input's last good load. Exit status 2."""


class SourceUnavailableError(ReconError):
    """A source (the Stripe API, the ERP database) cannot be reached or refused us. Exit 2."""


class ChecksFailedError(ReconError):
    """The run completed but found breaks or a failed check. CLI exit status 1."""
