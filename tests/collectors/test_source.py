"""The real source: the /proc/PID/stat parser on strings, and contracts on this machine."""

import os
import threading

import psutil
import pytest

from sysmond.collectors.source import PsutilSource, parse_stat

STAT = (b"4242 (tmux: server (1)) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 150 0 0 20 0 "
        b"3 0 98765 21000000 1500 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0\n")


def test_parse_stat_splits_at_the_last_parenthesis():
    st = parse_stat(4242, STAT, ticks=100.0, page=4096)
    assert st.name == "tmux: server (1)" and st.status == "S"
    assert st.cpu_time == 4.0  # (250 + 150) ticks
    assert st.num_threads == 3 and st.start == 98765 and st.rss == 1500 * 4096


def test_parse_stat_rejects_garbage():
    with pytest.raises((ValueError, IndexError)):
        parse_stat(1, b"1 (x) S 1 2", ticks=100.0, page=4096)


def test_the_process_pass_sees_this_process_with_its_threads():
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        mine = {s.pid: s for s in PsutilSource().process_stats()}[os.getpid()]
    finally:
        stop.set()
        worker.join()
    me = psutil.Process()
    assert mine.num_threads >= 2 and mine.status == "R"
    assert mine.name == me.name()[:15]
    assert mine.cpu_time <= sum(me.cpu_times()[:2]) + 0.02


def test_process_details_give_user_and_command_line():
    user, argv = PsutilSource().process_details(os.getpid())
    assert user == psutil.Process().username()
    assert list(argv) == psutil.Process().cmdline()


def test_a_vanished_process_raises_not_found():
    with pytest.raises((FileNotFoundError, ProcessLookupError)):
        PsutilSource().process_details(2**22 + 1)  # above pid_max


def test_block_devices_are_whole_disks_only():
    disks = PsutilSource().block_devices()
    assert disks is not None
    partitions = {n for n in psutil.disk_io_counters(perdisk=True) if n not in disks}
    assert not partitions & disks
