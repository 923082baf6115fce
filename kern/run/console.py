"""Printing a run to the terminal with rich: the message, the tool calls, and the response.

Driven by the run's events, so an Agent, a Team and a Workflow print the same way. With a terminal the
response is redrawn live as it streams; otherwise (a pipe, a test) the final panels print once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from kern.run.events import RunCompleted, RunContent, RunEvent, RunStarted, StepCompleted, ToolCallCompleted
from kern.run.output import RunOutput, ToolExecution


async def print_events(
    events: AsyncIterator[RunEvent],
    *,
    input: str,
    markdown: bool,
    show_tool_calls: bool = True,
    console: Console | None = None,
) -> RunOutput | None:
    """Render ``events`` as they come and return the run's output."""
    view = _View(input=input, markdown=markdown, show_tool_calls=show_tool_calls)
    console = console or Console()
    if not console.is_terminal:  # nothing to redraw: print the exchange once, when it is complete
        async for event in events:
            view.take(event)
        console.print(view.render())
        return view.output
    with Live(view.render(), console=console, auto_refresh=False, transient=False) as live:
        async for event in events:
            if view.take(event):
                live.update(view.render(), refresh=True)
    return view.output


class _View:
    def __init__(self, *, input: str, markdown: bool, show_tool_calls: bool) -> None:
        self.input = input
        self.markdown = markdown
        self.show_tool_calls = show_tool_calls
        self.text: list[str] = []
        self.tools: list[ToolExecution] = []
        self.final: str | None = None
        self.output: RunOutput | None = None
        self.source: str | None = None
        self.sources: list[str] = []
        self.steps: list[StepCompleted] = []

    def take(self, event: RunEvent) -> bool:
        """Take in an event; True when it changed what is shown."""
        if isinstance(event, RunStarted):
            self.source = event.source
            return False
        if isinstance(event, RunContent):
            if event.source == self.source:  # a team's members answer the coordinator, not the user
                self.text.append(event.content)
        elif isinstance(event, ToolCallCompleted):
            self.tools.append(event.tool)
            self.sources.append(event.source)
        elif isinstance(event, StepCompleted):
            self.steps.append(event)
        elif isinstance(event, RunCompleted):
            self.output = event.output
            self.final = event.output.get_content_as_string()
        else:
            return False
        return True

    def render(self) -> RenderableType:
        panels: list[RenderableType] = [Panel(Text(self.input), title="Message", border_style="cyan")]
        if self.steps:
            panels.append(Panel(Group(*map(_step_line, self.steps)), title="Steps", border_style="magenta"))
        if self.show_tool_calls and self.tools:
            members = (s if s != self.source else None for s in self.sources)
            lines = [_tool_line(tool, member) for tool, member in zip(self.tools, members, strict=True)]
            panels.append(Panel(Group(*lines), title="Tool calls", border_style="yellow"))
        response = self.final if self.final is not None else "".join(self.text)
        if response:
            body: RenderableType = Markdown(response) if self.markdown else Text(response)
            panels.append(Panel(body, title="Response", border_style="blue"))
        return Group(*panels)


def _tool_line(tool: ToolExecution, member: str | None) -> Text:
    line = Text("• ")
    if member is not None:
        line.append(f"{member}: ", style="dim")
    line.append(f"{tool.name}({tool.arguments})", style="bold")
    if tool.is_error:
        line.append(f"  {tool.result}", style="red")
    return line


def _step_line(step: StepCompleted) -> Text:
    line = Text(
        "✓ " if step.status == "completed" else "✗ ", style="green" if step.status == "completed" else "red"
    )
    line.append(f"{step.step_name} ", style="bold")
    line.append(f"[{step.step_path}] {step.status}{' (recorded)' if step.replayed else ''}", style="dim")
    if step.error:
        line.append(f"  {step.error}", style="red")
    return line
