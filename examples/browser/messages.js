// What to tell a person when a call fails, from either SDK's error.
//
// The two SDKs fail differently: @insforge/sdk throws an InsForgeError (statusCode, error = the
// gateway's code, message, nextActions) for plain calls, but a bare Error whose message is the
// code for a stream refused before it starts (app.js keeps the whole refusal for that case); openai throws an APIError (status, code, error =
// the envelope's error object, headers). A page that cannot reach the gateway at all (gateway
// down, or its origin not in CORS_ORIGINS: the browser hides which) gets a TypeError or the
// SDKs' wrappers of one.

const CODE = /^[A-Z][A-Z0-9_]+$/;

/** The parts of an error that decide what to say, whichever SDK threw it. */
export function readError(err) {
  const name = err?.name ?? "";
  if (name === "AbortError" || name === "APIUserAbortError") return { kind: "aborted" };
  const status = err?.statusCode ?? err?.status ?? 0;
  const body = err?.error && typeof err.error === "object" ? err.error : null;
  let code = typeof err?.error === "string" ? err.error : (err?.code ?? body?.code ?? "");
  let message = body?.message ?? err?.message ?? String(err);
  if (!status && CODE.test(message)) {
    code = message; // the legacy SDK's stream refusal: only the code survives
    message = "";
  }
  const retryAfter = Number(err?.headers?.get?.("retry-after") ?? Number.NaN);
  // openai's APIConnectionError (no status) wraps the browser's TypeError as its cause.
  const cause = !status && err?.cause?.name === "TypeError" ? "TypeError" : name;
  return { kind: kindOf(status, code, cause), status, code, message, retryAfter };
}

function kindOf(status, code, name) {
  if (status === 401 || code.startsWith("AUTH_INVALID") || code === "AUTH_UNAUTHORIZED") return "signin";
  if (code === "AI_INVALID_MODEL" || code === "model_not_allowed") return "model";
  if (status === 429 || /_LIMIT$|_QUOTA$|_exceeded$/.test(code)) return "limit";
  if (name === "TypeError" || code === "NETWORK_ERROR") return "network";
  return "other";
}

/** One sentence or two a person can act on; `where` names the page's origin and the gateway. */
export function describeError(err, where = {}) {
  const e = readError(err);
  switch (e.kind) {
    case "aborted":
      return "Stopped.";
    case "signin":
      return "Your session has expired. Please sign in again.";
    case "model":
      return e.message || "That model is not available on this gateway. Choose another model.";
    case "limit": {
      if (e.message) return e.message;
      const wait = Number.isFinite(e.retryAfter) ? ` You can try again in ${waitText(e.retryAfter)}.` : "";
      return `You have reached a usage limit.${wait}`;
    }
    case "network":
      return (
        `Could not reach the gateway at ${where.gateway || "this address"}. If it is running, ` +
        `its operator must allow this page's origin (${where.origin || "this page"}) in CORS_ORIGINS.`
      );
    default:
      return e.message || `The call failed (${e.code || e.status || "no details"}).`;
  }
}

function waitText(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
