"""Teams (DESIGN.md §6): delegation, parallel members on one shared state, modes, persistence."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import UsageError
from kern.run import MemberRunCompleted, MemberRunStarted, RunContent, RunStatus
from kern.session.schema import SessionType
from kern.team import Team
from kern.testing import FunctionModel, ModelRequest, ScriptedModel, tool_call


def append(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the shared list."""
    session_state.setdefault("items", []).append(item)
    return "ok"


def appender(member_id: str, count: int) -> Agent:
    """A member that appends ``count`` items in one turn of parallel tool calls, then reports."""

    def answer(request: ModelRequest) -> object:
        if request.tool_results:
            return f"{member_id} added {len(request.tool_results)}"
        return [tool_call("append", item=f"{member_id}-{i}") for i in range(count)]

    return Agent(id=member_id, model=FunctionModel(answer), tools=[append])


def delegate(member_id: str, task: str = "do your part") -> Any:
    return tool_call("delegate_task_to_member", member_id=member_id, task=task)


@pytest.mark.anyio
async def test_parallel_members_keep_every_write_to_the_shared_state(agent_db: SyncDb) -> None:
    """4 members delegated in one turn, each appending 25 items through its own tool: all 100 are stored."""
    members = [appender(f"m{n}", 25) for n in range(4)]
    coordinator = ScriptedModel([delegate(m.component_id) for m in members], "all done")
    team = Team(model=coordinator, members=members, db=agent_db, session_state={"items": []})
    output = await team.arun("fill the list")
    expected = sorted(f"m{n}-{i}" for n in range(4) for i in range(25))
    assert sorted(output.session_state["items"]) == expected
    assert sorted((await team.aget_session_state())["items"]) == expected
    assert sorted(r.source for r in output.member_responses) == ["m0", "m1", "m2", "m3"]


@pytest.mark.anyio
async def test_delegations_of_one_turn_run_in_parallel() -> None:
    """Two members that each wait for the other both finish: they ran at the same time."""
    ping, pong = anyio.Event(), anyio.Event()

    async def first() -> str:
        """Set ping, wait for pong."""
        ping.set()
        await pong.wait()
        return "first"

    async def second() -> str:
        """Wait for ping, set pong."""
        await ping.wait()
        pong.set()
        return "second"

    one = Agent(id="one", model=ScriptedModel(tool_call("first"), "one done"), tools=[first])
    two = Agent(id="two", model=ScriptedModel(tool_call("second"), "two done"), tools=[second])
    team = Team(model=ScriptedModel([delegate("one"), delegate("two")], "both"), members=[one, two])
    with anyio.fail_after(10):
        output = await team.arun("go")
    assert output.content == "both"


@pytest.mark.anyio
async def test_max_concurrency_bounds_the_members_running_at_once() -> None:
    """With max_concurrency=1 the members run one after the other."""
    running, peak = 0, 0

    async def work() -> str:
        """Work a little."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.lowlevel.checkpoint()
        running -= 1
        return "worked"

    members = [
        Agent(id=f"w{n}", model=ScriptedModel(tool_call("work"), "ok"), tools=[work]) for n in range(3)
    ]
    coordinator = ScriptedModel([delegate(f"w{n}") for n in range(3)], "done")
    await Team(model=coordinator, members=members, max_concurrency=1).arun("go")
    assert peak == 1


def test_member_runs_are_stored_with_their_parent(agent_db: SyncDb) -> None:
    """Each member run is a child run of the team run, with the member's id and its task."""
    members = [appender("m0", 1), appender("m1", 1)]
    coordinator = ScriptedModel([delegate("m0", "task zero"), delegate("m1", "task one")], "done")
    team = Team(model=coordinator, members=members, db=agent_db, id="crew")
    output = team.run("go")
    runs = agent_db.get_runs(team.default_session_id)
    top = [r for r in runs if r.parent_run_id is None]
    children = sorted((r.component_id, r.input, r.status) for r in runs if r.parent_run_id == output.run_id)
    assert [(r.run_id, r.component_id, r.status) for r in top] == [
        (output.run_id, "crew", RunStatus.completed)
    ]
    assert children == [("m0", "task zero", RunStatus.completed), ("m1", "task one", RunStatus.completed)]
    session = agent_db.get_session(team.default_session_id, SessionType.TEAM)
    assert session is not None
    assert session.session_type is SessionType.TEAM


def test_history_holds_the_coordinators_conversation_only(agent_db: SyncDb) -> None:
    """The team's history is its own exchanges, not its members' runs."""
    coordinator = ScriptedModel(delegate("m0"), "first answer", "second answer")
    team = Team(model=coordinator, members=[appender("m0", 1)], db=agent_db)
    team.run("first")
    team.run("second")
    roles = [(m.role, m.content) for m in coordinator.requests[2].messages if m.role != "system"]
    assert roles[0] == ("user", "first")
    assert roles[-1] == ("user", "second")
    assert all(m.name != "append" for m in coordinator.requests[2].messages)


@pytest.mark.anyio
async def test_nested_team_shares_the_same_state(agent_db: SyncDb) -> None:
    """A team that is a member of a team works on the outer team's one state; its runs nest."""
    inner = Team(
        id="inner", model=ScriptedModel(delegate("deep"), "inner done"), members=[appender("deep", 3)]
    )
    outer = Team(
        model=ScriptedModel([delegate("inner"), delegate("shallow")], "outer done"),
        members=[inner, appender("shallow", 2)],
        db=agent_db,
        session_state={"items": []},
    )
    output = await outer.arun("go")
    assert sorted(output.session_state["items"]) == ["deep-0", "deep-1", "deep-2", "shallow-0", "shallow-1"]
    runs = agent_db.get_runs(outer.default_session_id)
    by_id = {r.run_id: r for r in runs}
    deep = next(r for r in runs if r.component_id == "deep")
    assert deep.parent_run_id is not None
    assert by_id[deep.parent_run_id].component_id == "inner"
    assert by_id[deep.parent_run_id].parent_run_id == output.run_id


@pytest.mark.anyio
async def test_route_answers_with_the_chosen_member() -> None:
    """In route mode the chosen member's answer is the team's, and the coordinator is asked once."""
    coordinator = ScriptedModel(delegate("expert", "explain"))
    expert = Agent(id="expert", model=ScriptedModel("the expert's answer"))
    other = Agent(id="other", model=ScriptedModel())
    output = await Team(model=coordinator, members=[expert, other], mode="route").arun("question")
    assert output.content == "the expert's answer"
    assert len(coordinator.requests) == 1


@pytest.mark.anyio
async def test_broadcast_sends_one_task_to_every_member() -> None:
    """In broadcast mode every member gets the task and the coordinator sees every answer."""
    coordinator = ScriptedModel(tool_call("delegate_task_to_members", task="vote"), "tallied")
    models = [ScriptedModel(f"vote {n}") for n in range(3)]
    members = [Agent(id=f"v{n}", model=model) for n, model in enumerate(models)]
    output = await Team(model=coordinator, members=members, mode="broadcast").arun("decide")
    assert output.content == "tallied"
    result = coordinator.requests[1].tool_results[0].content or ""
    assert all(f"vote {n}" in result for n in range(3))
    assert [t.name for t in coordinator.requests[0].tools] == ["delegate_task_to_members"]
    assert [model.requests[0].last_user_message for model in models] == ["vote"] * 3


@pytest.mark.anyio
async def test_unknown_member_is_an_error_result() -> None:
    """Delegating to a member that does not exist gives the coordinator an error naming the members."""
    coordinator = ScriptedModel(delegate("ghost"), "recovered")
    output = await Team(model=coordinator, members=[appender("real", 1)]).arun("go")
    assert output.content == "recovered"
    result = coordinator.requests[1].tool_results[0].content or ""
    assert "ghost" in result
    assert "real" in result


@pytest.mark.anyio
async def test_failing_member_is_an_error_result_and_its_run_is_recorded(agent_db: SyncDb) -> None:
    """A member whose model fails gives the coordinator an error result; the member run is stored as error."""
    from kern.exceptions import ModelRequestError

    broken = Agent(id="broken", model=ScriptedModel(ModelRequestError("member model down")))
    coordinator = ScriptedModel(delegate("broken"), "handled")
    team = Team(model=coordinator, members=[broken], db=agent_db)
    output = await team.arun("go")
    assert output.content == "handled"
    assert "member model down" in (coordinator.requests[1].tool_results[0].content or "")
    member_run = next(r for r in agent_db.get_runs(team.default_session_id) if r.component_id == "broken")
    assert member_run.status is RunStatus.error


@pytest.mark.anyio
async def test_member_events_carry_their_source() -> None:
    """A streamed team run shows member runs starting and ending, and member text tagged with the member."""
    member = Agent(id="writer", model=ScriptedModel("member words"))
    team = Team(id="crew", model=ScriptedModel(delegate("writer"), "team words"), members=[member])
    events = [e async for e in team.arun("go", stream=True)]
    started = [e for e in events if isinstance(e, MemberRunStarted)]
    completed = [e for e in events if isinstance(e, MemberRunCompleted)]
    assert [(e.member_id, e.source) for e in started] == [("writer", "crew")]
    assert completed[0].output.content == "member words"
    text = {
        source: "".join(e.content for e in events if isinstance(e, RunContent) and e.source == source)
        for source in ("writer", "crew")
    }
    assert text == {"writer": "member words", "crew": "team words"}


@pytest.mark.anyio
async def test_cancelling_the_team_cancels_its_members(agent_db: SyncDb) -> None:
    """Cancelling a team run cancels the member in flight; both runs are recorded as cancelled."""
    started = anyio.Event()

    async def hang() -> str:
        """Hang."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    member = Agent(id="slow", model=ScriptedModel(tool_call("hang")), tools=[hang])
    team = Team(model=ScriptedModel(delegate("slow")), members=[member], db=agent_db)
    async with anyio.create_task_group() as tg:
        tg.start_soon(team.arun, "go")
        await started.wait()
        tg.cancel_scope.cancel()
    statuses = {r.component_id: r.status for r in agent_db.get_runs(team.default_session_id)}
    assert statuses == {"team": RunStatus.cancelled, "slow": RunStatus.cancelled}


def test_agentic_state_on_a_team_offers_the_same_tool() -> None:
    """enable_agentic_state gives the coordinator update_session_state beside the delegation tool."""
    coordinator = ScriptedModel(tool_call("update_session_state", updates={"plan": "ready"}), "ok")
    team = Team(model=coordinator, members=[appender("m", 1)], enable_agentic_state=True)
    output = team.run("plan")
    assert sorted(t.name for t in coordinator.requests[0].tools) == [
        "delegate_task_to_member",
        "update_session_state",
    ]
    assert output.session_state == {"plan": "ready"}


def test_member_ids_must_be_distinct() -> None:
    """Two members with one id are refused when the team is built."""
    with pytest.raises(UsageError, match="distinct"):
        Team(model=ScriptedModel(), members=[appender("same", 1), appender("same", 1)])


def test_roster_lists_the_members_in_the_coordinators_instructions() -> None:
    """The coordinator's system message names each member with its role."""
    coordinator = ScriptedModel("ok")
    planner = Agent(id="planner", description="Breaks work into tasks", model=ScriptedModel())
    Team(model=coordinator, members=[planner], instructions="Lead well").run("hi")
    system = coordinator.requests[0].system or ""
    assert "Lead well" in system
    assert "- planner: Breaks work into tasks" in system


def test_key_deleted_by_a_member_stays_deleted(agent_db: SyncDb) -> None:
    """A member deleting a key of the shared state deletes it in the store too."""

    def forget(session_state: dict[str, Any], key: str) -> str:
        """Forget a key."""
        del session_state[key]
        return "forgotten"

    member = Agent(
        id="cleaner", model=ScriptedModel(tool_call("forget", key="draft"), "clean"), tools=[forget]
    )
    team = Team(
        model=ScriptedModel(delegate("cleaner"), "done"),
        members=[member],
        db=agent_db,
        session_state={"draft": "x", "keep": 1},
    )
    team.run("clean up")
    assert team.get_session_state() == {"keep": 1}


def test_print_response_names_the_member_behind_a_tool_call(capsys: pytest.CaptureFixture[str]) -> None:
    """A team's printed tool calls say which member made them; the response is the coordinator's."""
    team = Team(model=ScriptedModel(delegate("m0"), "team answer"), members=[appender("m0", 1)])
    team.print_response("go")
    printed = capsys.readouterr().out
    assert "m0: append" in printed
    assert "team answer" in printed
    assert "m0 added 1" not in printed.split("Response")[-1]
