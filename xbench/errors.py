"""Errors a user can cause: the CLI turns them into one line and exit code 2."""


class UsageError(ValueError):
    """Bad input from the user: an unknown name, an out-of-range value, an unusable path."""


class NotApplicable(UsageError):
    """A combination one framework cannot express (e.g. optax.sgd has no weight_decay)."""
