//! `sluice skills list|show|remove`: the skills saved in the data folder.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use sluice_audit::Timestamp;
use sluice_skills::{SKILL_FILE, SKILLS_DIR, SkillStore};

use crate::cli::{SkillsCommand, SkillsListArgs, SkillsRemoveArgs, SkillsShowArgs};
use crate::commands::{data_dir, printable, write_stdout};

pub fn run(command: SkillsCommand) -> Result<ExitCode> {
    match command {
        SkillsCommand::List(args) => list(args),
        SkillsCommand::Show(args) => show(args),
        SkillsCommand::Remove(args) => remove(args),
    }
}

fn open_store(options: &crate::cli::GlobalOptions) -> Result<SkillStore> {
    let data_dir = data_dir(options)?;
    SkillStore::open(&data_dir)
        .with_context(|| format!("cannot open the skills of {}", data_dir.display()))
}

fn list(args: SkillsListArgs) -> Result<ExitCode> {
    let store = open_store(&args.global)?;
    let listing = store.list()?;
    for problem in &listing.problems {
        eprintln!("sluice: warning: not a skill: {}", problem.error);
    }
    if args.json {
        let skills: Vec<_> = listing
            .skills
            .iter()
            .map(|skill| {
                json!({
                    "name": skill.name,
                    "version": skill.version,
                    "language": skill.language,
                    "description": skill.description,
                    "updated_at": Timestamp::from(skill.updated_at).to_string(),
                })
            })
            .collect();
        let problems: Vec<_> = listing
            .problems
            .iter()
            .map(|problem| json!({"path": problem.path, "error": problem.error.to_string()}))
            .collect();
        let value = json!({"skills": skills, "problems": problems});
        return write_json(&value).map(|()| ExitCode::SUCCESS);
    }
    if listing.skills.is_empty() {
        eprintln!(
            "sluice: no skills in {}: agents save them with the save_skill tool of `sluice serve`",
            store.root().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let name_width = listing
        .skills
        .iter()
        .map(|skill| skill.name.len())
        .chain(["NAME".len()])
        .max()
        .unwrap_or(0);
    write_stdout(|stdout| {
        writeln!(
            stdout,
            "{:<name_width$}  VERSION  LANGUAGE    DESCRIPTION",
            "NAME"
        )?;
        for skill in &listing.skills {
            writeln!(
                stdout,
                "{:<name_width$}  {:>7}  {:<10}  {}",
                printable(&skill.name, false),
                skill.version,
                skill.language,
                printable(&skill.description, false)
            )?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: SkillsShowArgs) -> Result<ExitCode> {
    let store = open_store(&args.global)?;
    let skill = store.get(&args.name)?;
    if args.json {
        let value = json!({
            "name": skill.name,
            "version": skill.version,
            "language": skill.language,
            "description": skill.description,
            "skill_md": skill.skill_md,
            "code": skill.code,
        });
        return write_json(&value).map(|()| ExitCode::SUCCESS);
    }
    write_stdout(|stdout| {
        // Headers as `head` prints them for several files; the paths are relative to the data
        // folder, the way an agent imports the skill.
        let code_file = skill.language.code_file();
        for (file, text) in [(SKILL_FILE, &skill.skill_md), (code_file, &skill.code)] {
            // Saved by agents: shown with their lines, but no other control character.
            writeln!(
                stdout,
                "==> {SKILLS_DIR}/{}/{file} <==",
                printable(&skill.name, false)
            )?;
            write!(stdout, "{}", printable(text, true))?;
            if !text.ends_with('\n') {
                writeln!(stdout)?;
            }
            if file == SKILL_FILE {
                writeln!(stdout)?;
            }
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn remove(args: SkillsRemoveArgs) -> Result<ExitCode> {
    let store = open_store(&args.global)?;
    let removed = store.remove(&args.name)?;
    eprintln!(
        "sluice: removed skill `{}` (version {}); its files are kept in {}",
        removed.name,
        removed.version,
        removed.history_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_json(value: &serde_json::Value) -> Result<()> {
    write_stdout(|stdout| {
        serde_json::to_writer_pretty(&mut *stdout, value)?;
        writeln!(stdout)
    })
}
