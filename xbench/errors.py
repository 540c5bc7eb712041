"""Errors a user can cause (the CLI turns them into one line and exit code 2), and how a
stop signal (Ctrl-C, SIGTERM, SIGHUP) becomes an interrupt with its exit code and line."""

import contextlib
import signal
import sys


class UsageError(ValueError):
    """Bad input from the user: an unknown name, an out-of-range value, an unusable path."""


class NotApplicable(UsageError):
    """A combination one framework cannot express (e.g. optax.sgd has no weight_decay)."""


def first_line(exc: BaseException) -> str:
    """An exception's message for a one-line error: its first line (at most 200 characters),
    or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# Ctrl-C (SIGINT), SIGTERM (what `timeout`, CI cancellation, systemd and container runtimes
# send first) and SIGHUP (the terminal closed): each stops a command the same way, by
# KeyboardInterrupt, so every cleanup written for Ctrl-C runs for all three. Python raises it
# wherever the main thread is; where that is a finalizer or a library callback, the exception
# is printed and dropped, and the work would go on. The CLI's handler also remembers the
# signal, and long work asks between items.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_interrupts: list[int] = []


def on_interrupt(signum, frame) -> None:
    """Handler of the stop signals: remember the signal, then raise KeyboardInterrupt as
    Python does for SIGINT."""
    _interrupts.append(signum)
    raise KeyboardInterrupt


def unraisable_hook(default):
    """``sys.unraisablehook`` that takes a dropped KeyboardInterrupt (raised in a finalizer or
    a garbage-collection callback, where Python prints "Exception ignored in ...") as the
    interrupt it is, silently; anything else goes to ``default``."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _interrupts.append(2)  # SIGINT
            return
        default(unraisable)

    return hook


def forget_interrupts() -> None:
    _interrupts.clear()


def interrupted() -> bool:
    return bool(_interrupts)


def interrupt_code() -> int:
    """The exit code of an interrupted command: 128 + the signal, as a shell reports a
    process the signal ended (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    return 128 + (_interrupts[0] if _interrupts else signal.SIGINT)


def interrupted_line(what: str, detail: str = "") -> str:
    """The one line an interrupted command prints: ``<what>: interrupted[ by SIG...]<detail>``.
    After Ctrl-C it starts on a new line, ending the ``^C`` the terminal echoed."""
    signum = _interrupts[0] if _interrupts else signal.SIGINT
    if signum == signal.SIGINT:
        return f"\n{what}: interrupted{detail}"
    return f"{what}: interrupted by {signal.Signals(signum).name}{detail}"


def say_interrupted(what: str, detail: str = "") -> None:
    """Print ``interrupted_line`` to stderr. After SIGHUP the terminal may be gone: a write
    that fails then is dropped, not an error of its own."""
    with contextlib.suppress(OSError, ValueError):
        print(interrupted_line(what, detail), file=sys.stderr, flush=True)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if a library swallowed its exception."""
    if _interrupts:
        raise KeyboardInterrupt
