"""OpenAIChat and OpenAIResponses: LiteLLM's OpenAI faces, configured from the environment or arguments."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kern.models.litellm import LiteLLM
from kern.models.message import Message
from kern.models.openai import OpenAIChat, OpenAIResponses
from tests.support.openai_server import OpenAIServer, Reply

FACES = [OpenAIChat, OpenAIResponses]
ASK = [Message(role="user", content="Hello?")]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OpenAI settings inherited from the machine running the tests."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return monkeypatch


@pytest.mark.anyio
@pytest.mark.parametrize("face", FACES)
async def test_environment_configures_the_model(
    openai_server: OpenAIServer, clean_env: pytest.MonkeyPatch, face: type[OpenAIChat]
) -> None:
    """OPENAI_BASE_URL and OPENAI_API_KEY point the model at the server and authenticate it."""
    clean_env.setenv("OPENAI_BASE_URL", openai_server.base_url)
    clean_env.setenv("OPENAI_API_KEY", "sk-from-env")
    openai_server.reply("Hi.")
    response = await face("gpt-4o-mini").response(ASK)
    assert response.content == "Hi."
    assert openai_server.requests[0]["model"] == "gpt-4o-mini"
    assert openai_server.request_headers[0]["authorization"] == "Bearer sk-from-env"


@pytest.mark.anyio
@pytest.mark.parametrize("face", FACES)
async def test_explicit_arguments_win(
    openai_server: OpenAIServer, clean_env: pytest.MonkeyPatch, face: type[OpenAIChat]
) -> None:
    """base_url and api_key given to the constructor override the environment."""
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    clean_env.setenv("OPENAI_API_KEY", "sk-from-env")
    openai_server.reply("Hi.")
    model = face("gpt-4o-mini", base_url=openai_server.base_url, api_key="sk-explicit")
    await model.response(ASK)
    assert openai_server.request_headers[0]["authorization"] == "Bearer sk-explicit"


@pytest.mark.parametrize("face", FACES)
def test_environment_is_read_when_built(clean_env: pytest.MonkeyPatch, face: type[OpenAIChat]) -> None:
    """The environment is read once, when the model is built; later changes do not move it."""
    clean_env.setenv("OPENAI_BASE_URL", "http://first/v1")
    model = face("gpt-4o-mini")
    clean_env.setenv("OPENAI_BASE_URL", "http://second/v1")
    assert model.api_base == "http://first/v1"


@pytest.mark.parametrize("face", FACES)
def test_unset_environment_leaves_litellm_defaults(
    clean_env: pytest.MonkeyPatch, face: type[OpenAIChat]
) -> None:
    """Without environment or arguments, base URL and key are left to litellm (api.openai.com)."""
    model = face("gpt-4o-mini")
    assert (model.api_base, model.api_key) == (None, None)


@pytest.mark.parametrize("face", FACES)
def test_face_is_a_litellm_openai_model(clean_env: pytest.MonkeyPatch, face: type[OpenAIChat]) -> None:
    """A face is a LiteLLM whose id carries litellm's ``openai/`` provider prefix."""
    model = face("gpt-4o-mini", temperature=0)
    assert isinstance(model, LiteLLM)
    assert model.id == "openai/gpt-4o-mini"
    assert model.settings == {"temperature": 0}


def test_repr_shows_the_name_given_and_hides_the_key(clean_env: pytest.MonkeyPatch) -> None:
    """repr reads like the constructor call, with the key masked."""
    model = OpenAIResponses("gpt-4o-mini", base_url="http://llm/v1", api_key="sk-secret")
    assert repr(model) == "OpenAIResponses('gpt-4o-mini', api_base='http://llm/v1', api_key='***', retries=2)"


@pytest.mark.slow
def test_subprocess_reaches_the_server_through_the_environment(openai_server: OpenAIServer) -> None:
    """A script run as a subprocess with OPENAI_BASE_URL talks to the loopback server's responder."""
    openai_server.responder = lambda request: Reply(
        content="policy says: " + request["messages"][-1]["content"]
    )
    script = (
        "import anyio\n"
        "from kern.models.message import Message\n"
        "from kern.models.openai import OpenAIChat\n"
        "async def main():\n"
        "    response = await OpenAIChat('gpt-4o-mini').response([Message(role='user', content='ping')])\n"
        "    print(response.content)\n"
        "anyio.run(main)\n"
    )
    env = {**os.environ, "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": "sk-sub"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "policy says: ping"), result.stderr
