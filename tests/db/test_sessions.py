"""The session management API (get, list, rename, delete, create) behaves the same on every backend."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kern.db.base import BaseDb
from kern.exceptions import UsageError
from kern.session import AgentSession, Session, SessionType, TeamSession, WorkflowSession
from kern.session.status import RunStatus

pytestmark = pytest.mark.anyio


async def new_session(
    api: Any, session_id: str, session_type: SessionType = SessionType.AGENT, **fields: Any
) -> Session:
    """Create a session with only the fields a test cares about."""
    return await api.create_session(session_id, session_type, **fields)


async def stamp(sql: Any, db: BaseDb, session_id: str, at: float) -> None:
    """Set a session's stored created_at and updated_at to exactly ``at`` (unix seconds)."""
    sessions = db.store.tables.sessions
    statement = update(sessions).where(sessions.c.session_id == session_id)
    await sql(statement.values(created_at=at, updated_at=at))


def ids(sessions: list[Session]) -> list[str]:
    """The session ids of a listing, in its order."""
    return [session.session_id for session in sessions]


# --- create and get -----------------------------------------------------------------------------------------


async def test_get_session_round_trips_every_field(api: Any) -> None:
    """get_session returns every field create_session stored."""
    state = {"cart": ["apple", "pear"], "count": 2}
    metadata = {"source": "web", "tags": ["a", "b"]}
    await api.create_session(
        "s1",
        SessionType.TEAM,
        user_id="alice",
        component_id="team-1",
        session_state=state,
        session_name="Product Discussion",
        metadata=metadata,
    )

    session = await api.get_session("s1", SessionType.TEAM, "alice")

    assert session is not None
    assert session.session_id == "s1"
    assert session.session_type == SessionType.TEAM
    assert session.user_id == "alice"
    assert session.component_id == "team-1"
    assert session.session_name == "Product Discussion"
    assert session.session_state == state
    assert session.metadata == metadata
    assert session.summary is None
    assert session.messages == []
    assert session.runs == []


async def test_session_timestamps_are_whole_seconds_of_creation(api: Any) -> None:
    """created_at and updated_at are int unix seconds taken when the session was created."""
    before = time.time()
    await new_session(api, "s1")
    after = time.time()

    session = await api.get_session("s1")

    assert session is not None
    for stamp_ in (session.created_at, session.updated_at):
        assert type(stamp_) is int
        assert math.floor(before) <= stamp_ <= after


async def test_create_session_returns_the_stored_session(api: Any) -> None:
    """create_session returns the same session get_session then reads."""
    created = await new_session(api, "s1", user_id="alice", session_state={"k": "v"}, session_name="n")

    assert created == await api.get_session("s1")


async def test_create_session_on_existing_session_keeps_its_state(api: Any) -> None:
    """Creating an existing session returns it unchanged: session_state applies only on creation."""
    await new_session(api, "s1", user_id="alice", session_state={"step": 1})

    again = await new_session(api, "s1", user_id="alice", session_state={"step": 99})

    assert again.session_state == {"step": 1}
    stored = await api.get_session("s1")
    assert stored is not None
    assert stored.session_state == {"step": 1}


async def test_get_session_class_follows_session_type(api: Any) -> None:
    """Sessions read back as AgentSession, TeamSession or WorkflowSession according to their type."""
    classes = {
        SessionType.AGENT: AgentSession,
        SessionType.TEAM: TeamSession,
        SessionType.WORKFLOW: WorkflowSession,
    }
    for session_type in classes:
        await new_session(api, f"{session_type}-session", session_type)

    for session_type, cls in classes.items():
        assert type(await api.get_session(f"{session_type}-session")) is cls
        listed = await api.get_sessions(session_type=session_type)
        assert [type(session) for session in listed] == [cls]


async def test_get_session_unknown_id_is_none(api: Any) -> None:
    """get_session returns None for an id that was never created."""
    await new_session(api, "s1")

    assert await api.get_session("missing") is None


async def test_get_session_of_another_type_is_none(api: Any) -> None:
    """get_session with a session_type the session does not have returns None."""
    await new_session(api, "s1", SessionType.AGENT)

    assert await api.get_session("s1", SessionType.TEAM) is None
    assert await api.get_session("s1", SessionType.WORKFLOW) is None


async def test_get_session_of_another_user_is_none(api: Any) -> None:
    """get_session with a user_id that does not own the session returns None."""
    await new_session(api, "s1", user_id="alice")

    assert await api.get_session("s1", SessionType.AGENT, "bob") is None


# --- runs and messages --------------------------------------------------------------------------------------


async def test_get_session_fills_runs_and_messages(api: Any, add_run: Any) -> None:
    """get_session returns the session's messages in order and its runs oldest first."""
    await new_session(api, "s1", user_id="alice")
    await add_run("s1", "r1", "hi", "hello", user_id="alice")
    await add_run("s1", "r2", "bye", user_id="alice")

    session = await api.get_session("s1", user_id="alice")

    assert session is not None
    assert [m.content for m in session.messages] == ["hi", "hello", "bye"]
    assert [m.role for m in session.messages] == ["user", "assistant", "user"]
    assert [r.run_id for r in session.runs] == ["r1", "r2"]
    assert all(r.status == RunStatus.completed and r.session_id == "s1" for r in session.runs)


async def test_get_sessions_loads_messages_but_not_runs(api: Any, add_run: Any) -> None:
    """A listing carries each session's messages, and its runs stay empty."""
    await new_session(api, "s1")
    await new_session(api, "s2")
    await add_run("s1", "r1", "one", "two")
    await add_run("s2", "r2", "three")

    listed = {s.session_id: s for s in await api.get_sessions()}

    assert [m.content for m in listed["s1"].messages] == ["one", "two"]
    assert [m.content for m in listed["s2"].messages] == ["three"]
    assert listed["s1"].runs == []
    assert listed["s2"].runs == []


# --- get_sessions filters -----------------------------------------------------------------------------------


async def test_get_sessions_without_filters_lists_every_session(api: Any) -> None:
    """get_sessions with no filter lists every session of every type and user."""
    await new_session(api, "a", SessionType.AGENT, user_id="alice")
    await new_session(api, "t", SessionType.TEAM, user_id="bob")
    await new_session(api, "w", SessionType.WORKFLOW)

    assert sorted(ids(await api.get_sessions())) == ["a", "t", "w"]


async def test_get_sessions_filters_by_session_type(api: Any) -> None:
    """session_type keeps only sessions of that type."""
    by_type = {SessionType.AGENT: ["a1", "a2"], SessionType.TEAM: ["t1"], SessionType.WORKFLOW: ["w1", "w2"]}
    for session_type, session_ids in by_type.items():
        for session_id in session_ids:
            await new_session(api, session_id, session_type)

    for session_type, session_ids in by_type.items():
        listed = await api.get_sessions(session_type=session_type)
        assert sorted(ids(listed)) == session_ids
        assert all(s.session_type == session_type for s in listed)


async def test_get_sessions_filters_by_user_id(api: Any) -> None:
    """user_id keeps only that user's sessions."""
    await new_session(api, "a1", user_id="alice")
    await new_session(api, "a2", user_id="alice")
    await new_session(api, "b1", user_id="bob")
    await new_session(api, "n1")

    assert sorted(ids(await api.get_sessions(user_id="alice"))) == ["a1", "a2"]
    assert ids(await api.get_sessions(user_id="bob")) == ["b1"]


async def test_get_sessions_filters_by_component_id(api: Any) -> None:
    """component_id keeps only sessions of that agent, team or workflow."""
    await new_session(api, "s1", component_id="support-agent")
    await new_session(api, "s2", component_id="sales-agent")
    await new_session(api, "s3", component_id="support-agent")
    await new_session(api, "s4")

    assert sorted(ids(await api.get_sessions(component_id="support-agent"))) == ["s1", "s3"]


async def test_get_sessions_combines_filters(api: Any) -> None:
    """Several filters together keep only sessions matching all of them."""
    await new_session(api, "hit", SessionType.TEAM, user_id="alice", component_id="c1", session_name="Plan")
    await new_session(
        api, "other-user", SessionType.TEAM, user_id="bob", component_id="c1", session_name="Plan"
    )
    await new_session(
        api, "other-type", SessionType.AGENT, user_id="alice", component_id="c1", session_name="Plan"
    )
    await new_session(
        api, "other-comp", SessionType.TEAM, user_id="alice", component_id="c2", session_name="Plan"
    )
    await new_session(
        api, "other-name", SessionType.TEAM, user_id="alice", component_id="c1", session_name="Misc"
    )

    listed = await api.get_sessions(
        session_type=SessionType.TEAM, user_id="alice", component_id="c1", session_name="plan"
    )

    assert ids(listed) == ["hit"]


async def test_get_sessions_session_name_matches_part_ignoring_case(api: Any) -> None:
    """session_name matches any part of the name, whatever its case."""
    await new_session(api, "s1", session_name="Product Discussion")
    await new_session(api, "s2", session_name="weekly PRODUCT sync")
    await new_session(api, "s3", session_name="Holiday plans")
    await new_session(api, "s4")

    assert sorted(ids(await api.get_sessions(session_name="pRoDuCt"))) == ["s1", "s2"]
    assert ids(await api.get_sessions(session_name="DUCT DISC")) == ["s1"]


async def test_get_sessions_session_name_ignores_session_state(api: Any) -> None:
    """session_name never matches text that appears only in another session's state."""
    await new_session(api, "named", session_name="Zebra facts")
    await new_session(api, "stateful", session_name="Other", session_state={"animal": "zebra", "zebra": 1})

    assert ids(await api.get_sessions(session_name="zebra")) == ["named"]


async def test_get_sessions_session_name_treats_wildcards_literally(api: Any) -> None:
    """A % or _ in session_name matches that character, not any text."""
    await new_session(api, "percent", session_name="100% done")
    await new_session(api, "underscore", session_name="draft_2")
    await new_session(api, "plain", session_name="1000 done, draft 2")

    assert ids(await api.get_sessions(session_name="0% d")) == ["percent"]
    assert ids(await api.get_sessions(session_name="t_2")) == ["underscore"]


async def test_get_sessions_session_name_ignores_case_beyond_ascii(api: Any) -> None:
    """Case-insensitive name matching covers non-ASCII letters too."""
    await new_session(api, "s1", session_name="Ärger im Büro")
    await new_session(api, "s2", session_name="Ordnung")

    assert ids(await api.get_sessions(session_name="ärger IM bü")) == ["s1"]


async def test_get_sessions_timestamps_bound_created_at_inclusively(api: Any, db: BaseDb, sql: Any) -> None:
    """start_timestamp and end_timestamp keep sessions created within them, bounds included."""
    created = {"early": 1000.0, "middle": 2000.0, "late": 3000.0}
    for session_id, created_at in created.items():
        await new_session(api, session_id)
        await stamp(sql, db, session_id, created_at)

    for start, end in [(2000, None), (None, 2000), (1500, 2500), (2000, 2000), (1000, 3000), (3001, None)]:
        expected = sorted(
            sid
            for sid, at in created.items()
            if (start is None or at >= start) and (end is None or at <= end)
        )
        listed = await api.get_sessions(start_timestamp=start, end_timestamp=end)
        assert sorted(ids(listed)) == expected, (start, end)


async def test_get_sessions_bounds_equal_to_created_at_include_the_session(api: Any) -> None:
    """A session is listed when both bounds equal the created_at it reports."""
    session = await new_session(api, "s1")

    listed = await api.get_sessions(start_timestamp=session.created_at, end_timestamp=session.created_at)

    assert ids(listed) == ["s1"]


# --- sorting and paging -------------------------------------------------------------------------------------


async def test_get_sessions_sorts(api: Any, db: BaseDb, sql: Any) -> None:
    """sort_by and sort_order order the listing, and updated_at follows a rename."""
    created = {"s1": 1000.0, "s2": 2000.0, "s3": 3000.0}
    for session_id, created_at in created.items():
        await new_session(api, session_id)
        await stamp(sql, db, session_id, created_at)
    await api.rename_session("s1", SessionType.AGENT, "renamed")  # s1 is now the most recently updated
    keys = {"created_at": created, "updated_at": {**created, "s1": math.inf}}

    for sort_by, key in keys.items():
        for sort_order in ("asc", "desc"):
            listed = await api.get_sessions(sort_by=sort_by, sort_order=sort_order)
            expected = sorted(key, key=key.__getitem__, reverse=sort_order == "desc")
            assert ids(listed) == expected, (sort_by, sort_order)


async def test_get_sessions_default_order_is_newest_created_first(api: Any, db: BaseDb, sql: Any) -> None:
    """Without sort arguments, the most recently created session comes first."""
    created = {"s1": 3000.0, "s2": 1000.0, "s3": 2000.0}
    for session_id, created_at in created.items():
        await new_session(api, session_id)
        await stamp(sql, db, session_id, created_at)

    assert ids(await api.get_sessions()) == ["s1", "s3", "s2"]


async def test_get_sessions_limit_returns_the_first_sessions(api: Any) -> None:
    """limit alone returns the first sessions of the full order."""
    for n in range(5):
        await new_session(api, f"s{n}")
    everything = ids(await api.get_sessions(sort_order="asc"))

    assert ids(await api.get_sessions(sort_order="asc", limit=2)) == everything[:2]


async def test_get_sessions_pages_are_disjoint_and_cover_everything(api: Any) -> None:
    """Pages counted from 1 split the full order into consecutive, disjoint slices."""
    for n in range(5):
        await new_session(api, f"s{n}")
    everything = ids(await api.get_sessions())

    pages = [ids(await api.get_sessions(limit=2, page=page)) for page in (1, 2, 3)]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [sid for page in pages for sid in page] == everything
    assert sorted(everything) == [f"s{n}" for n in range(5)]


async def test_get_sessions_page_past_the_end_is_empty(api: Any) -> None:
    """A page beyond the last session is an empty list."""
    for n in range(3):
        await new_session(api, f"s{n}")

    assert await api.get_sessions(limit=2, page=3) == []


async def test_get_sessions_rejects_bad_arguments(api: Any) -> None:
    """An unknown sort_by or sort_order, a page without a limit, a page or limit below 1 raise UsageError."""
    await new_session(api, "s1")
    bad: list[dict[str, Any]] = [
        {"sort_by": "session_name"},
        {"sort_order": "up"},
        {"page": 1},
        {"limit": 2, "page": 0},
        {"limit": 0},
    ]

    for arguments in bad:
        try:
            await api.get_sessions(**arguments)
        except UsageError:
            continue
        pytest.fail(f"get_sessions(**{arguments!r}) did not raise UsageError")


async def test_unknown_session_type_raises_usage_error(api: Any) -> None:
    """A session_type that is not agent, team or workflow raises UsageError on reads, listings and create."""
    await new_session(api, "s1")

    with pytest.raises(UsageError):
        await api.get_session("s1", "bogus")
    with pytest.raises(UsageError):
        await api.get_sessions(session_type="bogus")
    with pytest.raises(UsageError):
        await api.create_session("s2", "bogus")

    assert await api.get_session("s2") is None


# --- rename -------------------------------------------------------------------------------------------------


async def test_rename_session_returns_the_renamed_session(api: Any) -> None:
    """rename_session returns the session carrying its new name and unchanged state."""
    await new_session(api, "s1", user_id="alice", session_name="Old", session_state={"k": 1})

    renamed = await api.rename_session("s1", SessionType.AGENT, "New", "alice")

    assert renamed is not None
    assert (renamed.session_id, renamed.session_name, renamed.session_state) == ("s1", "New", {"k": 1})


async def test_rename_session_persists_the_name(api: Any) -> None:
    """The new name is what later reads and name searches see."""
    await new_session(api, "s1", session_name="Old")

    await api.rename_session("s1", SessionType.AGENT, "Product Discussion")

    session = await api.get_session("s1")
    assert session is not None
    assert session.session_name == "Product Discussion"
    assert ids(await api.get_sessions(session_name="product")) == ["s1"]
    assert await api.get_sessions(session_name="old") == []


async def test_rename_session_updates_updated_at(api: Any, db: BaseDb, sql: Any) -> None:
    """A rename moves updated_at to now and leaves created_at alone."""
    await new_session(api, "s1")
    await stamp(sql, db, "s1", 1000.0)
    before = time.time()

    renamed = await api.rename_session("s1", SessionType.AGENT, "New")

    assert renamed is not None
    assert renamed.created_at == 1000
    assert math.floor(before) <= renamed.updated_at <= time.time()


async def test_rename_missing_session_returns_none(api: Any) -> None:
    """Renaming a session that does not exist returns None and creates nothing."""
    assert await api.rename_session("missing", SessionType.AGENT, "New") is None
    assert await api.get_session("missing") is None


async def test_rename_session_of_another_type_returns_none(api: Any) -> None:
    """Renaming with a session_type the session does not have returns None and keeps the name."""
    await new_session(api, "s1", SessionType.AGENT, session_name="Old")

    assert await api.rename_session("s1", SessionType.TEAM, "New") is None
    session = await api.get_session("s1")
    assert session is not None
    assert session.session_name == "Old"


# --- delete -------------------------------------------------------------------------------------------------


async def test_delete_session_returns_true_and_removes_it(api: Any) -> None:
    """delete_session returns True and the session is gone from reads and listings."""
    await new_session(api, "s1", user_id="alice")
    await new_session(api, "s2", user_id="alice")

    assert await api.delete_session("s1", "alice") is True

    assert await api.get_session("s1") is None
    assert ids(await api.get_sessions()) == ["s2"]


async def test_delete_session_removes_its_runs_and_messages(
    api: Any, db: BaseDb, sql: Any, add_run: Any
) -> None:
    """Deleting a session deletes its runs and messages and no other session's."""
    await new_session(api, "s1")
    await new_session(api, "s2")
    await add_run("s1", "r1", "a", "b")
    await add_run("s2", "r2", "c")

    await api.delete_session("s1")

    t = db.store.tables
    for table in (t.runs, t.messages):
        rows = await sql(select(table.c.session_id, func.count()).group_by(table.c.session_id))
        assert dict(rows) == {"s2": 1}
    assert await api.get_runs("s1") == []


async def test_delete_missing_session_returns_false(api: Any) -> None:
    """delete_session returns False when there is no such session, and deletes nothing."""
    await new_session(api, "s1")

    assert await api.delete_session("missing") is False
    assert ids(await api.get_sessions()) == ["s1"]


async def test_delete_sessions_deletes_the_given_ids_and_counts_them(api: Any) -> None:
    """delete_sessions removes exactly the given sessions and returns how many existed."""
    for session_id in ("s1", "s2", "s3", "s4"):
        await new_session(api, session_id, user_id="alice")

    deleted = await api.delete_sessions(["s1", "s3", "missing"], "alice")

    assert deleted == 2
    assert sorted(ids(await api.get_sessions())) == ["s2", "s4"]


async def test_delete_sessions_of_nothing_returns_zero(api: Any) -> None:
    """delete_sessions with no existing id returns 0 and deletes nothing."""
    await new_session(api, "s1")

    assert await api.delete_sessions([]) == 0
    assert await api.delete_sessions(["missing"]) == 0
    assert ids(await api.get_sessions()) == ["s1"]


async def test_an_overlong_session_id_is_a_usage_error_everywhere(api: Any) -> None:
    """A session id longer than the store holds raises UsageError on every backend and creates nothing."""
    long_id = "s" * 256

    with pytest.raises(UsageError, match="session_id"):
        await api.create_session(long_id, SessionType.AGENT)

    assert await api.get_sessions() == []


async def test_an_overlong_session_name_is_a_usage_error_and_keeps_the_old_name(api: Any) -> None:
    """Renaming to a name longer than the store holds raises UsageError and keeps the old name."""
    await new_session(api, "s1", session_name="short")

    with pytest.raises(UsageError, match="session_name"):
        await api.rename_session("s1", SessionType.AGENT, "n" * 256)

    session = await api.get_session("s1")
    assert session is not None
    assert session.session_name == "short"
