mod common;
mod config_errors;
mod downstream_failures;
mod execution;
mod http_server;
mod real_servers;
mod shutdown;
mod worker_crash;
