#!/usr/bin/env bash
# The client command of the MCP conformance suite: Sluice as an MCP client of the suite's test
# server. The suite runs `client.sh SLUICE_BINARY URL` with MCP_CONFORMANCE_SCENARIO set (and,
# for some scenarios, MCP_CONFORMANCE_CONTEXT: credentials issued out of band); this writes a
# config whose one server is URL and runs `sluice exec` with code fitting the scenario.
#
# Authorization is what a person would do: when `sluice exec` reports that the server needs a
# login (its message names `sluice auth login test`), run that command and try again, at most
# three rounds; a login that fails ends the run. The "browser" that opens the authorization URL
# is curl (through $BROWSER, as `sluice auth login` uses it): the suite's authorization server
# redirects at once to Sluice's loopback callback, which curl follows.
set -euo pipefail
sluice=$1
url=${*: -1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
scenario=${MCP_CONFORMANCE_SCENARIO:-}
context=${MCP_CONFORMANCE_CONTEXT:-}
[ -n "$context" ] || context='{}'

# The server's "oauth" settings: a client metadata document where the authorization server takes
# one (the suite's fixed URL), and the credentials the scenario registered for Sluice.
if jq -e '.private_key_pem' >/dev/null <<<"$context"; then
    jq -r '.private_key_pem' <<<"$context" >"$dir/client-key.pem"
    oauth=$(jq -c --arg key "$dir/client-key.pem" \
        '{grant: "client_credentials", clientId: .client_id, privateKeyFile: $key,
          signingAlgorithm: (.signing_algorithm // "ES256")}' <<<"$context")
elif [[ $scenario == auth/client-credentials-* ]]; then
    oauth=$(jq -c '{grant: "client_credentials", clientId: .client_id, clientSecret: .client_secret}' \
        <<<"$context")
elif jq -e '.client_id' >/dev/null <<<"$context"; then
    oauth=$(jq -c '{clientId: .client_id} + (if .client_secret then {clientSecret: .client_secret} else {} end)' \
        <<<"$context")
else
    oauth='{"clientMetadataUrl": "https://conformance-test.local/client-metadata.json"}'
fi
jq -n --arg url "$url" --argjson oauth "$oauth" \
    '{mcpServers: {test: {url: $url, oauth: $oauth}}}' >"$dir/config.json"

case "$scenario" in
    tools_call) code="import * as t from './servers/test'; console.log(await t.addNumbers({ a: 2, b: 3 }));" ;;
    sse-retry) code="import * as t from './servers/test'; console.log(await t.testReconnection({}));" ;;
    elicitation-sep1034-client-defaults)
        code="import * as t from './servers/test'; console.log(await t.testClientElicitationDefaults({}));" ;;
    auth/*) code="import * as t from './servers/test'; console.log(await t.testTool({}));" ;;
    *) code="import * as t from './servers/test'; console.log(Object.keys(t).length, 'tools');" ;;
esac
common=(--config "$dir/config.json" --data-dir "$dir/data" --model none)
export BROWSER='curl -fsS -o /dev/null -L'
for _round in 1 2 3; do
    # No one is there to answer a question: forms are accepted with their defaults.
    if printf '%s\n' "$code" | "$sluice" exec "${common[@]}" --elicitation defaults - \
        >"$dir/stdout" 2>"$dir/stderr"; then
        cat "$dir/stdout"
        cat "$dir/stderr" >&2
        exit 0
    fi
    cat "$dir/stdout"
    cat "$dir/stderr" >&2
    # The server, or a call's error, says which command logs in.
    grep -q 'sluice auth login test' "$dir/stdout" "$dir/stderr" || exit 1
    "$sluice" auth login test "${common[@]}" --timeout 30
done
exit 1
