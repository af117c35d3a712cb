from __future__ import annotations

import subprocess
import time

from omicsd.executors._monitor import ProcessMonitor


def test_a_young_task_is_not_sampled_by_the_thread_but_an_older_one_is() -> None:
    monitor = ProcessMonitor(interval=3600, first_sample_delay=0.2)
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        watch = monitor.watch(process.pid, 0)
        monitor.sample_now(include_young=False)
        assert watch.samples == 0
        time.sleep(0.25)
        monitor.sample_now(include_young=False)
        assert watch.samples == 1 and watch.max_rss > 0
        monitor.sample_now()
        assert watch.samples == 2
    finally:
        process.kill()
        process.wait()
        monitor.unwatch(watch)


def test_an_explicit_sample_includes_young_tasks() -> None:
    monitor = ProcessMonitor(interval=3600, first_sample_delay=3600)
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        watch = monitor.watch(process.pid, 0)
        monitor.sample_now()
        assert watch.samples == 1 and watch.known == {process.pid: watch.known[process.pid]}
    finally:
        process.kill()
        process.wait()
        monitor.unwatch(watch)
