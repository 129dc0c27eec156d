// One legacy SDK chat call against GATEWAY_URL with USER_TOKEN; prints what the SDK returned.
import { createClient } from "@insforge/sdk";

const client = createClient({ baseUrl: process.env.GATEWAY_URL, accessToken: process.env.USER_TOKEN });
const res = await client.ai.chat.completions.create({
  model: "mock/text",
  messages: [{ role: "user", content: "Hi" }],
});
process.stdout.write(JSON.stringify(res) + "\n");
