"""The work an agent runs: test runs from the console and, in the demo, simulated tasks.

It tells the heartbeat how many slots are busy and what runs, so the console can show a cordoned
agent draining. Real agents report their real work; the simulated tasks exist so a laptop demo
shows the same states.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Work:
    simulate: bool = False  # start simulated tasks of random length while taking work
    task_seconds: tuple[float, float] = (20.0, 90.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tasks: dict[str, float] = field(default_factory=dict)  # task id -> ends at (monotonic)
    _runs: set[str] = field(default_factory=set)

    def busy(self) -> int:
        self._finish_due()
        with self._lock:
            return len(self._tasks) + len(self._runs)

    def test_runs(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def maybe_start_task(self, *, total: int, cordoned: bool) -> None:
        """Demo only: now and then take a simulated task, never while cordoned."""
        if not self.simulate or cordoned or self.busy() >= total or random.random() > 0.5:
            return
        self.start_task(random.uniform(*self.task_seconds))

    def start_task(self, seconds: float) -> None:
        """Hold a slot for `seconds` with a simulated task."""
        with self._lock:
            self._tasks[f"sim-{random.getrandbits(32):08x}"] = time.monotonic() + seconds

    def run_test(self, run_id: str, job: Callable[[], None]) -> None:
        """Run a test run in its own thread; it holds a slot until it has reported."""
        with self._lock:
            if run_id in self._runs:
                return
            self._runs.add(run_id)

        def target() -> None:
            try:
                job()
            finally:
                with self._lock:
                    self._runs.discard(run_id)

        threading.Thread(target=target, name=f"test-run-{run_id[:8]}", daemon=True).start()

    def _finish_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            for task in [t for t, end in self._tasks.items() if end <= now]:
                del self._tasks[task]
