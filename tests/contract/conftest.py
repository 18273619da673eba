"""Shared plumbing of the contract tests: skips are failures, and a per-operation summary.

The tests record every decode they do in the `ledger` (which WB operation, which HTTP status,
which SDK model, whether it decoded cleanly); at the end one line per operation is printed:

    decoded: GET /api/v1/seller/chats ok (200 ChatsResponse x7, 401 GetV1NewFeedbacksQuestions401Response x2, …)
"""

from __future__ import annotations

import collections
import dataclasses

import pytest

# The operations, in the order the summary prints them.
OPERATIONS = [
    "GET /api/v1/seller/chats",
    "GET /api/v1/seller/events",
    "POST /api/v1/seller/message",
    "GET /api/v1/seller/download/{id}",
    "POST /_sandbox/chats/{chatID}/buyer-messages",
    "GET /_sandbox/stats",
    "GET (unknown route)",
]


@dataclasses.dataclass
class Decode:
    op: str
    status: int
    model: str
    ok: bool
    test: str
    problem: str = ""


class Ledger:
    def __init__(self) -> None:
        self.decodes: list[Decode] = []
        self.current_test = "<no test>"
        self.failed_tests: set[str] = set()

    def record(self, op: str, status: int, model: str, ok: bool, problem: str = "") -> None:
        self.decodes.append(Decode(op, status, model, ok, self.current_test, problem))

    def lines(self) -> list[str]:
        by_op: dict[str, list[Decode]] = collections.OrderedDict()
        for op in OPERATIONS:
            by_op[op] = []
        for d in self.decodes:
            by_op.setdefault(d.op, []).append(d)
        out = []
        for op, ds in by_op.items():
            if not ds:
                continue
            counts = collections.Counter((d.status, d.model) for d in ds)
            what = ", ".join(f"{s} {m} x{n}" for (s, m), n in sorted(counts.items()))
            bad = [d for d in ds if not d.ok]
            failed_tests = sorted({d.test for d in ds if d.test in self.failed_tests})
            if bad:
                first = bad[0]
                out.append(
                    f"decoded: {op} FAILED ({len(bad)} of {len(ds)} decodes; first: "
                    f"{first.status} {first.model}: {first.problem}) [{what}]"
                )
            elif failed_tests:
                out.append(
                    f"decoded: {op} ok, but checks FAILED in {', '.join(failed_tests)} [{what}]"
                )
            else:
                out.append(f"decoded: {op} ok ({what})")
        return out


_LEDGER_KEY = pytest.StashKey[Ledger]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_LEDGER_KEY] = Ledger()


@pytest.fixture(scope="session")
def ledger(request: pytest.FixtureRequest) -> Ledger:
    return request.config.stash[_LEDGER_KEY]


@pytest.fixture(autouse=True)
def _track_current_test(request: pytest.FixtureRequest) -> None:
    request.config.stash[_LEDGER_KEY].current_test = request.node.nodeid


# --- a skip (or xfail) is a failure here ---------------------------------------------------

def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.skipped:
        why = getattr(rep, "wasxfail", None)
        reason = f"xfail: {why}" if why is not None else _skip_reason(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"a skipped test is a failure in the contract suite ({reason})"
    return rep


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    rep = yield
    if rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = (
            "a skipped module is a failure in the contract suite "
            f"({_skip_reason(rep.longrepr)})"
        )
    return rep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        # The ledger is reached through the session's config in pytest_terminal_summary; keep
        # the failed node ids on the module so the hook needs no config here.
        _FAILED.add(report.nodeid)


_FAILED: set[str] = set()


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    if exitstatus == 5:  # no tests collected: that is a failure too
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if config.option.collectonly:
        return
    ledger = config.stash[_LEDGER_KEY]
    ledger.failed_tests |= _FAILED
    lines = ledger.lines()
    terminalreporter.section("contract summary: one line per operation")
    if not lines:
        terminalreporter.write_line("decoded: nothing (no operation was exercised)")
    for line in lines:
        terminalreporter.write_line(line)
