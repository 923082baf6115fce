"""The shopping-list manager of the session-state guide, as a reusable definition.

From agent-session-state.kern.txt, "Maintaining state across multiple runs" (the runnable seed script
is examples/shopping_list_manager.py): three tools that edit ``session_state["shopping_list"]``
through ``run_context``, and instructions that show the current list to the model on every call::

    from agents.shopping_list import build_shopping_list_agent
    from kern.db.sqlite import SqliteDb

    agent = build_shopping_list_agent(db=SqliteDb(db_file="tmp/example.db"))
    agent.print_response("Add milk, eggs, and bread to the shopping list")
"""

from __future__ import annotations

from textwrap import dedent

from kern.agent import Agent
from kern.db.base import BaseDb
from kern.models.base import Model
from kern.run import RunContext

INSTRUCTIONS = dedent("""\
    Your job is to manage a shopping list.

    The shopping list starts empty. You can add items, remove items by name, and list all items.

    Current shopping list: {shopping_list}
""")


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list and return confirmation."""
    # Add the item if it's not already in the list
    if item.lower() not in [i.lower() for i in run_context.session_state["shopping_list"]]:
        run_context.session_state["shopping_list"].append(item)
        return f"Added '{item}' to the shopping list"
    return f"'{item}' is already in the shopping list"


def remove_item(run_context: RunContext, item: str) -> str:
    """Remove an item from the shopping list by name."""
    # Case-insensitive search
    for i, list_item in enumerate(run_context.session_state["shopping_list"]):
        if list_item.lower() == item.lower():
            run_context.session_state["shopping_list"].pop(i)
            return f"Removed '{list_item}' from the shopping list"
    return f"'{item}' was not found in the shopping list"


def list_items(run_context: RunContext) -> str:
    """List all items in the shopping list."""
    shopping_list = run_context.session_state["shopping_list"]
    if not shopping_list:
        return "The shopping list is empty."
    items_text = "\n".join([f"- {item}" for item in shopping_list])
    return f"Current shopping list:\n{items_text}"


def build_shopping_list_agent(
    *,
    model: Model | None = None,
    db: BaseDb | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
) -> Agent:
    """The shopping-list manager: ``model`` defaults as for any Agent (``$KERN_MODEL``, else OpenAI)."""
    return Agent(
        id="shopping-list",
        name="Shopping List Manager",
        model=model,
        db=db,
        session_id=session_id,
        user_id=user_id,
        session_state={"shopping_list": []},
        tools=[add_item, remove_item, list_items],
        instructions=INSTRUCTIONS,
        markdown=True,
    )


__all__ = ["INSTRUCTIONS", "add_item", "build_shopping_list_agent", "list_items", "remove_item"]
