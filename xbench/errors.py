"""Errors a user can cause: the CLI turns them into one line and exit code 2."""

import contextlib
import signal
import threading


class UsageError(ValueError):
    """Bad input from the user: an unknown name, an out-of-range value, an unusable path."""


class NotApplicable(UsageError):
    """A combination one framework cannot express (e.g. optax.sgd has no weight_decay)."""


def first_line(exc: BaseException) -> str:
    """An exception's message for a one-line error: its first line (at most 200 characters),
    or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# Ctrl-C. Python raises KeyboardInterrupt wherever the main thread is; where that is a
# finalizer or a library callback, the exception is printed and dropped, and the work would
# go on. The CLI's handler also remembers the interrupt, and long work asks between items.
_interrupts: list[int] = []


def on_interrupt(signum, frame) -> None:
    """SIGINT handler: remember the interrupt, then raise KeyboardInterrupt as Python does."""
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


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if a library swallowed its exception."""
    if _interrupts:
        raise KeyboardInterrupt


@contextlib.contextmanager
def children_ignore_ctrl_c():
    """Child processes started inside ignore SIGINT from their first instruction (an ignored
    signal stays ignored across exec, and Python then installs no handler of its own). A
    terminal's Ctrl-C reaches the whole process group; the parent alone should answer it,
    and stop its children, rather than each child print its own traceback. Meanwhile this
    thread blocks SIGINT, so a Ctrl-C in those milliseconds is delivered when the block ends
    (unless another thread of this process, one that does not block it, takes it first)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
