"""Claims and commits: how runs take turns on a session and persist what they did, on every backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import Connection, select

from kern.db._sql import claims
from kern.db._sql.tables import Tables
from kern.db.base import BaseDb
from kern.db.records import Busy, Claim, Replay, RunWrite, RunWriteMode
from kern.db.store import SessionStore
from kern.exceptions import ClaimLostError, KernError, SessionBusyError, UsageError
from kern.models.message import Message
from kern.session.codec import encode_state
from kern.session.patch import diff
from kern.session.schema import RunRecord, SessionType
from kern.session.status import RunStatus

pytestmark = pytest.mark.anyio

SID = "s1"
USER = "u1"
AGENT = SessionType.AGENT
SHORT_LEASE = 0.05
"""Lease of a holder a test lets expire; small so that waiting for it takes little time."""


async def claim(store: SessionStore, run_id: str, **kwargs: Any) -> Claim:
    """Claim the test session for ``run_id`` as user USER."""
    return await store.claim(SID, AGENT, run_id=run_id, user_id=USER, **kwargs)


async def take_over(store: SessionStore, run_id: str) -> Claim:
    """Claim the session for ``run_id`` once the current holder's (short) lease has expired."""
    return await claim(store, run_id, on_busy="wait", busy_timeout=10)


def patch_to(c: Claim, new_state: Mapping[str, Any]) -> list[Any]:
    """The patch turning the claim's snapshot into ``new_state``."""
    return diff(c.state_snapshot, encode_state(new_state))


def run_record(run_id: str, status: RunStatus = RunStatus.completed, **kwargs: Any) -> RunRecord:
    return RunRecord(run_id=run_id, session_id=SID, status=status, user_id=USER, **kwargs)


def messages_for(run_id: str, *roles: str) -> list[Message]:
    return [Message(role=role, content=f"{run_id} {role} {i}") for i, role in enumerate(roles)]  # type: ignore[arg-type]


def message_rows(conn: Connection, t: Tables, session_id: str) -> list[tuple[str, int, str]]:
    """(run_id, seq, content) of every stored message of a session, in insertion order."""
    stmt = (
        select(t.messages.c.run_id, t.messages.c.seq, t.messages.c.message)
        .where(t.messages.c.session_id == session_id)
        .order_by(t.messages.c.id)
    )
    return [(run_id, seq, message["content"]) for run_id, seq, message in conn.execute(stmt)]


def lease_expiry(conn: Connection, t: Tables, session_id: str) -> float | None:
    """When the session's current lease expires (unix seconds), None when it is free."""
    stmt = select(t.sessions.c.lease_expires_at).where(t.sessions.c.session_id == session_id)
    return conn.execute(stmt).scalar_one()


# --- claim --------------------------------------------------------------------------------------------------


async def test_claim_creates_the_session_with_initial_state(db: BaseDb) -> None:
    """The first claim creates the session, holding ``initial_state``."""
    initial = {"n": 1, "tags": ["a"]}
    c = await claim(db.store, "r1", initial_state=initial)
    assert c.created
    assert c.state_snapshot == encode_state(initial)
    session = await db.store.get_session(SID)
    assert session is not None
    assert (session.session_state, session.user_id, session.session_type) == (initial, USER, AGENT)


async def test_claim_of_an_existing_session_ignores_initial_state(db: BaseDb) -> None:
    """A later claim keeps the stored state; its ``initial_state`` applies only to a new session."""
    first = await claim(db.store, "r1", initial_state={"n": 1})
    await db.store.commit(first, state_patch=patch_to(first, {"n": 2}))
    assert await db.store.release(first)
    second = await claim(db.store, "r2", initial_state={"n": 100, "other": True})
    assert not second.created
    assert second.state_snapshot == {"n": 2}
    session = await db.store.get_session(SID)
    assert session is not None
    assert session.session_state == {"n": 2}


async def test_fencing_token_grows_with_each_claim(db: BaseDb) -> None:
    """Each claim gets a fencing token greater than the one before."""
    tokens = []
    for i in range(3):
        c = await claim(db.store, f"r{i}")
        tokens.append(c.token)
        assert await db.store.release(c)
    assert tokens == sorted(set(tokens))


async def test_reject_raises_busy_at_once(db: BaseDb) -> None:
    """While the session is held, on_busy="reject" raises SessionBusyError without waiting."""
    await claim(db.store, "holder")
    with anyio.fail_after(5), pytest.raises(SessionBusyError, match="holder") as info:
        await claim(db.store, "other", on_busy="reject", busy_timeout=60)
    assert info.value.session_id == SID


async def test_unknown_on_busy_is_a_usage_error(db: BaseDb) -> None:
    """on_busy takes only "wait" or "reject"."""
    with pytest.raises(UsageError, match="on_busy"):
        await claim(db.store, "r1", on_busy="queue")  # type: ignore[arg-type]


async def test_wait_proceeds_once_the_holder_releases(db: BaseDb, monkeypatch: pytest.MonkeyPatch) -> None:
    """on_busy="wait" retries while the session is held and gets it once the holder releases."""
    seen_busy = threading.Event()
    try_claim = claims.try_claim

    def spying_try_claim(*args: Any, **kwargs: Any) -> Claim | Busy:
        result = try_claim(*args, **kwargs)
        if isinstance(result, Busy):
            seen_busy.set()
        return result

    monkeypatch.setattr(claims, "try_claim", spying_try_claim)
    holder = await claim(db.store, "holder")
    order: list[str] = []
    waiter_claims: list[Claim] = []

    async def waiter() -> None:
        waiter_claims.append(await claim(db.store, "waiter", on_busy="wait", busy_timeout=10))
        order.append("waiter claimed")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            assert await anyio.to_thread.run_sync(seen_busy.wait, 5), (
                "the waiter never found the session busy"
            )
            order.append("holder released")
            assert await db.store.release(holder)
    assert order == ["holder released", "waiter claimed"]
    assert waiter_claims[0].token > holder.token


async def test_wait_raises_busy_when_busy_timeout_passes(db: BaseDb) -> None:
    """on_busy="wait" gives up with SessionBusyError once busy_timeout has passed."""
    await claim(db.store, "holder")
    with anyio.fail_after(10), pytest.raises(SessionBusyError, match="timed out"):
        await claim(db.store, "waiter", on_busy="wait", busy_timeout=0.1)


async def test_expired_lease_is_taken_over_and_its_run_abandoned(db: BaseDb) -> None:
    """A claim taking over an expired lease marks the old holder's running run abandoned and names it."""
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE)
    await db.store.commit(
        old, writes=[RunWrite(run_record("old", RunStatus.running))], lease_seconds=SHORT_LEASE
    )
    new = await take_over(db.store, "new")
    assert new.abandoned_run_id == "old"
    assert new.token > old.token
    runs = await db.store.get_runs(SID)
    assert [(r.run_id, r.status) for r in runs] == [("old", RunStatus.abandoned)]


async def test_takeover_leaves_a_completed_run_completed(db: BaseDb) -> None:
    """A run that completed but never released keeps its terminal status when its lease is taken over."""
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE)
    await db.store.commit(old, writes=[RunWrite(run_record("old"))], lease_seconds=SHORT_LEASE)
    await take_over(db.store, "new")
    runs = await db.store.get_runs(SID)
    assert [(r.run_id, r.status) for r in runs] == [("old", RunStatus.completed)]


async def test_claim_after_release_abandons_nothing(db: BaseDb) -> None:
    """A session released by its holder is claimed with no abandoned run."""
    first = await claim(db.store, "r1")
    await db.store.commit(first, writes=[RunWrite(run_record("r1"))])
    assert await db.store.release(first)
    second = await claim(db.store, "r2", on_busy="reject")
    assert second.abandoned_run_id is None


# --- commit -------------------------------------------------------------------------------------------------


async def test_commit_applies_the_patch_and_bumps_version(db: BaseDb) -> None:
    """A commit stores the state the patch describes and returns the version, one more than before."""
    c = await claim(db.store, "r1", initial_state={"a": 1, "b": {"x": 1}})
    before = await db.store.get_session(SID)
    assert before is not None
    new_state = {"a": 2, "b": {"x": 1, "y": [1, 2]}, "c": "new"}
    version = await db.store.commit(c, state_patch=patch_to(c, new_state))
    after = await db.store.get_session(SID)
    assert after is not None
    assert after.session_state == new_state
    assert version == after.version == before.version + 1


async def test_commit_patches_the_current_state_not_the_snapshot(db: BaseDb) -> None:
    """A patch applies to the stored state as it is now, keeping changes committed since the snapshot."""
    c = await claim(db.store, "r1", initial_state={"a": 1})
    snapshot = dict(c.state_snapshot)
    first = await db.store.commit(c, state_patch=diff(snapshot, {**snapshot, "x": "first"}))
    second = await db.store.commit(c, state_patch=diff(snapshot, {**snapshot, "y": "second"}))
    session = await db.store.get_session(SID)
    assert session is not None
    assert session.session_state == {"a": 1, "x": "first", "y": "second"}
    assert second == first + 1 == session.version


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param({"keep": 1, "drop": 2}, {"keep": 1}, id="top-level"),
        pytest.param({"cfg": {"keep": 1, "drop": 2}}, {"cfg": {"keep": 1}}, id="nested"),
    ],
)
async def test_deleted_key_stays_deleted(db: BaseDb, before: dict[str, Any], after: dict[str, Any]) -> None:
    """A key the patch deletes is gone from the stored state and from the next claim's snapshot."""
    c = await claim(db.store, "r1", initial_state=before)
    patch = patch_to(c, after)
    assert any(op.op == "del" for op in patch)
    await db.store.commit(c, state_patch=patch)
    assert await db.store.release(c)
    session = await db.store.get_session(SID)
    assert session is not None
    assert session.session_state == after
    again = await claim(db.store, "r2", initial_state=before)
    assert again.state_snapshot == encode_state(after)


async def test_commit_after_takeover_raises_and_writes_nothing(db: BaseDb) -> None:
    """A commit from a claim that was taken over raises ClaimLostError; state, runs and messages stay."""
    old = await claim(db.store, "old", initial_state={"n": 0}, lease_seconds=SHORT_LEASE)
    await take_over(db.store, "new")
    before = await db.store.get_session(SID)
    assert before is not None
    write = RunWrite(run_record("old"), messages=messages_for("old", "user", "assistant"))
    with pytest.raises(ClaimLostError) as info:
        await db.store.commit(old, state_patch=patch_to(old, {"n": 1}), writes=[write])
    assert info.value.session_id == SID
    after = await db.store.get_session(SID)
    assert after is not None
    assert (after.session_state, after.version, after.runs, after.messages) == (
        before.session_state,
        before.version,
        [],
        [],
    )


async def test_new_holder_commits_after_takeover(db: BaseDb) -> None:
    """The run that took the session over commits normally."""
    await claim(db.store, "old", initial_state={"n": 0}, lease_seconds=SHORT_LEASE)
    new = await take_over(db.store, "new")
    await db.store.commit(new, state_patch=patch_to(new, {"n": 1}), writes=[RunWrite(run_record("new"))])
    session = await db.store.get_session(SID)
    assert session is not None
    assert session.session_state == {"n": 1}
    assert [r.run_id for r in session.runs] == ["new"]


async def test_two_commits_of_one_run_append_messages_and_upsert_the_run(db: BaseDb) -> None:
    """Commits of one run append its messages in seq order and keep one run row, updated."""
    c = await claim(db.store, "r1")
    first = messages_for("r1", "user", "assistant")
    second = messages_for("r1", "tool", "assistant")
    await db.store.commit(c, writes=[RunWrite(run_record("r1", RunStatus.running), messages=first)])
    await db.store.commit(
        c,
        writes=[
            RunWrite(
                run_record("r1", output="done", metrics={"turns": 2}), messages=second, first_seq=len(first)
            )
        ],
    )
    rows = await db.store._executor.aread(message_rows, db.store.tables, SID)
    assert rows == [("r1", seq, m.content) for seq, m in enumerate(first + second)]
    runs = await db.store.get_runs(SID)
    assert [(r.run_id, r.status, r.output, r.metrics) for r in runs] == [
        ("r1", RunStatus.completed, "done", {"turns": 2})
    ]
    session = await db.store.get_session(SID)
    assert session is not None
    assert session.messages == first + second


async def test_commit_keeps_the_lease_the_claim_asked_for(db: BaseDb) -> None:
    """A commit without lease_seconds never shortens the lease the claim was taken with."""
    c = await claim(db.store, "r1", lease_seconds=3600)
    await db.store.commit(c, state_patch=patch_to(c, {"step": 1}))
    expiry = await db.store._executor.aread(lease_expiry, db.store.tables, SID)
    assert expiry is not None
    assert expiry >= c.expires_at


async def test_commit_after_release_raises(db: BaseDb) -> None:
    """A released claim can no longer commit."""
    c = await claim(db.store, "r1", initial_state={"n": 0})
    assert await db.store.release(c)
    with pytest.raises(ClaimLostError):
        await db.store.commit(c, state_patch=patch_to(c, {"n": 1}))
    session = await db.store.get_session(SID)
    assert session is not None
    assert (session.session_state, session.version) == ({"n": 0}, 0)


@pytest.mark.parametrize("mode", ["upsert", "update", "insert"])
async def test_commit_never_touches_a_run_of_another_session(db: BaseDb, mode: RunWriteMode) -> None:
    """A run write whose run_id belongs to another user's session is refused and changes nothing there."""
    theirs = await db.store.claim("theirs", AGENT, run_id="c1", user_id="other")
    await db.store.commit(
        theirs, writes=[RunWrite(run_record("shared-id", RunStatus.running, output="theirs"))]
    )  # left held: a release would end the row it left running
    ours = await claim(db.store, "ours")
    clash = RunWrite(
        RunRecord(
            run_id="shared-id", session_id=SID, status=RunStatus.completed, user_id=USER, output="ours"
        ),
        messages=messages_for("shared-id", "user"),
        mode=mode,
    )
    with pytest.raises(KernError):
        await db.store.commit(ours, writes=[clash])
    runs = await db.store.get_runs("theirs")
    assert [(r.session_id, r.status, r.output) for r in runs] == [("theirs", RunStatus.running, "theirs")]
    session = await db.store.get_session(SID)
    assert session is not None
    assert (session.version, session.runs, session.messages) == (0, [], [])


async def test_claim_writes_the_starting_run_in_its_transaction(db: BaseDb) -> None:
    """A claim given ``start`` stores the run row and its first messages with the lease."""
    start = RunWrite(run_record("r1", RunStatus.running), messages=messages_for("r1", "user"))
    c = await claim(db.store, "r1", start=start)
    session = await db.store.get_session(SID)
    assert session is not None
    assert [(r.run_id, r.status) for r in session.runs] == [("r1", RunStatus.running)]
    assert [m.role for m in session.messages] == ["user"]
    assert await db.store.release(c)


async def test_claim_refused_as_busy_writes_no_starting_run(db: BaseDb) -> None:
    """A claim that loses to the holder does not write its starting run."""
    holder = await claim(db.store, "r1")
    with pytest.raises(SessionBusyError):
        await claim(db.store, "r2", on_busy="reject", start=RunWrite(run_record("r2", RunStatus.running)))
    assert [r.run_id for r in await db.store.get_runs(SID)] == []
    assert await db.store.release(holder)


async def test_final_commit_can_release_the_session(db: BaseDb) -> None:
    """commit(release=True) commits and frees the session in one go; the claim is then spent."""
    first = await claim(db.store, "r1")
    await db.store.commit(first, state_patch=patch_to(first, {"done": True}), release=True)
    second = await claim(db.store, "r2", on_busy="reject")
    assert second.session.session_state == {"done": True}
    with pytest.raises(ClaimLostError):
        await db.store.commit(first)


async def test_completed_run_with_the_key_is_replayed_without_claiming(db: BaseDb) -> None:
    """claim_or_replay with a key a completed run has returns that run and its messages, claiming nothing."""
    start = RunWrite(run_record("r1", RunStatus.running, idempotency_key="k"), messages_for("r1", "user"))
    first = await db.store.claim_or_replay(SID, AGENT, run_id="r1", user_id=USER, start=start)
    assert isinstance(first, Claim)
    done = RunWrite(run_record("r1", idempotency_key="k", output="answer"), first_seq=1, mode="update")
    await db.store.commit(first, writes=[done], release=True)
    again = RunWrite(run_record("r2", RunStatus.running, idempotency_key="k"))
    replay = await db.store.claim_or_replay(SID, AGENT, run_id="r2", user_id=USER, start=again)
    assert isinstance(replay, Replay)
    assert (replay.run.run_id, replay.run.output) == ("r1", "answer")
    assert [m.role for m in replay.messages] == ["user"]
    assert [r.run_id for r in await db.store.get_runs(SID)] == ["r1"]
    await claim(db.store, "r3", on_busy="reject")  # nothing was claimed by the replay


async def test_key_of_a_failed_run_is_given_up_for_the_retry(db: BaseDb) -> None:
    """A run with the key that did not complete gives it up: the new run takes it and runs."""
    start = RunWrite(run_record("r1", RunStatus.running, idempotency_key="k"))
    first = await db.store.claim_or_replay(SID, AGENT, run_id="r1", user_id=USER, start=start)
    assert isinstance(first, Claim)
    await db.store.commit(
        first, writes=[RunWrite(run_record("r1", RunStatus.error), mode="update")], release=True
    )
    retry = RunWrite(run_record("r2", RunStatus.running, idempotency_key="k"))
    second = await db.store.claim_or_replay(SID, AGENT, run_id="r2", user_id=USER, start=retry)
    assert isinstance(second, Claim)
    keys = {r.run_id: r.idempotency_key for r in await db.store.get_runs(SID)}
    assert keys == {"r1": None, "r2": "k"}


async def test_plain_claim_refuses_a_start_that_could_replay(db: BaseDb) -> None:
    """claim() with an idempotency key is a usage error: only claim_or_replay can hand back a Replay."""
    with pytest.raises(UsageError, match="claim_or_replay"):
        await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running, idempotency_key="k")))


# --- renew and release --------------------------------------------------------------------------------------


async def test_renew_extends_the_lease(db: BaseDb) -> None:
    """After renew the session stays held past the claim's original expiry."""
    c = await claim(db.store, "r1", lease_seconds=SHORT_LEASE)
    expires_at = await db.store.renew(c, lease_seconds=30)
    assert expires_at > c.expires_at
    await anyio.sleep(max(c.expires_at - time.time(), 0) + SHORT_LEASE)  # the original lease is over
    with pytest.raises(SessionBusyError):
        await claim(db.store, "r2", on_busy="reject")
    await db.store.commit(c, state_patch=patch_to(c, {"renewed": True}))


async def test_renew_after_takeover_raises(db: BaseDb) -> None:
    """Renewing a claim that was taken over raises ClaimLostError."""
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE)
    await take_over(db.store, "new")
    with pytest.raises(ClaimLostError):
        await db.store.renew(old)


async def test_release_frees_the_session(db: BaseDb) -> None:
    """release returns True and another run can claim the session at once."""
    first = await claim(db.store, "r1")
    assert await db.store.release(first)
    second = await claim(db.store, "r2", on_busy="reject")
    assert second.token > first.token


async def test_release_after_takeover_returns_false_and_keeps_the_new_lease(db: BaseDb) -> None:
    """Releasing a claim that was taken over returns False and leaves the new holder's lease alone."""
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE)
    await take_over(db.store, "new")
    assert not await db.store.release(old)
    with pytest.raises(SessionBusyError, match="new"):
        await claim(db.store, "third", on_busy="reject")


# --- history and runs ---------------------------------------------------------------------------------------

HISTORY_RUNS = [  # (run_id, parent_run_id, status), committed in this order
    ("r1", None, RunStatus.completed),
    ("r2", None, RunStatus.completed),
    ("r2-member", "r2", RunStatus.completed),
    ("r3", None, RunStatus.error),
    ("r4", None, RunStatus.running),
    ("r5", None, RunStatus.completed),
]


async def test_history_returns_the_last_completed_top_level_runs(db: BaseDb) -> None:
    """history(num_runs=N) holds the non-system messages of the last N completed top-level runs, in order."""
    stored: dict[str, list[Message]] = {}
    for i, (run_id, parent, status) in enumerate(HISTORY_RUNS):
        stored[run_id] = messages_for(run_id, "system", "user", "assistant")
        c = await claim(db.store, f"claim-{i}")
        run = run_record(run_id, status, parent_run_id=parent, created_at=1000.0 + i)
        await db.store.commit(c, writes=[RunWrite(run, messages=stored[run_id])])
        assert await db.store.release(c)
    eligible = [
        run_id for run_id, parent, status in HISTORY_RUNS if parent is None and status is RunStatus.completed
    ]
    counts = [1, 2, len(eligible), len(eligible) + 1, None]
    expected = {
        n: [m for run_id in eligible[-n if n else None :] for m in stored[run_id] if m.role != "system"]
        for n in counts
    }
    assert {n: await db.store.history(SID, USER, num_runs=n) for n in counts} == expected


async def test_history_with_negative_num_runs_is_a_usage_error(db: BaseDb) -> None:
    """num_runs counts runs: a negative number raises UsageError on every backend."""
    with pytest.raises(UsageError, match="num_runs"):
        await db.store.history(SID, USER, num_runs=-1)


async def test_history_of_an_unknown_session_is_empty(db: BaseDb) -> None:
    """A session with no runs has no history."""
    assert await db.store.history("nope", USER, num_runs=3) == []


async def test_get_runs_lists_member_runs_with_their_parent(db: BaseDb) -> None:
    """get_runs returns the top-level run and its member runs, oldest first, with parent_run_id."""
    expected = [("lead", None), ("member-a", "lead"), ("member-b", "lead")]
    c = await claim(db.store, "lead")
    writes = [
        RunWrite(run_record(run_id, parent_run_id=parent, created_at=1000.0 + i))
        for i, (run_id, parent) in enumerate(expected)
    ]
    await db.store.commit(c, writes=writes)
    runs = await db.store.get_runs(SID)
    assert [(r.run_id, r.parent_run_id) for r in runs] == expected


# --- release marks the run that could not record itself ---------------------------------------------------


async def test_release_marks_the_claims_still_running_run_error(db: BaseDb) -> None:
    """A release (a run whose final commit failed) ends the claim's running row as error, with the text."""
    c = await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running), mode="insert"))
    assert await db.store.release(c, error="StorageError: the final commit failed")
    [run] = await db.store.get_runs(SID)
    assert (run.status, run.error) == (RunStatus.error, "StorageError: the final commit failed")


async def test_release_without_a_reason_still_ends_the_running_row(db: BaseDb) -> None:
    """Released with no error given, the running row becomes error saying it never recorded its ending."""
    c = await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running), mode="insert"))
    assert await db.store.release(c)
    [run] = await db.store.get_runs(SID)
    assert (run.status, run.error) == (RunStatus.error, claims.RELEASED_WITHOUT_ENDING)


async def test_release_of_a_cancelled_run_marks_it_cancelled(db: BaseDb) -> None:
    """status=cancelled ends the running row as cancelled."""
    c = await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running), mode="insert"))
    assert await db.store.release(c, status=RunStatus.cancelled, error="cancelled")
    [run] = await db.store.get_runs(SID)
    assert run.status is RunStatus.cancelled


async def test_release_leaves_a_run_that_recorded_its_ending_alone(db: BaseDb) -> None:
    """A row already completed (or errored) keeps its status and error through a release."""
    c = await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running), mode="insert"))
    await db.store.commit(c, writes=[RunWrite(run_record("r1"), mode="update")])
    assert await db.store.release(c, error="late")
    [run] = await db.store.get_runs(SID)
    assert (run.status, run.error) == (RunStatus.completed, None)


async def test_release_after_takeover_leaves_the_runs_rows_to_the_new_holder(db: BaseDb) -> None:
    """A stale release writes no run row: the takeover marked the old run abandoned, the new one runs on."""
    start = RunWrite(run_record("old", RunStatus.running), mode="insert")
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE, start=start)
    await claim(
        db.store,
        "new",
        on_busy="wait",
        busy_timeout=10,
        start=RunWrite(run_record("new", RunStatus.running), mode="insert"),
    )
    assert not await db.store.release(old, error="late")
    runs = {r.run_id: (r.status, r.error) for r in await db.store.get_runs(SID)}
    assert runs == {"old": (RunStatus.abandoned, None), "new": (RunStatus.running, None)}


async def test_release_refuses_a_status_that_is_not_a_failure(db: BaseDb) -> None:
    """A released run cannot be recorded completed: UsageError, and the session stays held."""
    c = await claim(db.store, "r1")
    with pytest.raises(UsageError, match="error or cancelled"):
        await db.store.release(c, status=RunStatus.completed)
    with pytest.raises(SessionBusyError):
        await claim(db.store, "r2", on_busy="reject")


async def test_release_ends_the_member_runs_its_claim_left_running(db: BaseDb) -> None:
    """Member rows written under the released claim and still running end as the run did; a running row
    another claim wrote is not this release's to end."""
    first = await claim(db.store, "earlier")
    await db.store.commit(first, writes=[RunWrite(run_record("earlier", RunStatus.running))], release=True)
    c = await claim(db.store, "r1", start=RunWrite(run_record("r1", RunStatus.running), mode="insert"))
    member = RunWrite(run_record("member", RunStatus.running, parent_run_id="r1"), mode="insert")
    await db.store.commit(c, writes=[member])
    assert await db.store.release(c, error="StorageError: down")
    runs = {r.run_id: (r.status, r.error) for r in await db.store.get_runs(SID)}
    assert runs == {
        "earlier": (RunStatus.running, None),
        "r1": (RunStatus.error, "StorageError: down"),
        "member": (RunStatus.error, "StorageError: down"),
    }


async def test_takeover_abandons_the_member_runs_the_dead_holder_left_running(db: BaseDb) -> None:
    """An expired holder's running member rows are abandoned with its own by the claim taking over."""
    start = RunWrite(run_record("old", RunStatus.running), mode="insert")
    old = await claim(db.store, "old", lease_seconds=SHORT_LEASE, start=start)
    member = RunWrite(run_record("member", RunStatus.running, parent_run_id="old"), mode="insert")
    await db.store.commit(old, writes=[member], lease_seconds=SHORT_LEASE)
    await take_over(db.store, "new")
    runs = {r.run_id: r.status for r in await db.store.get_runs(SID)}
    assert runs == {"old": RunStatus.abandoned, "member": RunStatus.abandoned}
