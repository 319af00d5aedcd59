// Workflow 3: poll #deployments in code; only the final message comes back.
import * as chat from "./servers/chat";

let found: { polls: number; message: string | null } = { polls: 0, message: null };
for (let poll = 1; poll <= 50; poll++) {
  const history = await chat.getChannelHistory({ channel: "#deployments", limit: 5 });
  const latest = history.messages[history.messages.length - 1];
  found = { polls: poll, message: null };
  if (latest && latest.text.startsWith("Deployment complete")) {
    found = { polls: poll, message: latest.text };
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
export default found;
