// Close `sluice serve` the way the official TypeScript MCP SDK's stdio client does, with an
// execution still running: connect, start a long `execute_code`, then `client.close()` (it ends
// stdin, sends SIGTERM after 2 s and SIGKILL after 2 more). Prints one JSON object on stdout:
//   {"closeMs": N, "exitCode": C | null, "signal": S | null}
//
//   MCP_SDK_DIR=<@modelcontextprotocol/sdk folder> SERVER_COMMAND='["sluice", "serve", ...]' node ts_close.mjs
const sdk = process.env.MCP_SDK_DIR;
const { Client } = await import(`${sdk}/dist/esm/client/index.js`);
const { StdioClientTransport } = await import(`${sdk}/dist/esm/client/stdio.js`);
const [command, ...args] = JSON.parse(process.env.SERVER_COMMAND);

const transport = new StdioClientTransport({ command, args, env: { ...process.env }, stderr: "ignore" });
const client = new Client({ name: "sluice-close-test", version: "1.0.0" });
await client.connect(transport);
client
  .callTool({ name: "execute_code", arguments: { code: "while (true) {}" } })
  .catch(() => null);
await new Promise((resolve) => setTimeout(resolve, 1500));

const child = transport._process;
const started = Date.now();
await client.close();
const closeMs = Date.now() - started;
if (child.exitCode === null && child.signalCode === null) {
  await new Promise((resolve) => child.once("exit", resolve));
}
console.log(JSON.stringify({ closeMs, exitCode: child.exitCode, signal: child.signalCode }));
process.exit(0);
