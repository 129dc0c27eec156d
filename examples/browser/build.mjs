// Bundle the two SDKs into ES modules the page imports (vendor/), so the page itself needs no
// build step: `npm ci && npm run build`, then serve this folder as static files.
// The output depends only on package-lock.json (esbuild is pinned there, and writes no dates).
import { build } from "esbuild";

const common = {
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  logLevel: "warning",
};

await build({
  ...common,
  stdin: { contents: 'export { createClient, InsForgeError } from "@insforge/sdk";', resolveDir: "." },
  // Reached only where globalThis.crypto is missing, which no supported browser is.
  external: ["crypto"],
  outfile: "vendor/insforge-sdk.js",
});
await build({
  ...common,
  stdin: { contents: 'export { default, APIError, APIUserAbortError } from "openai";', resolveDir: "." },
  outfile: "vendor/openai.js",
});
