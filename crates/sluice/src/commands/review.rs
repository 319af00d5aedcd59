//! `sluice tools review`: accept or reject the changed definitions of held tools.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::json;
use sluice_gateway::{Gateway, GatewayOptions};
use sluice_pins::Review;

use crate::cli::ReviewArgs;
use crate::commands::{data_dir, load_config, printable, report_progress, write_stdout};

/// A person's decision on one held tool.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject,
}

pub async fn run(args: ReviewArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    if !config.settings.pinning.enabled {
        bail!(
            "tool definitions are not pinned (sluice.pinning.enabled is false): there is nothing to review"
        );
    }
    // Connect to every server first: what they present now is compared with the pins (and a
    // change no gateway has seen yet is recorded as held). No workers: no code runs here.
    let gateway = Gateway::start(
        config,
        GatewayOptions {
            data_dir: Some(data_dir(&args.global)?),
            ..GatewayOptions::default()
        },
    )?;
    gateway.wait_connected(report_progress(&gateway)).await;
    let outcome = review(&gateway, &args);
    gateway.shutdown().await;
    outcome
}

fn review(gateway: &Gateway, args: &ReviewArgs) -> Result<ExitCode> {
    let Some(store) = gateway.pin_store() else {
        bail!("tool definitions are not pinned: there is no data folder");
    };
    let held = store
        .held()
        .context("cannot read the pinned tool definitions")?;
    let name = |review: &Review| format!("{}.{}", review.server, review.tool);
    let mut decisions: Vec<(&Review, Decision)> = Vec::new();
    let mut find = |wanted: &str, decision: Decision| -> Result<()> {
        match held.iter().find(|review| name(review) == wanted) {
            Some(review) => {
                decisions.push((review, decision));
                Ok(())
            }
            None => {
                let names: Vec<String> = held.iter().map(name).collect();
                bail!(
                    "\"{}\" is not held back; held tools: {}",
                    printable(wanted, false),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        printable(&names.join(", "), false).into_owned()
                    }
                )
            }
        }
    };
    for wanted in &args.accept {
        find(wanted, Decision::Accept)?;
    }
    for wanted in &args.reject {
        find(wanted, Decision::Reject)?;
    }
    if args.accept_all {
        decisions.extend(held.iter().map(|review| (review, Decision::Accept)));
    }
    let scripted =
        args.json || args.accept_all || !args.accept.is_empty() || !args.reject.is_empty();
    if !scripted {
        if held.is_empty() {
            eprintln!("sluice: no tool is held back");
            return Ok(ExitCode::SUCCESS);
        }
        let interactive = std::io::stdin().is_terminal();
        for review in &held {
            let text = review.to_text();
            write_stdout(|out| write!(out, "{}", printable(&text, true)))?;
            if !interactive {
                continue;
            }
            if let Some(decision) = ask(review)? {
                decisions.push((review, decision));
            }
        }
        if !interactive {
            eprintln!(
                "sluice: {} tool{} held back; decide with --accept SERVER.TOOL, --accept-all or --reject SERVER.TOOL (or run this on a terminal)",
                held.len(),
                if held.len() == 1 { "" } else { "s" }
            );
        }
    }
    let mut decided = Vec::new();
    for (review, decision) in decisions {
        let pinned = match decision {
            Decision::Accept => {
                store.accept(&review.server, &review.tool, Some(&review.presented_sha256))
            }
            Decision::Reject => {
                store.reject(&review.server, &review.tool, Some(&review.presented_sha256))
            }
        }
        .context("cannot record the decision")?;
        let word = if decision == Decision::Accept {
            "accepted"
        } else {
            "rejected"
        };
        match pinned {
            Some(review) => {
                gateway.audit_review(&review, decision == Decision::Accept);
                eprintln!("sluice: {word} {}", printable(&name(&review), false));
                decided
                    .push(json!({"server": review.server, "tool": review.tool, "decision": word}));
            }
            None => eprintln!(
                "sluice: {} was not {word}: its server presented another definition meanwhile; review it again",
                printable(&name(review), false)
            ),
        }
    }
    if args.json {
        let document = json!({"held": held, "decided": decided});
        write_stdout(|out| {
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Ask on the terminal: accept, reject or skip.
fn ask(review: &Review) -> Result<Option<Decision>> {
    let stdin = std::io::stdin();
    loop {
        eprint!(
            "Accept the new definition of {}.{}? [a]ccept / [r]eject / [s]kip: ",
            printable(&review.server, false),
            printable(&review.tool, false)
        );
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "a" | "accept" => return Ok(Some(Decision::Accept)),
            "r" | "reject" => return Ok(Some(Decision::Reject)),
            "s" | "skip" | "" => return Ok(None),
            _ => continue,
        }
    }
}
