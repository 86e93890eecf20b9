"""Cycles are freed on the GUI thread, even when a background thread did the allocating:
Qt objects in a cycle must never be deleted off the GUI thread."""
import threading

from netbuilder.ui.widgets import gui_gc


class Cycle:
    freed_in: list[str] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        Cycle.freed_in.append(threading.current_thread().name)


def test_a_cycle_made_garbage_in_a_worker_thread_is_collected_on_the_gui_thread(qtbot):
    assert gui_gc.install() is gui_gc.install()  # one per application
    Cycle.freed_in = []

    def work():
        Cycle()  # garbage at once, but only a collection can free it
        # kept: allocations still alive are what push generation 0 past its threshold
        Cycle.kept = [[] for _ in range(200_000)]

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()
    assert Cycle.freed_in == []  # the worker's allocations did not collect it
    qtbot.waitUntil(lambda: bool(Cycle.freed_in), timeout=10_000)
    assert Cycle.freed_in == [threading.main_thread().name]
    Cycle.kept = []
