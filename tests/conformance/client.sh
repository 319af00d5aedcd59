#!/usr/bin/env bash
# The client command of the MCP conformance suite: Sluice as an MCP client of the suite's test
# server. The suite runs `client.sh SLUICE_BINARY URL` with MCP_CONFORMANCE_SCENARIO set; this
# writes a config whose one server is URL and runs `sluice exec` with code fitting the scenario
# (connecting alone covers initialize and the authorization scenarios).
set -euo pipefail
sluice=$1
url=${*: -1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '{"mcpServers": {"test": {"url": "%s"}}}\n' "$url" >"$dir/config.json"
case "${MCP_CONFORMANCE_SCENARIO:-}" in
    tools_call) code="import * as t from './servers/test'; console.log(await t.addNumbers({ a: 2, b: 3 }));" ;;
    sse-retry) code="import * as t from './servers/test'; console.log(await t.testReconnection({}));" ;;
    elicitation-sep1034-client-defaults)
        code="import * as t from './servers/test'; console.log(await t.testClientElicitationDefaults({}));" ;;
    *) code="import * as t from './servers/test'; console.log(Object.keys(t).length, 'tools');" ;;
esac
# No one is there to answer a question: forms are accepted with their defaults.
printf '%s\n' "$code" | "$sluice" exec --config "$dir/config.json" --data-dir "$dir/data" --model none \
    --elicitation defaults -
