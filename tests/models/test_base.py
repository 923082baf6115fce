"""ResponseAssembler: streamed deltas back into one ModelResponse, however the tool calls were fragmented."""

from __future__ import annotations

from kern.models.base import ModelDelta, ResponseAssembler, ToolCallDelta, ToolDefinition, Usage
from kern.models.message import ToolCall


def assemble(*deltas: ModelDelta) -> ResponseAssembler:
    """An assembler that has taken in ``deltas``."""
    assembler = ResponseAssembler()
    for delta in deltas:
        assembler.add(delta)
    return assembler


def fragment(
    index: int, arguments: str = "", *, id: str | None = None, name: str | None = None
) -> ModelDelta:
    """A delta carrying one tool-call fragment."""
    return ModelDelta(tool_calls=(ToolCallDelta(index=index, id=id, name=name, arguments=arguments),))


def test_text_is_concatenated() -> None:
    """Text deltas join into the content, in order."""
    response = assemble(ModelDelta(content="Milk "), ModelDelta(content="added."), ModelDelta()).build()
    assert response.content == "Milk added."


def test_no_text_means_no_content() -> None:
    """An answer with only tool calls has content None, not an empty string."""
    assert assemble(fragment(0, "{}", id="call_1", name="add_item")).build().content is None


def test_id_and_name_from_the_first_fragment() -> None:
    """A call's id and name, sent on its first fragment only, hold for the whole call."""
    response = assemble(
        fragment(0, id="call_1", name="add_item"),
        fragment(0, '{"it'),
        fragment(0, 'em": '),
        fragment(0, '"milk"}'),
    ).build()
    assert response.tool_calls == (ToolCall(id="call_1", name="add_item", arguments='{"item": "milk"}'),)


def test_interleaved_calls_are_kept_apart() -> None:
    """Fragments of several calls, interleaved, are joined per call index."""
    response = assemble(
        fragment(0, id="call_a", name="add_item"),
        fragment(1, id="call_b", name="remove_item"),
        fragment(0, '{"item": '),
        fragment(1, '{"item": '),
        fragment(1, '"eggs"}'),
        fragment(0, '"milk"}'),
    ).build()
    assert response.tool_calls == (
        ToolCall(id="call_a", name="add_item", arguments='{"item": "milk"}'),
        ToolCall(id="call_b", name="remove_item", arguments='{"item": "eggs"}'),
    )


def test_calls_are_ordered_by_index() -> None:
    """Calls come out in index order even when a later index starts first."""
    response = assemble(
        fragment(1, "{}", id="call_b", name="second"), fragment(0, "{}", id="call_a", name="first")
    )
    assert [call.name for call in response.build().tool_calls] == ["first", "second"]


def test_several_fragments_in_one_delta() -> None:
    """One delta may carry fragments of several calls."""
    both = ModelDelta(
        tool_calls=(
            ToolCallDelta(index=0, id="call_a", name="add_item", arguments='{"item": "milk"}'),
            ToolCallDelta(index=1, id="call_b", name="add_item", arguments='{"item": "eggs"}'),
        )
    )
    assert [call.id for call in assemble(both).build().tool_calls] == ["call_a", "call_b"]


def test_missing_id_and_arguments_get_defaults() -> None:
    """A call without an id gets one from its index, and empty arguments become ``{}``."""
    response = assemble(fragment(3, name="ping")).build()
    assert response.tool_calls == (ToolCall(id="call_3", name="ping", arguments="{}"),)


def test_usage_and_finish_reason_are_kept() -> None:
    """The usage and finish reason, sent on their own deltas, reach the response."""
    response = assemble(
        ModelDelta(content="Done."),
        ModelDelta(finish_reason="stop"),
        ModelDelta(usage=Usage(input_tokens=12, output_tokens=3)),
    ).build()
    assert (response.usage, response.finish_reason) == (Usage(12, 3), "stop")


def test_empty_stream_builds_an_empty_response() -> None:
    """No deltas at all give an empty response with zero usage."""
    response = ResponseAssembler().build()
    assert (response.content, response.tool_calls, response.usage, response.finish_reason) == (
        None,
        (),
        Usage(),
        None,
    )


def test_usage_adds_up() -> None:
    """Usage of several calls sums per direction."""
    total = Usage(10, 2) + Usage(5, 1)
    assert (total, total.total_tokens) == (Usage(15, 3), 18)


def test_tool_definition_in_openai_format() -> None:
    """A tool definition becomes an OpenAI function tool."""
    tool = ToolDefinition(name="add_item", description="Add an item.", parameters={"type": "object"})
    assert tool.to_openai() == {
        "type": "function",
        "function": {"name": "add_item", "description": "Add an item.", "parameters": {"type": "object"}},
    }


def test_parallel_calls_streamed_at_one_index_stay_separate() -> None:
    """Servers that stream every parallel call at index 0 (new id each) still give separate calls."""
    assembler = ResponseAssembler()
    for fragment in (
        ToolCallDelta(index=0, id="a", name="first", arguments='{"x":'),
        ToolCallDelta(index=0, arguments="1}"),
        ToolCallDelta(index=0, id="b", name="second", arguments='{"y": 2}'),
    ):
        assembler.add(ModelDelta(tool_calls=(fragment,)))
    calls = assembler.build().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "first", '{"x":1}'),
        ("b", "second", '{"y": 2}'),
    ]
