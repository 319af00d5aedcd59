//! Integration tests of the `sluice` binary, against real MCP servers and a real MCP client.
//!
//! One test binary (`mod suite`) so the binary and the helpers build once. The real servers and the
//! Python SDK come from `scripts/test`, which installs them into `target/test-deps`.

// Helpers outside `#[test]` functions may abort a test on a broken set-up, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
