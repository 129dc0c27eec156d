"""Request models of the legacy `/api/ai/*` API, field for field with InsForge's zod schemas.

Unknown keys are dropped at every level (zod strips them too), and field order is schema order,
which is also the order `model_dump(exclude_unset=True)` writes keys upstream.
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.legacy.validation import (
    Bool,
    OptBool,
    OptMaxTokens,
    OptRecord,
    OptStr,
    Str,
    Union,
    exactly,
    issue,
    not_null,
    number_in,
    one_of,
)


class LegacyModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TextPart(LegacyModel):
    type: Annotated[str, exactly("text")]
    text: Str


class ImageURL(LegacyModel):
    url: Str
    detail: Annotated[str | None, one_of("auto", "low", "high")] = None


class ImagePart(LegacyModel):
    type: Annotated[str, exactly("image_url")]
    image_url: ImageURL


class InputAudio(LegacyModel):
    data: Str
    format: Annotated[str, one_of("wav", "mp3", "aiff", "aac", "ogg", "flac", "m4a")]


class AudioPart(LegacyModel):
    type: Annotated[str, exactly("input_audio")]
    input_audio: InputAudio


class FileData(LegacyModel):
    filename: Str
    file_data: Str


class FilePart(LegacyModel):
    type: Annotated[str, exactly("file")]
    file: FileData


ContentPart = TextPart | ImagePart | AudioPart | FilePart
Content = Annotated[str | list[ContentPart] | None, Union]


class ImageRef(LegacyModel):
    url: Str


class ToolCallFunction(LegacyModel):
    name: Str
    arguments: Str


class ToolCall(LegacyModel):
    id: Str
    type: Annotated[str, exactly("function")]
    function: ToolCallFunction


class ChatMessage(LegacyModel):
    role: Annotated[str, one_of("user", "assistant", "system", "tool")]
    content: Content = None
    images: Annotated[
        list[ImageRef] | None,
        BeforeValidator(not_null("array"), json_schema_input_type=list[ImageRef]),
    ] = None
    tool_calls: Annotated[
        list[ToolCall] | None,
        BeforeValidator(not_null("array"), json_schema_input_type=list[ToolCall]),
    ] = None
    tool_call_id: OptStr = None

    @model_validator(mode="after")
    def _content_required(self) -> "ChatMessage":
        # Only assistant turns may omit `content` (an explicit null is fine for every role).
        if self.role != "assistant" and "content" not in self.model_fields_set:
            raise issue(f"content is required for {self.role} messages")
        return self


class WebSearch(LegacyModel):
    enabled: Bool
    engine: Annotated[str | None, one_of("native", "exa")] = None
    max_results: Annotated[float | None, number_in(ge=1, le=10)] = Field(
        default=None, alias="maxResults"
    )
    search_prompt: OptStr = Field(default=None, alias="searchPrompt")


class PdfOptions(LegacyModel):
    engine: Annotated[str | None, one_of("pdf-text", "mistral-ocr", "native")] = None


class FileParser(LegacyModel):
    enabled: Bool
    pdf: Annotated[
        PdfOptions | None, BeforeValidator(not_null("object"), json_schema_input_type=PdfOptions)
    ] = None


class ToolFunction(LegacyModel):
    name: Str
    description: OptStr = None
    parameters: OptRecord = None


class Tool(LegacyModel):
    type: Annotated[str, exactly("function")]
    function: ToolFunction


class NamedFunction(LegacyModel):
    name: Str


class NamedToolChoice(LegacyModel):
    type: Annotated[str, exactly("function")]
    function: NamedFunction


ToolChoiceValue = Annotated[str, one_of("auto", "none", "required")] | NamedToolChoice
ToolChoice = Annotated[
    ToolChoiceValue | None,
    BeforeValidator(not_null("object"), json_schema_input_type=ToolChoiceValue),
    Union,
]


class ChatCompletionRequest(LegacyModel):
    model: Str
    messages: list[ChatMessage]
    temperature: Annotated[float | None, number_in(ge=0, le=2)] = None
    max_tokens: OptMaxTokens = Field(default=None, alias="maxTokens")
    top_p: Annotated[float | None, number_in(ge=0, le=1)] = Field(default=None, alias="topP")
    stream: OptBool = None
    web_search: Annotated[
        WebSearch | None, BeforeValidator(not_null("object"), json_schema_input_type=WebSearch)
    ] = Field(default=None, alias="webSearch")
    file_parser: Annotated[
        FileParser | None, BeforeValidator(not_null("object"), json_schema_input_type=FileParser)
    ] = Field(default=None, alias="fileParser")
    thinking: OptBool = None
    tools: Annotated[
        list[Tool] | None, BeforeValidator(not_null("array"), json_schema_input_type=list[Tool])
    ] = None
    tool_choice: ToolChoice = Field(default=None, alias="toolChoice")
    parallel_tool_calls: OptBool = Field(default=None, alias="parallelToolCalls")


def dump(model: LegacyModel) -> dict[str, Any]:
    """The stripped object as zod would hand it on: present keys only, schema order."""
    return model.model_dump(exclude_unset=True, by_alias=True)


class ImageGenerationRequest(LegacyModel):
    """The whole legacy image schema: size, n, quality and the like are stripped."""

    model: Str
    prompt: Str
    images: Annotated[
        list[ImageRef] | None,
        BeforeValidator(not_null("array"), json_schema_input_type=list[ImageRef]),
    ] = None


EmbeddingInput = Annotated[str | list[Str], Union]


class EmbeddingsRequest(LegacyModel):
    model: Str
    input: EmbeddingInput
    encoding_format: Annotated[str | None, one_of("float", "base64")] = None
    dimensions: Annotated[float | None, number_in(ge=0, integer=True)] = None
