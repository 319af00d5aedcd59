//! The end-to-end suite: the real `sluice` binary with real clients and servers, one module per
//! area.

/// The audit log flooded by hostile code: bounded records, budgets, notices.
mod audit_flood;
/// `sluice audit` and `sluice skills` over a data folder.
mod audit_skills_cli;
/// `notifications/cancelled` and progress from the Python SDK.
mod cancel;
/// `sluice tools search` and `sluice tools tree`.
mod cli;
/// The MCP Inspector CLI and Claude Code's `claude mcp`, run as docs/clients.md says.
mod client_tools;
/// Helpers shared by the suite.
mod common;
/// Invalid configs: the file, the entry and the field named.
mod config_errors;
/// The official MCP conformance suite, server and client scenarios, against its baseline.
mod conformance;
/// Hostile code in confined workers, one attack class per case.
mod containment;
/// `sluice demo` end to end.
mod demo;
/// Direct tools (`sluice.direct`) beside Sluice's own.
mod direct;
/// Downstream servers that fail as real ones do.
mod downstream_failures;
/// Sluice as an OAuth client of a downstream server protected by a real authorization server.
mod downstream_oauth;
/// A downstream server's questions (elicitation) passed to the agent's client.
mod elicitation;
/// `execute_code` against the real npm servers.
mod execution;
/// The tool policy (`sluice.tools`) in front of real servers, and its reload.
mod governance;
/// `sluice serve --http` with OAuth access tokens of a real authorization server.
mod http_auth;
/// A downstream server over Streamable HTTP.
mod http_server;
/// `sluice serve --metrics`: `/metrics` linted by promtool and scraped by a real Prometheus.
mod metrics;
/// The page at `/` (and `sluice ui`) in a real headless Chromium.
mod page;
/// Pinned tool definitions: changes held back, `sluice tools review`.
mod pins;
/// Many principals on one `sluice serve --http`: each its own workspace, skills, sessions,
/// audit trail and limits.
mod principals;
/// Personal data through `sluice serve`.
mod privacy;
/// Attacks on the privacy layer.
mod privacy_attacks;
/// Progress lines on a terminal, none on a pipe.
mod progress;
/// Lines that are not JSON-RPC messages, and requests before `initialize`.
mod protocol_lines;
/// Python on Monty: tool calls, errors, sessions and attacks.
mod python;
/// The five reference servers behind Sluice.
mod real_servers;
/// Search over the recorded real catalogs.
mod search;
/// `sluice serve --http`: Streamable HTTP with the Python SDK and raw requests.
mod serve_http;
/// Shutdown with work in flight, and no orphans.
mod shutdown;
/// A store of many large skills does not disable execution.
mod skills_load;
/// Workspace, sessions and skills across executions and restarts.
mod state;
/// OpenTelemetry traces exported to an OTLP receiver, the agent's trace context continued and
/// passed to downstream servers.
mod traces;
/// Warm workers, and a client's workers reused with a new runtime each time.
mod warm_workers;
/// A worker killed mid-execution costs that execution only.
mod worker_crash;
