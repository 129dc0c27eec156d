"""An AI configuration on the legacy chat and image calls, as the legacy backend applied it
(`validateAndGetConfig`): the model's active configuration is looked up by the upstream model
id (`x:thinking` when thinking); its system prompt goes first (chat: a system message; image:
`"<systemPrompt>\\n\\n<prompt>"`); with AI_REQUIRE_CONFIG a model without one is refused as
the legacy backend refused it. Embeddings are not gated. The lookup is the store's cache
(app/ledger/configurations.py), not a query per call.
"""

from app.errors import GatewayError
from app.json_shape import Json
from app.ledger.configurations import ActiveConfig, ConfigsUnavailable
from app.pipeline import Call
from app.policy import model_not_enabled


async def call_config(call: Call, model: str) -> ActiveConfig | None:
    """The model's active configuration (its id noted on the call), or a refusal when one is
    required and there is none."""
    gateway = call.gateway
    store, required = gateway.configs, gateway.settings.ai_require_config
    if store is None:
        return None
    try:
        config = await store.active(model)
    except ConfigsUnavailable:
        if required:
            raise GatewayError(
                "AI configurations are unavailable right now.",
                status_code=503,
                code="AI_GATEWAY_BUSY",
                next_actions="Retry shortly.",
            ) from None
        return None
    if config is None:
        if required:
            raise model_not_enabled(model)
        return None
    call.configuration_id = config.id
    return config


def prepend_to_chat(body: Json, config: ActiveConfig | None) -> None:
    if config is not None and config.system_prompt:
        body["messages"] = [{"role": "system", "content": config.system_prompt}, *body["messages"]]


def prepend_to_image(body: Json, config: ActiveConfig | None) -> None:
    """The prompt is the first message's text (a string, or the first part)."""
    if config is None or not config.system_prompt:
        return
    message = body["messages"][0]
    content = message["content"]
    if isinstance(content, str):
        message["content"] = f"{config.system_prompt}\n\n{content}"
    else:
        content[0] = {**content[0], "text": f"{config.system_prompt}\n\n{content[0]['text']}"}


def prompt_added(config: ActiveConfig | None) -> int:
    """The characters a configuration's system prompt adds to the call's prompt."""
    return len(config.system_prompt) + 2 if config is not None and config.system_prompt else 0
