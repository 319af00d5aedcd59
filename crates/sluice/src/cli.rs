//! Command-line types. Commands live in `commands/`, one file per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Sluice: a code-mode gateway for MCP.
///
/// Sluice connects to your MCP servers (the same `mcpServers` JSON that Claude Desktop, Claude
/// Code and Cursor use), presents their tools as a typed TypeScript API, and runs the code an
/// agent writes against them in a sandboxed worker. Only what the code logs goes back to the model.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// The config file: a JSON object with `mcpServers` (Claude Desktop / Cursor format) and an
    /// optional `sluice` section. Default: $SLUICE_CONFIG, else ./sluice.json.
    #[arg(long, global = true, value_name = "PATH", env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Where Sluice keeps its data (workspace, skills, audit log). Default: $SLUICE_DATA_DIR, else
    /// $XDG_DATA_HOME/sluice, else ~/.local/share/sluice.
    #[arg(long, global = true, value_name = "DIR", env = "SLUICE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Sluice as an MCP server on stdio: put this in your agent's MCP config.
    ///
    /// stdout carries only MCP messages; progress and logs go to stderr (set SLUICE_LOG=debug
    /// for more).
    Serve(ServeArgs),

    /// Run one TypeScript or JavaScript file against the configured servers and print what it
    /// logged, its result and any error.
    ///
    /// The script imports tools as `import * as x from "./servers/<server>"` and may
    /// `export default` a value to return it. Exits with status 1 when the script fails.
    Exec(ExecArgs),

    /// Search and export the generated tool API.
    #[command(subcommand)]
    Tools(ToolsCommand),

    /// Internal: run a worker process (started by the gateway; speaks frames on stdin/stdout).
    #[command(hide = true)]
    Worker,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub global: GlobalOptions,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The script to run, or `-` to read it from stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,

    /// Treat the script as JavaScript instead of TypeScript (default: by file extension).
    #[arg(long, value_enum)]
    pub language: Option<LanguageArg>,

    /// Wall-time limit in milliseconds (default from config: 30000).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,

    /// Print the same JSON object that `execute_code` returns as structured content.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    Typescript,
    Javascript,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Search the tools of every configured server, as an agent's `search_tools` would.
    Search(SearchArgs),
    /// Write the generated TypeScript tree (servers/<server>/<tool>.ts) to a folder, so any
    /// agent's own file tools can read it.
    Tree(TreeArgs),
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Words describing what you need; empty lists tools.
    #[arg(value_name = "QUERY", default_value = "")]
    pub query: String,

    /// How much to show per tool.
    #[arg(long, value_enum, default_value = "summary")]
    pub detail: DetailArg,

    /// Only this server's tools.
    #[arg(long)]
    pub server: Option<String>,

    /// At most this many results.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DetailArg {
    /// server.function only.
    Name,
    /// Plus a one-line description.
    Summary,
    /// The full typed signature with documentation.
    Full,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Folder to write into (created if missing; existing files of the tree are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
