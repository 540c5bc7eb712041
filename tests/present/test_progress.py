"""Progress of long work: a bar on a terminal, one plain line per item in a log."""

import io
import re

from xbench.present.progress import Progress
from xbench.present.units import clock

LINE = re.compile(r"^work \[ ?(\d+)/(\d+)\] (\d:\d\d:\d\d) elapsed(, ~(\d:\d\d:\d\d) left)?: ")


def test_a_log_gets_one_line_per_finished_item_with_count_times_and_item():
    stream = io.StringIO()
    with Progress(3, "work", stream=stream) as progress:
        progress.start("a")
        assert stream.getvalue() == ""  # a plain log waits for the item's end
        progress.done("a", "12 ms")
        progress.next("b")
        progress.next("c")  # b ended as c began
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # c ended with the block
    found = [LINE.match(line) for line in lines]
    assert all(found), lines
    assert [(m.group(1), m.group(2)) for m in found] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert lines[0].endswith(": a  12 ms") and lines[1].endswith(": b")
    assert all(m.group(5) for m in found)  # the time left, from the mean pace so far


def test_an_item_interrupted_is_not_counted_done():
    stream = io.StringIO()
    try:
        with Progress(2, "work", stream=stream) as progress:
            progress.next("a")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_and_quiet_gets_nothing():
    stream = io.StringIO()
    with Progress(2, "work", stream=stream, live=True) as progress:
        progress.next("first item")
        progress.next("second item")
    text = stream.getvalue()
    assert "work" in text and "2/2" in text  # rich drew the bar into the stream
    quiet = io.StringIO()
    with Progress(2, "work", stream=quiet, quiet=True) as progress:
        progress.next("a")
    assert quiet.getvalue() == "" and progress.finished == 1


def test_clock():
    assert [clock(0), clock(59.6), clock(61), clock(3725)] == [
        "0:00:00",
        "0:01:00",
        "0:01:01",
        "1:02:05",
    ]
