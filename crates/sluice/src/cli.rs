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

    /// The sentence-encoder model folder search uses (see scripts/fetch-model). Default:
    /// $SLUICE_MODEL, else <data dir>/models/all-MiniLM-L6-v2, else models/all-MiniLM-L6-v2 in
    /// the folder above the sluice binary's (target/models/ in a checkout). `none`: lexical
    /// search only.
    #[arg(long, global = true, value_name = "DIR", env = "SLUICE_MODEL")]
    pub model: Option<PathBuf>,

    /// Run agent code WITHOUT the OS sandbox (no Landlock, seccomp, namespaces or rlimits): the
    /// code then has your user's access to files and network. Only for machines where the
    /// sandbox cannot be set up (old kernels); Sluice refuses to run code otherwise.
    #[arg(long, global = true)]
    pub no_sandbox: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Sluice as an MCP server on stdio (put this in your agent's MCP config), or with
    /// --http over Streamable HTTP.
    ///
    /// On stdio, stdout carries only MCP messages; progress and logs go to stderr (set
    /// SLUICE_LOG=debug for more). With --http ADDR the endpoint is http://ADDR/mcp (the line
    /// "sluice: serving MCP at URL" on stderr gives it), each MCP session is one client
    /// connection, and SIGTERM or Ctrl-C lets executions in flight finish (up to
    /// sluice.http.shutdownGraceMs) before stopping.
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

    /// Show the audit log: every code execution, tool call, release of personal data into a tool
    /// argument and session event that `sluice serve` and `sluice exec` recorded.
    ///
    /// The log is `<data dir>/audit/audit.jsonl` (JSON Lines, rotated into audit.1.jsonl, …),
    /// read oldest first. One line per record: time (UTC), kind, execution id (as short as still
    /// tells the shown ones apart, and usable with --execution), what happened (`server.tool
    /// outcome` for tool calls, the outcome and limits hit for executions) and how long it took.
    /// Tool arguments and released values are never logged, only their sizes and hashes. Lines
    /// that do not parse (a torn last line after a crash) are reported on stderr and skipped.
    Audit(AuditArgs),

    /// Serve the page of recent executions from the audit log of the data folder, when no
    /// gateway runs (`sluice serve --metrics ADDR` serves the same page with live data).
    ///
    /// The page lists executions (filterable by client, session, server and outcome), each
    /// one's code, error and tool calls as a timeline, the token savings over time, and the
    /// skills. Personal data in what it shows is replaced by typed tokens. The line
    /// "sluice: page at URL" on stderr gives the address; Ctrl-C stops it.
    Ui(UiArgs),

    /// List, show and remove saved skills: the TypeScript or Python modules agents save with
    /// `save_skill` and import as `./skills/<name>` (TypeScript) or `skills.<module>` (Python).
    ///
    /// Skills live in `<data dir>/skills/<name>/` (SKILL.md and index.ts or skill.py); every earlier version
    /// and every removed skill is kept in `<data dir>/skills/.history/<name>/<version>/`.
    #[command(subcommand)]
    Skills(SkillsCommand),

    /// Log Sluice in to the HTTP servers that require OAuth, and see or forget its tokens.
    ///
    /// A server whose authorization server needs a person (the authorization code grant) shows
    /// as "needs login" until `sluice auth login NAME` has run once; Sluice refreshes the tokens
    /// after that. Tokens live in `<data dir>/oauth/<server>.json`, readable by you only (mode
    /// 0600). Servers with `"oauth": {"grant": "client_credentials", ...}` get their tokens by
    /// themselves.
    #[command(subcommand)]
    Auth(AuthCommand),

    /// Run the demo: five everyday workflows, each done for real both ways (plain tool calling
    /// and code mode through Sluice), with an o200k token ledger of what enters the model's
    /// context.
    ///
    /// Starts three bundled demo MCP servers (documents, crm, chat: `sluice demo server`) as child
    /// processes of this binary, fresh for every run, so nothing needs to be installed. For each
    /// workflow it prints the peak context and the billed input tokens both ways, the reduction,
    /// the tool calls, the time spent in them and whether both ways left the servers in the same
    /// state. Then workflow 2 at several sheet sizes, a real 1,535-tool catalog loaded up front
    /// against Sluice's starting context, the targets, and where code mode does not win.
    ///
    /// Progress goes to stderr; the tables (or `--json`) to stdout. Exits with status 1 when a
    /// workflow fails or the two ways end in different states.
    #[command(args_conflicts_with_subcommands = true)]
    Demo(DemoArgs),

    /// Internal: run a worker process (started by the gateway; speaks frames on stdin/stdout).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

pub use sluice_worker::WorkerArgs;

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,

    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Rows of the orders sheet for workflow 2.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub orders: u64,

    /// Run only this workflow (by name or number 1-5); repeat for several. The scale table runs
    /// only with workflow 2.
    #[arg(long = "only", value_name = "WORKFLOW", value_enum)]
    pub only: Vec<WorkflowArg>,

    /// Sheet sizes of the workflow 2 scale table, comma-separated. A size whose sheet is too
    /// large for Sluice's MCP client to receive in one message (over 64 MiB) is reported as not
    /// run, with the reason.
    #[arg(
        long,
        value_name = "ROWS,...",
        value_delimiter = ',',
        default_value = "1000,10000,100000"
    )]
    pub scale: Vec<u64>,

    /// Leave out the scale table.
    #[arg(long)]
    pub no_scale: bool,

    /// Run the scripts' workers WITHOUT the OS sandbox, for machines where it cannot be set up
    /// (see `sluice serve --help`).
    #[arg(long)]
    pub no_sandbox: bool,

    /// The language the code-mode agent writes its scripts in (the checked-in scripts under
    /// crates/sluice-demo/scripts/); both reach the same end state.
    #[arg(long, value_enum, default_value = "typescript")]
    pub language: DemoLanguageArg,

    /// The tool catalog for the catalog table. Default: data/catalogs/_combined_excluding_twilio_all.json
    /// beside the source tree, when it is there (the table is skipped with a note otherwise).
    #[arg(long, value_name = "PATH")]
    pub catalog: Option<PathBuf>,
}

/// `sluice demo --language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoLanguageArg {
    Typescript,
    Python,
}

/// The five workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkflowArg {
    /// 1: read the meeting transcript, write it into the CRM's SalesMeeting notes.
    #[value(name = "transcript-to-crm", alias = "1")]
    TranscriptToCrm,
    /// 2: count and total the pending orders of the orders sheet, with 5 samples.
    #[value(name = "pending-orders", alias = "2")]
    PendingOrders,
    /// 3: poll #deployments until the deployment is complete.
    #[value(name = "wait-for-deployment", alias = "3")]
    WaitForDeployment,
    /// 4: import every row of the contacts sheet as a CRM lead.
    #[value(name = "contacts-to-leads", alias = "4")]
    ContactsToLeads,
    /// 5: message every lead with an EngagementScore of 90 or more.
    #[value(name = "message-engaged-leads", alias = "5")]
    MessageEngagedLeads,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Run one demo MCP server on stdio (documents, crm or chat), with deterministic generated
    /// data. `sluice demo` starts these itself; stdout is the MCP transport, logs go to stderr.
    Server(DemoServerArgs),
}

#[derive(Debug, Args)]
pub struct DemoServerArgs {
    /// Which server: documents (Drive-like: a transcript, orders and contacts sheets), crm
    /// (Salesforce-like leads and a sales meeting) or chat (Slack-like channels).
    #[arg(value_enum)]
    pub kind: DemoServerArg,

    /// Seed of every data generator: the same options give the same bytes.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,

    /// documents: rows of the orders sheet.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub orders: u64,

    /// documents: rows of the contacts sheet.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub contacts: u64,

    /// documents: approximate o200k tokens of the meeting transcript.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub transcript_tokens: u64,

    /// crm: leads in the CRM at start.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub leads: u64,

    /// chat: the poll of #deployments from which the completion message shows.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub deploy_after_polls: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoServerArg {
    /// Drive-like: listFiles, getDocument, getSheet.
    Documents,
    /// Salesforce-like: query, updateRecord, createRecord.
    Crm,
    /// Slack-like: getChannelHistory, sendMessage.
    Chat,
}

impl DemoServerArg {
    pub fn name(self) -> &'static str {
        match self {
            DemoServerArg::Documents => "documents",
            DemoServerArg::Crm => "crm",
            DemoServerArg::Chat => "chat",
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Serve MCP over Streamable HTTP on this address instead of stdio: `127.0.0.1:8080`,
    /// `[::1]:8080`, or a port alone (on 127.0.0.1; 0 picks a free one). Only loopback addresses
    /// without --allow-remote. HTTPS with --tls-cert and --tls-key, or behind a reverse proxy.
    #[arg(long, value_name = "ADDR", value_parser = parse_http_address)]
    pub http: Option<std::net::SocketAddr>,

    /// With --http, allow an address other machines can reach (e.g. 0.0.0.0:8080). Set
    /// `sluice.http.auth` in the config too, or anyone who reaches the port runs code.
    #[arg(long, requires = "http")]
    pub allow_remote: bool,

    /// With --http, serve HTTPS with this certificate chain (PEM, the server's certificate
    /// first). Needs --tls-key.
    #[arg(long, value_name = "PEM", requires_all = ["http", "tls_key"])]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve metrics at http://ADDR/metrics (Prometheus text format) and the page of recent
    /// executions at http://ADDR/ : `127.0.0.1:9464` or a port alone (on 127.0.0.1; 0 picks a
    /// free one, and the line "sluice: metrics at URL" on stderr gives it). Loopback only without
    /// --metrics-allow-remote. Without it, nothing is counted.
    #[arg(long, value_name = "ADDR", value_parser = parse_http_address)]
    pub metrics: Option<std::net::SocketAddr>,

    /// With --metrics, allow an address other machines can reach (e.g. 0.0.0.0:9464). The page
    /// shows agents' code and output (personal data tokenized) to anyone who reaches the port.
    #[arg(long, requires = "metrics")]
    pub metrics_allow_remote: bool,
}

/// `--http`: `host:port` with an IP address, or a port alone on 127.0.0.1.
fn parse_http_address(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!(
            "\"{text}\" is not an address: write IP:PORT (127.0.0.1:8080, [::1]:8080, \
             0.0.0.0:8080 with --allow-remote) or a port alone"
        )
    })
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The script to run, or `-` to read it from stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,

    /// The script's language (default: by file extension: `.js`/`.mjs` JavaScript, `.py` Python,
    /// else TypeScript).
    #[arg(long, value_enum)]
    pub language: Option<LanguageArg>,

    /// Wall-time limit in milliseconds (default from config: 30000).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,

    /// Print the same JSON object that `execute_code` returns as structured content.
    #[arg(long)]
    pub json: bool,

    /// How to answer a server that asks for input during a tool call (elicitation): `decline`
    /// (the default; no one is there to ask), or `defaults` (accept a form with the default
    /// values its schema gives).
    #[arg(long, value_enum, default_value = "decline")]
    pub elicitation: ElicitationArg,
}

/// `sluice exec --elicitation`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ElicitationArg {
    /// Decline every question, saying that no one is there to answer.
    Decline,
    /// Accept forms with their schema's default values.
    Defaults,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    Typescript,
    Javascript,
    Python,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Search the tools of every configured server, as an agent's `search_tools` would.
    Search(SearchArgs),
    /// Write the generated TypeScript tree (servers/<server>/<tool>.ts) to a folder, so any
    /// agent's own file tools can read it.
    Tree(TreeArgs),
    /// Measure search against labelled queries: recall@1/5/10 and MRR by split and style.
    ///
    /// Reads a recorded catalog (a JSON object whose `tools` each carry their `server`) and a
    /// query file (a JSON array of {id, style, query, needs: [["server/name", ...], ...], split}),
    /// ranks every query with the same index `search_tools` uses, and prints one row per split
    /// and style. A group of `needs` counts as found at rank r when any of its tools is there.
    /// Defaults are the catalog and the frozen query set shipped in the repository's `data/`.
    Eval(EvalArgs),
    /// Review tools held back because their server changed their definition since it was pinned.
    ///
    /// The first time Sluice sees a tool it pins its definition (name, title, description,
    /// schemas, annotations) in `<data dir>/pins/<server>.json`; a tool whose server later
    /// presents another definition is held back (absent from the tree and search, its calls fail
    /// with `definition_changed`) until it is accepted here. Connects to every server first, so
    /// changes no gateway has seen yet are found too. On a terminal, shows each held tool's diff
    /// and asks to accept, reject or skip; otherwise shows the diffs. A running `sluice serve`
    /// picks up the decisions within a second. `sluice.pinning.changeFreely` lists servers whose
    /// tools may change without review.
    Review(ReviewArgs),
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Print the held tools (and the decisions made) as JSON, for scripts; no questions.
    #[arg(long)]
    pub json: bool,

    /// Accept the presented definition of SERVER.TOOL: it becomes the pin and the tool comes
    /// back. Repeatable.
    #[arg(long, value_name = "SERVER.TOOL")]
    pub accept: Vec<String>,

    /// Accept every held tool's presented definition.
    #[arg(long, conflicts_with = "accept")]
    pub accept_all: bool,

    /// Reject the presented definition of SERVER.TOOL: the tool stays held back and is not
    /// shown again until its server presents yet another definition. Repeatable.
    #[arg(long, value_name = "SERVER.TOOL")]
    pub reject: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The labelled queries.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "data/search-eval/queries.json"
    )]
    pub queries: PathBuf,

    /// The recorded catalog the queries are about.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "data/catalogs/_combined_excluding_twilio_all.json"
    )]
    pub catalog: PathBuf,

    /// Which ranking to measure: Sluice's fused ranking, or one scorer alone.
    #[arg(long, value_enum, default_value = "fused")]
    pub method: EvalMethod,

    /// The dense score's share of the fused score (default: what `search_tools` uses).
    #[arg(long, value_name = "SHARE")]
    pub dense_share: Option<f32>,

    /// Rank multi-part queries as one text only.
    #[arg(long)]
    pub no_split: bool,

    /// Only the queries of this split (`tune` or `heldout`).
    #[arg(long, value_name = "SPLIT")]
    pub split: Option<String>,

    /// Also list the queries whose first labelled tool is not in the top 5, with what came
    /// first instead.
    #[arg(long)]
    pub misses: bool,

    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalMethod {
    /// Lexical and dense scores fused, as `search_tools` ranks.
    Fused,
    /// BM25F alone.
    Lexical,
    /// The sentence encoder alone.
    Dense,
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

    /// Show names, paths and signatures for Python code instead of TypeScript.
    #[arg(long, value_enum)]
    pub language: Option<LanguageArg>,

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

#[derive(Debug, Args)]
pub struct UiArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Where to serve the page: `127.0.0.1:9464` or a port alone (on 127.0.0.1; 0 picks a free
    /// one). Loopback only without --allow-remote.
    #[arg(long, value_name = "ADDR", value_parser = parse_http_address, default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,

    /// Allow an address other machines can reach. The page shows agents' code (personal data
    /// tokenized) to anyone who reaches the port.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Only records of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<AuditKindArg>,

    /// Only records from this time on: an RFC 3339 timestamp (2026-04-14T09:30:00Z, or with an
    /// offset like +02:00) or a time ago (30s, 10m, 2h, 1d, 1w, 1h30m). An execution that was
    /// still running then counts.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only tool calls to this server, and releases of personal data from or to it.
    #[arg(long, value_name = "SERVER")]
    pub server: Option<String>,

    /// Only calls of this tool (its MCP name), and releases from or to it.
    #[arg(long, value_name = "TOOL")]
    pub tool: Option<String>,

    /// Only records of this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Only records of this principal of `sluice serve --http` (`jwt:<sub>` or `token:<name>`,
    /// as the records' `principal` field says).
    #[arg(long, value_name = "KEY")]
    pub principal: Option<String>,

    /// Only records of this execution: its id, or its start as shown in the EXECUTION column.
    #[arg(long, value_name = "ID")]
    pub execution: Option<String>,

    /// Only executions and tool calls with this outcome: ok or error for executions; for tool
    /// calls ok or the kind of the ToolError: tool, invalid_arguments, unknown_tool,
    /// server_unavailable, timeout, limit, transport, rate_limited, policy_denied,
    /// privacy_budget, denied, approval_required, approval_denied, definition_changed (tool_error is read as tool).
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Option<String>,

    /// Show the last N matching records; 0 shows them all.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,

    /// Print the records exactly as stored: one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// The kinds of audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditKindArg {
    /// One code execution: its code, outcome, limits hit and statistics.
    Execution,
    /// One tool call: server, tool, outcome, duration, size and hash of the arguments.
    #[value(name = "tool_call", alias = "tool-call")]
    ToolCall,
    /// A personal-data token resolved into a tool argument: type, source, destination.
    Release,
    /// A session created or ended.
    Session,
    /// What the log says about itself: an execution's records past its budget counted in one,
    /// records younger than the retention deleted at the size cap.
    Notice,
    /// Governance: an approval asked and answered, a changed tool definition held back,
    /// accepted or rejected.
    Governance,
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List the saved skills: name, version, language and description. Folders that are not valid skills
    /// are reported on stderr.
    List(SkillsListArgs),
    /// Show a skill: its SKILL.md (description and how to import it), then its code (index.ts or
    /// skill.py).
    Show(SkillsShowArgs),
    /// Remove a skill. Its folder moves into `skills/.history/<name>/<version>/`, so nothing is
    /// lost; saving the name again continues its version numbers.
    Remove(SkillsRemoveArgs),
}

#[derive(Debug, Args)]
pub struct SkillsListArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// Print JSON: `{"skills": [{name, version, description, updated_at}], "problems": [...]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillsShowArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The skill's name (kebab-case, as listed).
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Print JSON: `{name, version, description, skill_md, code}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SkillsRemoveArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The skill's name (kebab-case, as listed).
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Authorize Sluice to a server: discovers its authorization server, registers Sluice there
    /// when needed, prints the authorization URL (and opens it with $BROWSER when set), waits for
    /// the browser to come back to a loopback port, and stores the tokens. Also asks for the
    /// permissions a call was refused for since the last login. A running `sluice serve` picks
    /// the new tokens up by itself.
    Login(AuthLoginArgs),
    /// Forget a server's tokens (and Sluice's registration with its authorization server).
    Logout(AuthServerArgs),
    /// Show, for each HTTP server, whether Sluice holds a token for it and until when.
    Status(AuthStatusArgs),
}

#[derive(Debug, Args)]
pub struct AuthLoginArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The server's name in the config.
    #[arg(value_name = "SERVER")]
    pub server: String,

    /// How long to wait for the browser to come back, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,

    /// Log in again even when the server accepts the current token.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AuthServerArgs {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The server's name in the config.
    #[arg(value_name = "SERVER")]
    pub server: String,
}

#[derive(Debug, Args)]
pub struct AuthStatusArgs {
    #[command(flatten)]
    pub global: GlobalOptions,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use sluice_worker_protocol::ToolErrorKind;

    use super::Cli;

    /// `sluice audit --outcome` lists every outcome a tool-call record can have.
    #[test]
    fn the_outcome_help_lists_every_tool_error_kind() {
        let mut command = Cli::command();
        let audit = command
            .find_subcommand_mut("audit")
            .expect("the audit command");
        let help = audit.render_long_help().to_string();
        for kind in ToolErrorKind::KNOWN {
            assert!(help.contains(kind.as_str()), "{kind} missing from:\n{help}");
        }
    }
}
