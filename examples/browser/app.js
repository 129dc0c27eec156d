// The example's behaviour: one client of each SDK per call, pointed at the gateway with the
// user's token, and every failure shown as a sentence (messages.js).
//
// In your own app the token is the signed-in user's InsForge access token; here it comes from
// the page's address (?gateway=…&token=…), from config.json (which `ai-gateway --mock-upstream`
// serves with its dev token), or from the form.
import { createClient } from "./vendor/insforge-sdk.js";
import OpenAI from "./vendor/openai.js";
import { describeError } from "./messages.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_MODELS = {
  chat: "openai/gpt-4o-mini",
  image: "google/gemini-2.5-flash-image",
  embedding: "openai/text-embedding-3-small",
};

function gatewayUrl() {
  return ($("gateway").value.trim() || location.origin).replace(/\/+$/, "");
}

function token() {
  return $("token").value.trim();
}

// @insforge/sdk takes a fetch of our own: the one place to attach the Stop button's signal (its
// streaming call accepts none), and to see what the SDK drops: the whole refusal when it refuses
// a stream (it keeps only the code; `seen.refusal`, the call's first refused answer), and a
// stream's error event (`seen.streamError`: its iteration just ends, with what came before).
function insforge(signal, seen = {}) {
  const ourFetch = async (url, init = {}) => {
    const signals = [signal, init.signal].filter(Boolean);
    const res = await fetch(url, { ...init, signal: signals.length ? AbortSignal.any(signals) : undefined });
    if (!res.ok && !seen.refusal) seen.refusal = await refusalOf(res);
    return res.headers.get("content-type")?.startsWith("text/event-stream") ? watchErrors(res, seen) : res;
  };
  return createClient({ baseUrl: gatewayUrl(), accessToken: token(), fetch: ourFetch });
}

// The same bytes, read on their way to the SDK for the legacy error event
// (`data: {"error":true,"message":…}`, always a whole event at the start of a line).
function watchErrors(res, seen) {
  const decoder = new TextDecoder();
  let pending = "";
  const watch = new TransformStream({
    transform(bytes, controller) {
      pending += decoder.decode(bytes, { stream: true });
      const events = pending.split("\n\n");
      pending = events.pop();
      for (const event of events) {
        if (event.startsWith('data: {"error":true')) seen.streamError ??= JSON.parse(event.slice(6)).message;
      }
      controller.enqueue(bytes);
    },
  });
  return new Response(res.body.pipeThrough(watch), { status: res.status, headers: res.headers });
}

async function refusalOf(res) {
  const body = await res
    .clone()
    .json()
    .catch(() => ({}));
  return { statusCode: res.status, error: body.error ?? "", message: body.message ?? "", headers: res.headers };
}

// New apps use the official SDK on /api/v1, the user's token as its key: the gateway, not the
// browser, holds the OpenRouter key. maxRetries 0: the gateway already retries what is safe.
function openai() {
  return new OpenAI({
    baseURL: `${gatewayUrl()}/api/v1`,
    apiKey: token(),
    dangerouslyAllowBrowser: true,
    maxRetries: 0,
  });
}

function showError(id, err) {
  const box = $(id);
  box.textContent = describeError(err, { gateway: gatewayUrl(), origin: location.origin });
  box.dataset.kind = err?.name === "AbortError" || err?.name === "APIUserAbortError" ? "aborted" : "error";
  box.hidden = false;
}

function clearError(id) {
  $(id).hidden = true;
  $(id).textContent = "";
}

// Chat: the same streamed answer through either SDK, and Stop for both.
let running = null;

async function chat(via) {
  const output = $("chat-output");
  clearError("chat-error");
  output.textContent = "";
  running = new AbortController();
  const { signal } = running;
  const seen = {};
  setBusy(true, via);
  const request = {
    model: $("chat-model").value.trim(),
    messages: [{ role: "user", content: $("chat-prompt").value }],
    stream: true,
  };
  try {
    const stream =
      via === "legacy"
        ? await insforge(signal, seen).ai.chat.completions.create(request)
        : await openai().chat.completions.create(request, { signal });
    for await (const chunk of stream) {
      if (signal.aborted) break; // the legacy SDK's iterator ends quietly when its body is cut
      const text = chunk.choices[0]?.delta?.content;
      if (text) output.append(text);
    }
    if (seen.streamError) showError("chat-error", { message: seen.streamError });
    $("chat-status").textContent = signal.aborted
      ? "Stopped."
      : `${seen.streamError ? "Ended early" : "Done"} (${via === "legacy" ? "@insforge/sdk" : "openai"}).`;
  } catch (err) {
    $("chat-status").textContent = signal.aborted ? "Stopped." : "";
    if (!signal.aborted) showError("chat-error", seen.refusal ?? err);
  } finally {
    running = null;
    await refreshLimits(); // what is left, before the next call can be made
    setBusy(false);
  }
}

function setBusy(busy, via) {
  $("send-legacy").disabled = busy;
  $("send-openai").disabled = busy;
  $("stop").disabled = !busy;
  if (busy) $("chat-status").textContent = `Streaming through ${via === "legacy" ? "@insforge/sdk" : "openai"}…`;
}

// Image generation: the legacy SDK's images.generate answers base64 pictures.
async function image() {
  clearError("image-error");
  const figure = $("image-output");
  figure.replaceChildren();
  $("image-send").disabled = true;
  const seen = {};
  try {
    const res = await insforge(undefined, seen).ai.images.generate({
      model: $("image-model").value.trim(),
      prompt: $("image-prompt").value,
    });
    for (const item of res.data) {
      const img = document.createElement("img");
      img.alt = $("image-prompt").value;
      img.src = item.b64_json ? `data:image/png;base64,${item.b64_json}` : item.url;
      figure.append(img);
      if (item.content) {
        const caption = document.createElement("figcaption");
        caption.textContent = item.content;
        figure.append(caption);
      }
    }
  } catch (err) {
    showError("image-error", seen.refusal ?? err);
  } finally {
    await refreshLimits();
    $("image-send").disabled = false;
  }
}

// Embeddings through the official SDK on /api/v1.
async function embed() {
  clearError("embedding-error");
  $("embedding-output").textContent = "";
  $("embedding-send").disabled = true;
  try {
    const res = await openai().embeddings.create({
      model: $("embedding-model").value.trim(),
      input: $("embedding-input").value,
    });
    const vector = Array.from(res.data[0].embedding);
    const head = vector.slice(0, 4).map((v) => v.toFixed(4)).join(", ");
    $("embedding-output").textContent = `${vector.length} dimensions: [${head}, …]`;
  } catch (err) {
    showError("embedding-error", err);
  } finally {
    await refreshLimits();
    $("embedding-send").disabled = false;
  }
}

// The user's own limits (GET /api/v1/limits), so they know what is left before they ask.
const LIMIT_NAMES = {
  concurrent_calls: "calls at once",
  requests_per_minute: "requests this minute",
  tokens_per_day: "tokens today",
  usd_per_day: "USD today",
  usd_per_month: "USD this month",
};

async function refreshLimits() {
  const box = $("limits");
  if (!token()) {
    box.textContent = "Paste a user token to start.";
    return;
  }
  try {
    const res = await fetch(`${gatewayUrl()}/api/v1/limits`, {
      headers: { Authorization: `Bearer ${token()}` },
    });
    if (!res.ok) {
      box.textContent = res.status === 401 ? "Your session has expired. Please sign in again." : "";
      return;
    }
    const { limits } = await res.json();
    box.textContent = limits.length
      ? limits
          .map((l) => `${formatAmount(l.remaining)} of ${formatAmount(l.limit)} ${LIMIT_NAMES[l.kind] ?? l.kind} left`)
          .join(" · ")
      : "No usage limits are set for you on this gateway.";
  } catch {
    box.textContent = "";
  }
}

function formatAmount(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

async function loadSettings() {
  let config = {};
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.ok) config = await res.json();
  } catch {
    // A copy of the example served without config.json: the form and the address decide.
  }
  const params = new URLSearchParams(location.search);
  $("gateway").value = params.get("gateway") ?? config.gateway ?? "";
  $("token").value = params.get("token") ?? config.token ?? "";
  const models = { ...DEFAULT_MODELS, ...config.models };
  $("chat-model").value = params.get("chat_model") ?? models.chat;
  $("image-model").value = params.get("image_model") ?? models.image;
  $("embedding-model").value = params.get("embedding_model") ?? models.embedding;
}

$("send-legacy").addEventListener("click", () => chat("legacy"));
$("send-openai").addEventListener("click", () => chat("openai"));
$("stop").addEventListener("click", () => running?.abort());
$("image-send").addEventListener("click", image);
$("embedding-send").addEventListener("click", embed);
$("token").addEventListener("change", refreshLimits);
$("gateway").addEventListener("change", refreshLimits);

await loadSettings();
await refreshLimits();
$("loading").hidden = true;
document.body.dataset.ready = "true";
