//! One module per subcommand, plus what they share: finding the config, starting the gateway with
//! progress on stderr.

pub mod audit;
pub mod auth;
pub mod demo;
pub mod exec;
pub mod review;
pub mod serve;
pub mod skills;
pub mod tools;
pub mod ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use sluice_config::Config;
use sluice_downstream::{ServerState, ServerStatus};
use sluice_gateway::{Gateway, GatewayOptions, WorkerCommand};

use crate::cli::{Command, GlobalOptions, ToolsCommand};

pub async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Exec(args) => exec::run(args).await,
        Command::Tools(ToolsCommand::Search(args)) => tools::search(args).await,
        Command::Tools(ToolsCommand::Tree(args)) => tools::tree(args).await,
        Command::Tools(ToolsCommand::Eval(args)) => tools::eval(args),
        Command::Tools(ToolsCommand::Review(args)) => review::run(args).await,
        Command::Audit(args) => audit::run(args),
        Command::Ui(args) => ui::run(args).await,
        Command::Skills(command) => skills::run(command),
        Command::Auth(command) => auth::run(command).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Worker(args) => Ok(sluice_worker::main(args)),
    }
}

/// Load the config named by `--config`, `$SLUICE_CONFIG` or `./sluice.json`.
pub fn load_config(options: &GlobalOptions) -> Result<Config> {
    let path = match &options.config {
        Some(path) => path.clone(),
        None => {
            let default = PathBuf::from("sluice.json");
            if !default.exists() {
                anyhow::bail!(
                    "no config file: pass --config PATH (a JSON file with an \"mcpServers\" object, as Claude Desktop and Cursor use), set SLUICE_CONFIG, or create ./sluice.json"
                );
            }
            default
        }
    };
    Ok(sluice_config::load(&path)?)
}

/// The data folder: `--data-dir`, `$SLUICE_DATA_DIR`, `$XDG_DATA_HOME/sluice`, `~/.local/share/sluice`.
pub fn data_dir(options: &GlobalOptions) -> Result<PathBuf> {
    if let Some(dir) = &options.data_dir {
        return Ok(dir.clone());
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(xdg).join("sluice"));
    }
    let home =
        std::env::var_os("HOME").context("cannot find a data folder: set --data-dir or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/sluice"))
}

/// The model folder's name under `models/`.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Where the sentence encoder is: `--model`/`$SLUICE_MODEL` (`none` for no model), else the
/// first of `<data dir>/models/NAME` and `<binary's folder>/../models/NAME` that exists.
/// `None` means lexical search; the caller says so once on stderr.
pub fn model_folder(options: &GlobalOptions) -> Result<Option<PathBuf>, Vec<PathBuf>> {
    if let Some(explicit) = &options.model {
        if explicit.as_os_str() == "none" || explicit.as_os_str().is_empty() {
            return Ok(None);
        }
        return Ok(Some(explicit.clone()));
    }
    let mut candidates = Vec::new();
    if let Ok(data_dir) = data_dir(options) {
        candidates.push(data_dir.join("models").join(MODEL_NAME));
    }
    if let Ok(program) = std::env::current_exe()
        && let Some(folder) = program.parent().and_then(|bin| bin.parent())
    {
        candidates.push(folder.join("models").join(MODEL_NAME));
    }
    match candidates
        .iter()
        .find(|folder| folder.join(sluice_embed::MANIFEST_FILE).is_file())
    {
        Some(folder) => Ok(Some(folder.clone())),
        None => Err(candidates),
    }
}

/// Load the sentence encoder, or say once on stderr why search is lexical only.
pub fn load_encoder(options: &GlobalOptions) -> Option<sluice_embed::Encoder> {
    load_encoder_and_folder(options).map(|(encoder, _)| encoder)
}

/// The encoder of a long-running gateway: loaded now (so a broken model is said at start), let
/// go of while no one searches.
fn shared_encoder(options: &GlobalOptions) -> Option<sluice_embed::SharedEncoder> {
    load_encoder_and_folder(options)
        .map(|(encoder, folder)| sluice_embed::SharedEncoder::new(encoder, folder))
}

fn load_encoder_and_folder(
    options: &GlobalOptions,
) -> Option<(sluice_embed::Encoder, std::path::PathBuf)> {
    match model_folder(options) {
        Ok(None) => None,
        Ok(Some(folder)) => match sluice_embed::Encoder::load(&folder) {
            Ok(encoder) => Some((encoder, folder)),
            Err(error) => {
                eprintln!(
                    "sluice: search is lexical only: the model in {} did not load: {error}",
                    folder.display()
                );
                None
            }
        },
        Err(looked) => {
            let looked: Vec<String> = looked
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            eprintln!(
                "sluice: search is lexical only: no sentence-encoder model (looked in {}); \
                 run scripts/fetch-model, or pass --model DIR",
                looked.join(", ")
            );
            None
        }
    }
}

/// The program and arguments that start a worker: the `sluice-worker` binary beside this one
/// when it is of this build (it prints the same [`sluice_worker::BUILD`]); else this binary's
/// hidden `worker` subcommand, which runs the same code. The worker binary holds only the
/// worker's code, so each worker process maps and relocates far less (see `sluice_worker`).
pub fn worker_program() -> std::io::Result<(PathBuf, Vec<String>)> {
    let program = std::env::current_exe()?;
    let beside = program.with_file_name(WORKER_BINARY);
    if beside.is_file() {
        match build_of(&beside) {
            Some(build) if build == sluice_worker::BUILD => {
                tracing::debug!(worker = %beside.display(), "workers run as the worker binary");
                return Ok((beside, Vec::new()));
            }
            build => tracing::warn!(
                worker = %beside.display(),
                found = build.as_deref().unwrap_or("none"),
                expected = sluice_worker::BUILD,
                "the worker binary beside sluice is from another build, so workers run as \
                 `sluice worker` instead; rebuild both (cargo build) or install both again"
            ),
        }
    }
    Ok((program, vec!["worker".to_owned()]))
}

/// What a worker binary prints for `--print-build`; `None` if it does not run or says nothing.
fn build_of(worker: &std::path::Path) -> Option<String> {
    let output = std::process::Command::new(worker)
        .arg("--print-build")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// The worker binary's file name.
const WORKER_BINARY: &str = "sluice-worker";

/// The worker command of the gateway, confined unless `--no-sandbox`.
pub fn worker_command(options: &GlobalOptions) -> Option<WorkerCommand> {
    match worker_program() {
        Ok((program, arguments)) => {
            let mut command = WorkerCommand::new(program, arguments);
            if options.no_sandbox {
                eprintln!(
                    "sluice: WARNING: --no-sandbox: agent code runs WITHOUT confinement, with \
                     your user's access to files and network"
                );
                command.sandbox = false;
            }
            Some(command)
        }
        Err(error) => {
            tracing::warn!("code execution disabled: cannot find the sluice binary: {error}");
            None
        }
    }
}

/// Start the gateway with the data folder and worker of `options`.
pub fn start_gateway(config: Config, options: &GlobalOptions) -> Result<Gateway> {
    start_gateway_with_metrics(config, options, false, None)
}

/// The same, keeping metrics when `metrics` (`sluice serve --metrics`) and making spans with
/// `telemetry` (`sluice.telemetry`).
pub fn start_gateway_with_metrics(
    config: Config,
    options: &GlobalOptions,
    metrics: bool,
    telemetry: Option<std::sync::Arc<sluice_gateway::Telemetry>>,
) -> Result<Gateway> {
    let data_dir = data_dir(options)?;
    Ok(Gateway::start(
        config,
        GatewayOptions {
            worker: worker_command(options),
            data_dir: Some(data_dir),
            encoder: shared_encoder(options).map(std::sync::Arc::new),
            release_memory: Some(sluice_sandbox::release_free_heap),
            metrics,
            telemetry,
        },
    )?)
}

/// Start the gateway and wait for the first round of connections, reporting each server on stderr.
pub async fn start_and_connect(config: Config, options: &GlobalOptions) -> Result<Gateway> {
    let gateway = start_gateway(config, options)?;
    gateway.wait_connected(report_progress(&gateway)).await;
    Ok(gateway)
}

/// A progress callback: one stderr line per server as it settles, and on a terminal a progress
/// line below them naming the servers still connecting.
pub fn report_progress(gateway: &Gateway) -> impl FnMut(&ServerStatus) + use<> {
    let total = gateway.config().servers.len();
    let started = Instant::now();
    let mut pending: std::collections::BTreeSet<String> =
        gateway.config().servers.keys().cloned().collect();
    if total > 0 {
        eprintln!(
            "sluice: connecting to {total} server{}…",
            if total == 1 { "" } else { "s" }
        );
    }
    let waiting = move |settled: usize, pending: &std::collections::BTreeSet<String>| {
        let mut names: Vec<String> = pending
            .iter()
            .take(3)
            .map(|name| printable(name, false).into_owned())
            .collect();
        if pending.len() > 3 {
            names.push(format!("and {} more", pending.len() - 3));
        }
        format!(
            "connecting: {settled}/{total} settled, waiting for {}",
            names.join(", ")
        )
    };
    let progress = (total > 0).then(|| crate::progress::Progress::start(waiting(0, &pending)));
    let mut settled = 0;
    move |status: &ServerStatus| {
        settled += 1;
        pending.remove(&status.name);
        let elapsed = started.elapsed().as_millis();
        let line = match &status.state {
            ServerState::Ready { .. } => format!(
                "sluice: [{settled}/{total}] {} ready: {} tools ({elapsed} ms)",
                status.name, status.tools
            ),
            other => format!(
                "sluice: [{settled}/{total}] {} unavailable: {} ({elapsed} ms)",
                status.name,
                other.describe()
            ),
        };
        match &progress {
            Some(progress) => {
                progress.println(&line);
                if pending.is_empty() {
                    progress.finish();
                } else {
                    progress.set(waiting(settled, &pending));
                }
            }
            None => eprintln!("{line}"),
        }
    }
}

/// `text` made safe to print on a terminal: control characters (C0, DEL, C1; newlines and tabs
/// too unless `keep_lines`) and invisible formatting characters (bidirectional controls, zero
/// widths; what generated comments drop, [`sluice_codegen::escape::is_hidden`]) are written as
/// escapes (`\n`, `\r`, `\t`, `\u{1b}`), so that nothing an agent or a server put into a record
/// or a skill can move the cursor, repaint the screen, reorder what is shown, or forge a line of
/// a table.
pub(crate) fn printable(text: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |character: char| {
        let kept = keep_lines && matches!(character, '\n' | '\t');
        !kept && sluice_codegen::escape::is_hidden(character)
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        match character {
            '\n' if !keep_lines => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' if !keep_lines => escaped.push_str("\\t"),
            other if unsafe_char(other) => {
                escaped.push_str(&format!("\\u{{{:x}}}", u32::from(other)));
            }
            other => escaped.push(other),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Write a command's output to stdout with `write`, then flush. A closed stdout
/// (`sluice audit | head`) is the reader saying it has seen enough, not an error.
pub(crate) fn write_stdout(
    write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written.context("cannot write to stdout")?),
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn printable_escapes_what_could_repaint_or_forge() {
        assert_eq!(printable("plain text é", false), "plain text é");
        assert_eq!(
            printable("a\nb\tc\r\u{1b}[2J\u{7f}\u{9b}\u{202e}", false),
            "a\\nb\\tc\\r\\u{1b}[2J\\u{7f}\\u{9b}\\u{202e}"
        );
        assert_eq!(
            printable("line\n\tindented\u{1b}]0;title\u{7}", true),
            "line\n\tindented\\u{1b}]0;title\\u{7}"
        );
    }
}
