"""The examples of agent-session-state.kern.txt, run against the loopback OpenAI server.

Each test scripts the model's side of the conversation the seed implies (the tool calls a model would
make, then its answer) and checks what really happened: the state stored in the example's SQLite file,
what the server was sent (tool schemas, rendered instructions), and what the example printed.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tests.acceptance.conftest import ExampleRun, sqlite_sessions
from tests.support.openai_server import OpenAIServer


def system_message(request: dict[str, Any]) -> str:
    """The system message a request carried."""
    first = request["messages"][0]
    assert first["role"] == "system", request["messages"]
    return first["content"]


def tool_messages(request: dict[str, Any]) -> list[str]:
    """The tool results a request carried, in order."""
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def printed_states(output: str, label: str) -> list[dict[str, Any]]:
    """The dicts printed after ``label`` ("Session state: ..."), in order."""
    return [ast.literal_eval(line.split(label, 1)[1]) for line in output.splitlines() if label in line]


def only_state(db_file: Path) -> dict[str, Any]:
    """The state of the one session stored in ``db_file``."""
    sessions = sqlite_sessions(db_file)
    assert len(sessions) == 1, sessions
    return next(iter(sessions.values())).session_state


def script_three_items(server: OpenAIServer) -> None:
    server.reply(tool_calls=[("add_item", {"item": item}) for item in ("milk", "eggs", "bread")])
    server.reply("I've added milk, eggs, and bread to your shopping list.")


# --- State Management: the shopping-list example ---------------------------------------------------


def test_shopping_list_stores_what_the_tool_added(
    openai_server: OpenAIServer, run_example: Any, example_dir: Path
) -> None:
    """The items add_item put in run_context.session_state are in tmp/agents.db and printed."""
    script_three_items(openai_server)
    run: ExampleRun = run_example("shopping_list.py")
    assert sorted(only_state(example_dir / "tmp/agents.db")["shopping_list"]) == ["bread", "eggs", "milk"]
    [final] = printed_states(run.output, "Final session state: ")
    assert sorted(final["shopping_list"]) == ["bread", "eggs", "milk"]
    assert "I've added milk, eggs, and bread to your shopping list." in run.output


def test_shopping_list_instructions_show_the_current_list(
    openai_server: OpenAIServer, run_example: Any
) -> None:
    """{shopping_list} in the instructions is rendered from the state on each model call."""
    script_three_items(openai_server)
    run_example("shopping_list.py")
    first, second = openai_server.requests
    assert system_message(first).startswith("Current state (shopping list) is: []")
    rendered = system_message(second).split("\n")[0]
    assert all(item in rendered for item in ("milk", "eggs", "bread")), rendered


def test_shopping_list_tool_schema_hides_the_run_context(
    openai_server: OpenAIServer, run_example: Any
) -> None:
    """The model is offered add_item(item: string) with its docstring, and never run_context."""
    script_three_items(openai_server)
    run_example("shopping_list.py")
    [tool] = openai_server.requests[0]["tools"]
    assert tool["function"]["name"] == "add_item"
    assert tool["function"]["description"] == "Add an item to the shopping list."
    parameters = tool["function"]["parameters"]
    assert parameters["properties"] == {"item": {"type": "string"}}
    assert parameters["required"] == ["item"]


# --- Maintaining state across multiple runs: the shopping-list manager ------------------------------


def script_manager(server: OpenAIServer) -> None:
    script_three_items(server)
    server.reply(tool_calls=[("remove_item", {"item": "bread"})])
    server.reply("Great, I removed bread from your list.")
    server.reply(tool_calls=[("add_item", {"item": "apples"}), ("add_item", {"item": "oranges"})])
    server.reply("Added apples and oranges.")
    server.reply(tool_calls=[("list_items", {})])
    server.reply("You have milk, eggs, apples and oranges on your list.")
    clear = [("remove_item", {"item": item}) for item in ("milk", "eggs", "apples", "oranges")]
    server.reply(tool_calls=[*clear, ("add_item", {"item": "bananas"}), ("add_item", {"item": "yogurt"})])
    server.reply("Your list now has just bananas and yogurt.")


def test_manager_keeps_the_list_across_five_runs(
    openai_server: OpenAIServer, run_example: Any, example_dir: Path
) -> None:
    """Each run continues the stored list; the state printed after each run follows the conversation."""
    script_manager(openai_server)
    run = run_example("shopping_list_manager.py")
    lists = [sorted(s["shopping_list"]) for s in printed_states(run.output, "Session state: ")]
    assert lists == [
        ["bread", "eggs", "milk"],
        ["eggs", "milk"],
        ["apples", "eggs", "milk", "oranges"],
        ["apples", "eggs", "milk", "oranges"],
        ["bananas", "yogurt"],
    ]
    assert sorted(only_state(example_dir / "tmp/example.db")["shopping_list"]) == ["bananas", "yogurt"]


def test_manager_tool_results_reach_the_model(openai_server: OpenAIServer, run_example: Any) -> None:
    """remove_item and list_items answer from the live list, and the model reads their results."""
    script_manager(openai_server)
    run_example("shopping_list_manager.py")
    after_remove = tool_messages(openai_server.requests[3])
    assert after_remove[-1] == "Removed 'bread' from the shopping list"
    listed = tool_messages(openai_server.requests[7])[-1]
    assert listed.startswith("Current shopping list:\n")
    assert sorted(listed.splitlines()[1:]) == ["- apples", "- eggs", "- milk", "- oranges"]


def test_manager_instructions_show_the_list_loaded_from_the_db(
    openai_server: OpenAIServer, run_example: Any
) -> None:
    """A later run's instructions are rendered from the list the earlier runs stored."""
    script_manager(openai_server)
    run_example("shopping_list_manager.py")
    system = system_message(openai_server.requests[2])  # first call of "I got bread"
    assert system.startswith("Your job is to manage a shopping list.")
    current = next(line for line in system.splitlines() if line.startswith("Current shopping list:"))
    assert all(item in current for item in ("milk", "eggs", "bread")), current


# --- Agentic Session State -----------------------------------------------------------------------------


def script_agentic(server: OpenAIServer) -> None:
    updates = {"updates": {"shopping_list": ["milk", "eggs", "bread"]}}
    server.reply(tool_calls=[("update_session_state", updates)])
    server.reply("Your shopping list now has milk, eggs, and bread.")


def test_agentic_state_update_is_stored(
    openai_server: OpenAIServer, run_example: Any, example_dir: Path
) -> None:
    """The model's update_session_state call changes the stored state, which the example prints."""
    script_agentic(openai_server)
    run = run_example("agentic_state.py")
    expected = {"shopping_list": ["milk", "eggs", "bread"]}
    assert only_state(example_dir / "tmp/agents.db") == expected
    assert printed_states(run.output, "Session state: ") == [expected]


def test_agentic_state_tool_and_state_are_in_the_request(
    openai_server: OpenAIServer, run_example: Any
) -> None:
    """The model is offered update_session_state(updates: object) and sees the state in its context."""
    script_agentic(openai_server)
    run_example("agentic_state.py")
    first, second = openai_server.requests
    [tool] = first["tools"]
    assert tool["function"]["name"] == "update_session_state"
    assert tool["function"]["parameters"]["properties"]["updates"]["type"] == "object"
    assert tool["function"]["parameters"]["required"] == ["updates"]
    assert "<session_state>" in system_message(first)
    assert '"shopping_list": []' in system_message(first)
    assert '"milk"' in system_message(second)


# --- Using state in instructions -----------------------------------------------------------------------


def test_state_in_instructions_renders_the_users_name(openai_server: OpenAIServer, run_example: Any) -> None:
    """The model is told "Users name is John" and the example prints its answer."""
    openai_server.reply("Your name is John.")
    run = run_example("state_in_instructions.py")
    [request] = openai_server.requests
    assert system_message(request).startswith("Users name is John\n")
    assert request["messages"][-1] == {"role": "user", "content": "What is my name?"}
    assert "Your name is John." in run.output


# --- Changing state on run -----------------------------------------------------------------------------


def script_four_answers(server: OpenAIServer) -> None:
    for answer in ("You are John.", "You are 30.", "You are Jane.", "You are 25."):
        server.reply(answer)


def test_change_state_on_run_renders_each_sessions_state(
    openai_server: OpenAIServer, run_example: Any
) -> None:
    """Runs that pass state render it; runs that only name the session render the stored state."""
    script_four_answers(openai_server)
    run_example("change_state_on_run.py")
    assert [system_message(r) for r in openai_server.requests] == [
        "Users name is John and age is 30",
        "Users name is John and age is 30",
        "Users name is Jane and age is 25",
        "Users name is Jane and age is 25",
    ]


def test_change_state_on_run_stores_one_session_per_user(
    openai_server: OpenAIServer, run_example: Any, example_dir: Path
) -> None:
    """Each user's session is stored under its own id and owner, with its own state."""
    script_four_answers(openai_server)
    run_example("change_state_on_run.py")
    sessions = sqlite_sessions(example_dir / "tmp/agents.db")
    assert sorted(sessions) == ["user_1_session_1", "user_2_session_1"]
    john, jane = sessions["user_1_session_1"], sessions["user_2_session_1"]
    assert (john.user_id, john.session_state) == ("user_1", {"user_name": "John", "age": 30})
    assert (jane.user_id, jane.session_state) == ("user_2", {"user_name": "Jane", "age": 25})
    assert [len(s.runs) for s in (john, jane)] == [2, 2]


# --- Overwriting the state in the db -------------------------------------------------------------------


def script_overwrite(server: OpenAIServer) -> None:
    server.reply("Your session_state has a shopping_list with Potatoes.")
    server.reply("Your session_state has secret_number 43.")


def test_overwrite_replaces_the_stored_state(
    openai_server: OpenAIServer, run_example: Any, example_dir: Path
) -> None:
    """With overwrite_db_session_state the second run's state replaces the first's instead of merging."""
    script_overwrite(openai_server)
    run = run_example("overwrite_db_state.py")
    assert printed_states(run.output, "Stored session state: ") == [
        {"shopping_list": ["Potatoes"]},
        {"secret_number": 43},
    ]
    assert only_state(example_dir / "tmp/agents.db") == {"secret_number": 43}


def test_overwrite_context_shows_only_the_new_state(openai_server: OpenAIServer, run_example: Any) -> None:
    """The second run's context holds the new state and nothing of the overwritten one."""
    script_overwrite(openai_server)
    run_example("overwrite_db_state.py")
    first, second = (system_message(r) for r in openai_server.requests)
    assert '"Potatoes"' in first
    assert '"secret_number": 43' in second
    assert "Potatoes" not in second


# --- the store round-trip (no model) -------------------------------------------------------------------


def test_store_roundtrip_continues_the_session_when_run_twice(run_example: Any) -> None:
    """The second run of store_roundtrip.py finds the first one's visit and counts on."""
    first = run_example("store_roundtrip.py")
    second = run_example("store_roundtrip.py")
    assert "state={'visits': 1}" in first.output
    assert "state={'visits': 2}" in second.output
    assert "2 runs, last message: visit number 2" in second.output
