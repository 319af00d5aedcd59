//! Integration tests of the `sluice` binary, against real MCP servers and a real MCP client.
//!
//! One test binary (`mod suite`) so the binary and the helpers build once. The real servers and the
//! Python SDK come from `scripts/test`, which installs them into `target/test-deps`.

mod suite;
