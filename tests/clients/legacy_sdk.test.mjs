// The real @insforge/sdk@1.5.2 driving the running gateway, which talks to the mock OpenRouter.
// Run by tests/test_clients.py, which starts both processes and passes their URLs and tokens.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { createClient, InsForgeError } from "@insforge/sdk";

const { GATEWAY_URL, QUOTA_GATEWAY_URL, MOCK_URL, USER_TOKEN, EXPIRED_TOKEN, FRESH_TOKEN, QUOTA_TOKEN } =
  process.env;
const USAGE = { promptTokens: 12, completionTokens: 8, totalTokens: 20 };

function userClient() {
  return createClient({ baseUrl: GATEWAY_URL, accessToken: USER_TOKEN });
}

async function upstreamBodies() {
  const entries = await (await fetch(`${MOCK_URL}/__mock/requests`)).json();
  return entries.filter((e) => e.path === "/api/v1/chat/completions").map((e) => e.body);
}

beforeEach(async () => {
  await fetch(`${MOCK_URL}/__mock/reset`, { method: "POST" });
});

test("text completion", async () => {
  const res = await userClient().ai.chat.completions.create({
    model: "mock/text",
    messages: [{ role: "user", content: "Hi" }],
  });
  assert.match(res.id, /^chatcmpl-\d+$/);
  assert.equal(res.object, "chat.completion");
  assert.equal(res.model, "mock/text");
  assert.deepEqual(res.choices, [
    { index: 0, message: { role: "assistant", content: "Hello there!" }, finish_reason: "stop" },
  ]);
  assert.deepEqual(res.usage, USAGE);
  assert.deepEqual(await upstreamBodies(), [
    '{"model":"mock/text","messages":[{"role":"user","content":"Hi"}],"temperature":0.7,"max_tokens":4096,"stream":false}',
  ]);
});

test("every option", async () => {
  const res = await userClient().ai.chat.completions.create({
    model: "mock/web",
    messages: [
      { role: "system", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "Latest news?", cache_control: { type: "ephemeral" } },
          { type: "image_url", image_url: { url: "https://ex.com/i.png", detail: "low" } },
        ],
      },
    ],
    temperature: 0.2,
    maxTokens: 256,
    topP: 0.9,
    webSearch: { enabled: true, engine: "exa", maxResults: 3, searchPrompt: "Use these:" },
    fileParser: { enabled: true, pdf: { engine: "pdf-text" } },
    thinking: true,
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Get weather",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ],
    toolChoice: "auto",
    parallelToolCalls: false,
    extraField: "dropped by the SDK",
    frequency_penalty: 1,
  });
  assert.equal(res.model, "mock/web:thinking");
  assert.equal(res.choices[0].finish_reason, "stop");
  assert.deepEqual(res.choices[0].message, {
    role: "assistant",
    content: "Hello there!",
    annotations: [
      {
        type: "url_citation",
        urlCitation: { url: "https://ex.com/a", title: "A", content: "snippet", startIndex: 0, endIndex: 5 },
      },
    ],
  });
  assert.deepEqual(await upstreamBodies(), [
    '{"model":"mock/web:thinking","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Latest news?"},{"type":"image_url","image_url":{"url":"https://ex.com/i.png","detail":"low"}}]}],"temperature":0.2,"max_tokens":256,"top_p":0.9,"stream":false,"plugins":[{"id":"web","engine":"exa","max_results":3,"search_prompt":"Use these:"},{"id":"file-parser","pdf":{"engine":"pdf-text"}}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto","parallel_tool_calls":false}',
  ]);
});

test("tool round trip", async () => {
  const client = userClient();
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
  const ask = { role: "user", content: "Weather in Tokyo?" };
  const first = await client.ai.chat.completions.create({ model: "mock/tool", messages: [ask], tools });
  const call = {
    id: "call_abc123",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
  };
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  assert.deepEqual(first.choices[0].message, { role: "assistant", content: "", tool_calls: [call] });

  const second = await client.ai.chat.completions.create({
    model: "mock/text",
    tools,
    messages: [
      ask,
      { role: "assistant", content: null, tool_calls: first.choices[0].message.tool_calls },
      { role: "tool", content: '{"temp":"22C"}', tool_call_id: "call_abc123" },
    ],
  });
  assert.equal(second.choices[0].message.content, "Hello there!");
  const bodies = await upstreamBodies();
  assert.equal(bodies.length, 2);
  assert.equal(
    bodies[1],
    '{"model":"mock/text","messages":[{"role":"user","content":"Weather in Tokyo?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"}}]},{"role":"tool","content":"{\\"temp\\":\\"22C\\"}","tool_call_id":"call_abc123"}],"temperature":0.7,"max_tokens":4096,"stream":false,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}',
  );
});

test("validation error", async () => {
  await assert.rejects(
    userClient().ai.chat.completions.create({ model: "mock/text", messages: [], temperature: 5 }),
    (err) => {
      assert.ok(err instanceof InsForgeError);
      assert.equal(err.statusCode, 400);
      assert.equal(err.error, "INVALID_INPUT");
      assert.equal(err.message, "Validation error: Number must be less than or equal to 2");
      return true;
    },
  );
  assert.deepEqual(await upstreamBodies(), []);
});

test("expired token: AUTH_UNAUTHORIZED, and a session client refreshes then succeeds", async () => {
  const fixed = createClient({ baseUrl: GATEWAY_URL, accessToken: EXPIRED_TOKEN });
  await assert.rejects(
    fixed.ai.chat.completions.create({ model: "mock/text", messages: [{ role: "user", content: "Hi" }] }),
    (err) => err instanceof InsForgeError && err.statusCode === 401 && err.error === "AUTH_UNAUTHORIZED",
  );

  // A signed-in client refreshes on AUTH_UNAUTHORIZED. Refresh belongs to the InsForge backend,
  // not the gateway, so this fetch answers it; every other call goes to the gateway for real.
  const seen = [];
  const fetchWithAuthBackend = async (url, init) => {
    const path = new URL(url).pathname;
    seen.push(`${init?.method ?? "GET"} ${path} ${new Headers(init?.headers).get("authorization")}`);
    if (path === "/api/auth/refresh") {
      return new Response(JSON.stringify({ accessToken: FRESH_TOKEN, user: { id: "user-42" } }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      });
    }
    return fetch(url, init);
  };
  const session = createClient({ baseUrl: GATEWAY_URL, fetch: fetchWithAuthBackend });
  session.setAccessToken(EXPIRED_TOKEN);
  const res = await session.ai.chat.completions.create({
    model: "mock/text",
    messages: [{ role: "user", content: "Hi" }],
  });
  assert.equal(res.choices[0].message.content, "Hello there!");
  assert.deepEqual(seen, [
    `POST /api/ai/chat/completion Bearer ${EXPIRED_TOKEN}`,
    `POST /api/auth/refresh Bearer ${EXPIRED_TOKEN}`,
    `POST /api/ai/chat/completion Bearer ${FRESH_TOKEN}`,
  ]);
});

test("upstream 402", async () => {
  await assert.rejects(
    userClient().ai.chat.completions.create({ model: "mock/error?status=402", messages: [] }),
    (err) => {
      assert.equal(err.statusCode, 402);
      assert.equal(err.error, "BILLING_INSUFFICIENT_BALANCE");
      assert.equal(err.message, "AI credit limit reached.");
      assert.equal(err.nextActions, "Add credits to your OpenRouter account.");
      return true;
    },
  );
  assert.equal((await upstreamBodies()).length, 1);
});

test("upstream 429 after three attempts", async () => {
  await assert.rejects(
    userClient().ai.chat.completions.create({ model: "mock/error?status=429&retry_after=0", messages: [] }),
    (err) => {
      assert.equal(err.statusCode, 429);
      assert.equal(err.error, "RATE_LIMITED");
      assert.equal(err.message, "AI provider rate limit exceeded. Please wait before retrying.");
      assert.equal(err.nextActions, "Wait a moment and retry, or check your API key rate limits.");
      return true;
    },
  );
  assert.equal((await upstreamBodies()).length, 3);
});

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

test("stream: text chunks, the caller's model, no usage, no final stop chunk", async () => {
  const chunks = await collect(
    await userClient().ai.chat.completions.create({
      model: "mock/text",
      thinking: true,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
  );
  assert.deepEqual(
    chunks.map((c) => c.choices),
    [
      [{ index: 0, delta: { content: "Hel" }, finish_reason: null }],
      [{ index: 0, delta: { content: "lo!" }, finish_reason: null }],
    ],
  );
  for (const c of chunks) {
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.model, "mock/text");
  }
  const [sent] = await upstreamBodies();
  assert.ok(sent.startsWith('{"model":"mock/text:thinking",'));
  assert.ok(sent.endsWith('"stream":true,"stream_options":{"include_usage":true}}'));
});

test("stream: tool call arrives whole in one chunk", async () => {
  const chunks = await collect(
    await userClient().ai.chat.completions.create({
      model: "mock/tool",
      stream: true,
      messages: [{ role: "user", content: "Weather?" }],
    }),
  );
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0].choices, [
    {
      index: 0,
      delta: {
        tool_calls: [
          { id: "call_abc123", type: "function", function: { name: "get_weather", arguments: '{"city":"Tokyo"}' } },
        ],
      },
      finish_reason: "tool_calls",
    },
  ]);
});

test("stream: a mid-stream upstream error ends the iteration after the partial content", async () => {
  const chunks = await collect(
    await userClient().ai.chat.completions.create({
      model: "mock/midstream_error?after=1&shape=A&code=502",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
  );
  assert.deepEqual(
    chunks.map((c) => c.choices[0].delta.content),
    ["Hel"],
  );
});

test("stream: a validation error throws a plain Error named by its code", async () => {
  await assert.rejects(
    userClient().ai.chat.completions.create({ model: "mock/text", stream: true, messages: [], topP: 3 }),
    (err) => {
      assert.ok(!(err instanceof InsForgeError));
      assert.equal(err.message, "INVALID_INPUT");
      return true;
    },
  );
});

async function upstreamEntries(path) {
  const entries = await (await fetch(`${MOCK_URL}/__mock/requests`)).json();
  return entries.filter((e) => e.path === path);
}

test("images.generate (contract case 15)", async () => {
  const res = await userClient().ai.images.generate({
    model: "mock/image",
    prompt: "A cat",
    images: [{ url: "data:image/png;base64,AAA" }],
    size: "1024x1024",
  });
  assert.ok(Number.isInteger(res.created));
  assert.deepEqual(res.data, [{ b64_json: "iVBORw0KGgo=", content: "Here is your image." }]);
  assert.deepEqual(res.usage, { total_tokens: 20, input_tokens: 12, output_tokens: 8 });
  const [sent] = await upstreamEntries("/api/v1/chat/completions");
  assert.equal(
    sent.body,
    '{"model":"mock/image","messages":[{"role":"user","content":[{"type":"text","text":"A cat"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA"}}]}],"stream":false,"modalities":["text","image"]}',
  );
});

test("embeddings.create (contract case 16), floats and base64", async () => {
  const client = userClient();
  const floats = await client.ai.embeddings.create({ model: "openai/text-embedding-3-small", input: "Hello" });
  assert.equal(floats.object, "list");
  assert.equal(floats.model, "text-embedding-3-small"); // the model the upstream reports
  assert.deepEqual(floats.usage, { prompt_tokens: 4, total_tokens: 4 });
  const vector = floats.data[0].embedding;
  assert.equal(vector.length, 8);

  const b64 = await client.ai.embeddings.create({
    model: "openai/text-embedding-3-small",
    input: "Hello",
    encoding_format: "base64",
    dimensions: 8,
    user: "x",
  });
  const bytes = Buffer.from(b64.data[0].embedding, "base64");
  const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
  assert.deepEqual(decoded, vector.map((v) => Math.fround(v)));

  const bodies = (await upstreamEntries("/api/v1/embeddings")).map((e) => e.body);
  assert.deepEqual(bodies, [
    '{"model":"openai/text-embedding-3-small","input":"Hello","encoding_format":"float"}',
    '{"model":"openai/text-embedding-3-small","input":"Hello","encoding_format":"float","dimensions":8}',
  ]);
});

test("over a limit: an InsForgeError with the gateway's code, before anything goes upstream", async () => {
  const c = createClient({ baseUrl: QUOTA_GATEWAY_URL, accessToken: QUOTA_TOKEN });
  const call = { model: "mock/text", messages: [{ role: "user", content: "Hi" }] };
  await c.ai.chat.completions.create(call);
  await assert.rejects(c.ai.chat.completions.create(call), (err) => {
    assert.ok(err instanceof InsForgeError);
    assert.equal(err.statusCode, 429);
    assert.equal(err.error, "AI_RATE_LIMIT");
    assert.match(err.message, /^Limit reached: 1 requests per minute\. It allows the next call at .* \(in \d+ s\)\.$/);
    assert.match(err.nextActions, /^Retry after \d+ s/);
    return true;
  });
  assert.equal((await upstreamBodies()).length, 1);
});
