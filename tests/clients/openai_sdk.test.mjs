// The official `openai` npm package driving the running gateway's /api/v1 surface.
// Run by tests/test_clients.py, which starts the gateway and the mock and passes their URLs.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import OpenAI from "openai";

const { GATEWAY_URL, POLICY_GATEWAY_URL, QUOTA_GATEWAY_URL, MOCK_URL, USER_TOKEN, EXPIRED_TOKEN, QUOTA_TOKEN } =
  process.env;
const HI = [{ role: "user", content: "Hi" }];

function client(baseURL = GATEWAY_URL, apiKey = USER_TOKEN) {
  return new OpenAI({ baseURL: `${baseURL}/api/v1`, apiKey, maxRetries: 0 });
}

async function upstream(path) {
  const entries = await (await fetch(`${MOCK_URL}/__mock/requests`)).json();
  return entries.filter((e) => e.path === path).map((e) => JSON.parse(e.body));
}

beforeEach(async () => {
  await fetch(`${MOCK_URL}/__mock/reset`, { method: "POST" });
});

test("chat, with user set to the caller", async () => {
  const res = await client().chat.completions.create({ model: "mock/text", messages: HI, user: "spoofed" });
  assert.equal(res.choices[0].message.content, "Hello there!");
  const [sent] = await upstream("/api/v1/chat/completions");
  assert.equal(sent.user, "user-42");
});

test("streaming text ends cleanly with usage", async () => {
  const stream = await client().chat.completions.create({ model: "mock/text", messages: HI, stream: true });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, "Hello!");
  assert.equal(usage.total_tokens, 20);
});

test("streamed tool calls reassembled by the SDK", async () => {
  const runner = client().chat.completions.stream({
    model: "mock/tool?parallel=2",
    messages: HI,
    tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
  });
  const final = await runner.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert.equal(calls.length, 2);
  for (const call of calls) assert.equal(typeof JSON.parse(call.function.arguments), "object");
});

test("response_format json_schema passes through", async () => {
  const format = {
    type: "json_schema",
    json_schema: { name: "w", strict: true, schema: { type: "object", properties: { t: { type: "number" } } } },
  };
  await client().chat.completions.create({ model: "mock/text", messages: HI, response_format: format });
  const [sent] = await upstream("/api/v1/chat/completions");
  assert.deepEqual(sent.response_format, format);
});

test("embeddings: float and base64 give the same vector", async () => {
  const c = client();
  const floats = await c.embeddings.create({ model: "openai/text-embedding-3-small", input: "Hello", encoding_format: "float" });
  const viaDefault = await c.embeddings.create({ model: "openai/text-embedding-3-small", input: "Hello" });
  const expected = floats.data[0].embedding.map((v) => Math.fround(v));
  assert.deepEqual(viaDefault.data[0].embedding, expected);
  const sent = await upstream("/api/v1/embeddings");
  assert.deepEqual(sent.map((b) => b.encoding_format), ["float", "float"]);
});

test("refused model and capped max_tokens", async () => {
  const c = client(POLICY_GATEWAY_URL);
  await assert.rejects(c.chat.completions.create({ model: "anthropic/claude-3.7-sonnet", messages: HI }), (err) => {
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, "model_not_allowed");
    return true;
  });
  assert.deepEqual(await upstream("/api/v1/chat/completions"), []);
  await c.chat.completions.create({ model: "mock/text", messages: HI, max_tokens: 99999 });
  const [sent] = await upstream("/api/v1/chat/completions");
  assert.equal(sent.max_tokens, 1000);
});

test("expired token is a 401", async () => {
  await assert.rejects(client(GATEWAY_URL, EXPIRED_TOKEN).chat.completions.create({ model: "mock/text", messages: HI }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError);
    return true;
  });
});

test("a mid-stream error surfaces as an exception", async () => {
  const stream = await client().chat.completions.create({
    model: "mock/midstream_error?shape=B&after=2&code=502",
    messages: HI,
    stream: true,
  });
  const seen = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta?.content ?? "");
    })(),
    (err) => err instanceof OpenAI.APIError && /Provider returned error/.test(err.message),
  );
  assert.ok(seen.join("").length > 0);
});

test("over a limit: a RateLimitError with Retry-After, before anything goes upstream", async () => {
  const c = client(QUOTA_GATEWAY_URL, QUOTA_TOKEN);
  const first = await c.chat.completions.create({ model: "mock/text", messages: HI }).withResponse();
  assert.equal(first.response.headers.get("x-ratelimit-limit"), "1");
  assert.equal(first.response.headers.get("x-ratelimit-remaining"), "0");
  await assert.rejects(c.chat.completions.create({ model: "mock/text", messages: HI, stream: true }), (err) => {
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.code, "rate_limit_exceeded");
    const retry = typeof err.headers?.get === "function" ? err.headers.get("retry-after") : err.headers["retry-after"];
    assert.ok(Number(retry) > 0);
    return true;
  });
  assert.equal((await upstream("/api/v1/chat/completions")).length, 1);
});
