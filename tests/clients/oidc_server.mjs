// A real OAuth 2.1 / OpenID authorization server for Sluice's HTTP authentication tests:
// `oidc-provider` (npm, pinned in scripts/test-deps/node), issuing client-credentials access
// tokens as JWTs for the resource (RFC 8707 resource indicator) the client asks for.
//
//   OIDC_PROVIDER_DIR=<node_modules/oidc-provider folder> node oidc_server.mjs
//
// Starts two issuers on 127.0.0.1, each on a free port, that sign with the SAME RSA key:
// "issuer" (the one Sluice trusts) and "other" (so a token of another issuer verifies by its
// signature and must be refused by its `iss`). Prints one JSON line on stdout,
//   {"issuer": "http://127.0.0.1:P1", "other": "http://127.0.0.1:P2"}
// then serves until killed. Clients (token_endpoint_auth_method client_secret_post):
//   agent / agent-secret : tokens valid 600 s
//   brief / brief-secret : tokens valid 1 s (expiry tests)
// Scopes: mcp, other. Every resource indicator is accepted; the token's `aud` is the resource.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";

const { default: Provider } = await import(`${process.env.OIDC_PROVIDER_DIR}/lib/index.js`);

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const key = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", alg: "RS256", use: "sig" };

const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: "client_secret_post",
  scope: "mcp other",
});

async function start() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [client("agent", "agent-secret"), client("brief", "brief-secret")],
    jwks: { keys: [key] },
    scopes: ["mcp", "other"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        getResourceServerInfo: (_ctx, resource, client) => ({
          scope: "mcp other",
          audience: resource,
          accessTokenTTL: client.clientId === "brief" ? 1 : 600,
          accessTokenFormat: "jwt",
        }),
      },
    },
  });
  server.on("request", provider.callback());
  return issuer;
}

const issuer = await start();
const other = await start();
console.log(JSON.stringify({ issuer, other }));
