mod common;
mod config_errors;
mod downstream_failures;
mod real_servers;
