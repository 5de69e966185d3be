"""The supervisor's restart decisions, on a fake stack and a fake clock."""

from __future__ import annotations

from runtime.supervisor import Supervisor


class FakeStack:
    def __init__(self) -> None:
        self.dead: dict[str, int] = {}
        self.respawned: list[str] = []
        self.next_pid = 100

    def dead_children(self) -> list[tuple[str, int, int]]:
        return [(name, pid, -9) for name, pid in self.dead.items()]

    def respawn(self, name: str, dead_pid: int) -> int | None:
        self.dead.pop(name)
        self.respawned.append(name)
        self.next_pid += 1
        return self.next_pid


def test_first_death_restarts_at_once_repeated_quick_deaths_back_off_and_a_stable_run_resets() -> None:
    stack = FakeStack()
    supervisor = Supervisor(stack, base_delay=1.0, max_delay=30.0, stable_after=60.0)
    stack.dead["worker"] = 1
    assert supervisor.check(now=1000.0) == ["worker"]  # at once
    stack.dead["worker"] = 101
    assert supervisor.check(now=1005.0) == []  # died within 60 s: waits 2 s
    assert supervisor.check(now=1007.0) == ["worker"]
    stack.dead["worker"] = 102
    assert supervisor.check(now=1008.0) == [] and supervisor.check(now=1011.9) == []  # then 4 s
    assert supervisor.check(now=1012.0) == ["worker"]
    stack.dead["worker"] = 103
    assert supervisor.check(now=2000.0) == ["worker"]  # up for long: a first death again
    assert stack.respawned == ["worker"] * 4


def test_a_stopped_supervisor_restarts_nothing() -> None:
    stack = FakeStack()
    supervisor = Supervisor(stack)
    supervisor.stop()
    stack.dead["api"] = 7
    assert supervisor.check(now=10.0) == [] and stack.respawned == []
