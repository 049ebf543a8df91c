"""Sub-commands (placeholder until written)."""


def register(sub) -> None:
    """Add this module's commands to the `newsworker` parser."""
