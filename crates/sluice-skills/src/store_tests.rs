//! Tests of `store.rs`.

use super::*;
use crate::language::CODE_FILE;

fn typescript(code: &str) -> SkillCode {
    SkillCode {
        language: SkillLanguage::TypeScript,
        code: code.to_owned(),
    }
}

fn exports(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn store() -> (tempfile::TempDir, SkillStore) {
    let scratch = tempfile::tempdir().unwrap();
    let store = SkillStore::open(scratch.path()).unwrap();
    (scratch, store)
}

const CODE_V1: &str = "export function toCsv(rows: string[][]) { return rows.join('\\n'); }\n";
const CODE_V2: &str =
    "export function toCsv(rows: string[][]) { return rows.map(r => r.join(',')).join('\\n'); }\n";

#[test]
fn opening_creates_nothing() {
    let (scratch, store) = store();
    assert_eq!(store.root(), scratch.path().join("skills"));
    assert!(!store.root().exists());
    let listing = store.list().unwrap();
    assert!(listing.skills.is_empty() && listing.problems.is_empty());
    assert!(store.sources().unwrap().is_empty());
}

#[test]
fn open_refuses_a_file_in_place_of_the_folder() {
    let scratch = tempfile::tempdir().unwrap();
    fs::write(scratch.path().join("skills"), "").unwrap();
    let error = SkillStore::open(scratch.path()).unwrap_err();
    assert!(error.to_string().contains("it is not a folder"), "{error}");
    assert!(error.to_string().contains("move or remove it"), "{error}");
}

#[test]
fn saves_reads_and_lists_a_skill() {
    let (_scratch, store) = store();
    let saved = store
        .save(
            "to-csv",
            "Turn rows into CSV",
            CODE_V1,
            &exports(&["toCsv", "toCsv"]),
        )
        .unwrap();
    assert_eq!(
        saved,
        SavedSkill {
            name: "to-csv".to_owned(),
            version: 1,
            previous_version: None
        }
    );
    let skill = store.get("to-csv").unwrap();
    assert_eq!(skill.code, CODE_V1);
    assert_eq!(skill.description, "Turn rows into CSV");
    assert_eq!(skill.version, 1);
    assert!(
        skill
            .skill_md
            .contains("import { toCsv } from './skills/to-csv';"),
        "{}",
        skill.skill_md
    );
    let listing = store.list().unwrap();
    assert_eq!(listing.skills.len(), 1);
    assert_eq!(listing.skills[0].name, "to-csv");
    assert_eq!(listing.skills[0].version, 1);
    assert!(listing.skills[0].updated_at > SystemTime::UNIX_EPOCH);
    assert_eq!(
        store.sources().unwrap(),
        BTreeMap::from([("to-csv".to_owned(), typescript(CODE_V1))])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: PathBuf| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.root().to_owned()), 0o700);
        assert_eq!(mode(store.root().join("to-csv/index.ts")), 0o600);
        assert_eq!(mode(store.root().join("to-csv/SKILL.md")), 0o600);
    }
}

#[test]
fn saving_again_keeps_the_previous_version() {
    let (_scratch, store) = store();
    store
        .save("to-csv", "First", CODE_V1, &exports(&["toCsv"]))
        .unwrap();
    let saved = store
        .save("to-csv", "Second", CODE_V2, &exports(&["toCsv"]))
        .unwrap();
    assert_eq!((saved.version, saved.previous_version), (2, Some(1)));
    let saved = store
        .save("to-csv", "Third", CODE_V2, &exports(&["toCsv"]))
        .unwrap();
    assert_eq!((saved.version, saved.previous_version), (3, Some(2)));

    let archived = store.root().join(".history/to-csv/1");
    assert_eq!(
        fs::read_to_string(archived.join("index.ts")).unwrap(),
        CODE_V1
    );
    assert!(
        fs::read_to_string(archived.join("SKILL.md"))
            .unwrap()
            .contains("description: First")
    );
    let history = store.history("to-csv").unwrap();
    let summary: Vec<(u32, Option<&str>, bool)> = history
        .iter()
        .map(|entry| (entry.version, entry.description.as_deref(), entry.current))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some("First"), false),
            (2, Some("Second"), false),
            (3, Some("Third"), true)
        ]
    );
    assert_eq!(store.get_version("to-csv", 1).unwrap().code, CODE_V1);
    assert_eq!(store.get_version("to-csv", 3).unwrap().description, "Third");
    let error = store.get_version("to-csv", 7).unwrap_err();
    assert_eq!(
        error.to_string(),
        "skill `to-csv` has no version 7; its versions are 1, 2, 3"
    );
    // No temporary files are left behind.
    let leftovers: Vec<String> = fs::read_dir(store.root().join("to-csv"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn remove_moves_the_skill_into_the_history_and_saving_continues_the_numbers() {
    let (_scratch, store) = store();
    store.save("to-csv", "First", CODE_V1, &[]).unwrap();
    store.save("to-csv", "Second", CODE_V2, &[]).unwrap();
    let removed = store.remove("to-csv").unwrap();
    assert_eq!(removed.version, 2);
    assert_eq!(removed.history_path, store.root().join(".history/to-csv/2"));
    assert!(!store.root().join("to-csv").exists());
    assert_eq!(
        fs::read_to_string(removed.history_path.join("index.ts")).unwrap(),
        CODE_V2
    );
    assert!(store.list().unwrap().skills.is_empty());
    assert!(matches!(
        store.get("to-csv"),
        Err(SkillError::NotFound { .. })
    ));
    let versions: Vec<u32> = store
        .history("to-csv")
        .unwrap()
        .iter()
        .map(|entry| entry.version)
        .collect();
    assert_eq!(versions, [1, 2]);

    let saved = store.save("to-csv", "Third", CODE_V1, &[]).unwrap();
    assert_eq!((saved.version, saved.previous_version), (3, None));
    assert!(matches!(
        store.remove("nothing-here"),
        Err(SkillError::NotFound { .. })
    ));
}

#[test]
fn unknown_names_list_the_skills_there_are() {
    let (_scratch, store) = store();
    assert_eq!(
        store.get("missing").unwrap_err().to_string(),
        "no skill named `missing`; no skills are saved yet"
    );
    store.save("beta", "B", CODE_V1, &[]).unwrap();
    store.save("alpha", "A", CODE_V1, &[]).unwrap();
    for error in [
        store.get("missing").unwrap_err(),
        store.get("../alpha").unwrap_err(),
        store.remove("missing").unwrap_err(),
        store.history("missing").unwrap_err(),
    ] {
        assert_eq!(
            error.to_string().split("; ").nth(1),
            Some("the skills are: alpha, beta"),
            "{error}"
        );
    }
}

#[test]
fn save_validates_before_touching_the_disk() {
    let (_scratch, store) = store();
    for result in [
        store.save("Bad Name", "d", CODE_V1, &[]),
        store.save("index", "d", CODE_V1, &[]),
        store.save("good", "two\nlines", CODE_V1, &[]),
        store.save("good", "", CODE_V1, &[]),
        store.save("good", "d", "  ", &[]),
        store.save("good", "d", &"x".repeat(256 * 1024 + 1), &[]),
        store.save("good", "d", CODE_V1, &exports(&["not-an-identifier"])),
    ] {
        assert!(result.is_err());
    }
    assert!(!store.root().exists());
}

#[test]
fn weird_descriptions_survive_the_round_trip() {
    let (_scratch, store) = store();
    let description = "---\tnot a fence: \"quoted\" # not a comment";
    // A tab is a control character: refused.
    assert!(store.save("weird", description, CODE_V1, &[]).is_err());
    let description = "--- not a fence: \"quoted\" # not a comment ---";
    store.save("weird", description, CODE_V1, &[]).unwrap();
    assert_eq!(store.get("weird").unwrap().description, description);
    assert_eq!(store.list().unwrap().skills[0].description, description);
}

#[test]
fn broken_folders_are_reported_not_fatal() {
    let (_scratch, store) = store();
    store.save("good", "Fine", CODE_V1, &[]).unwrap();
    let root = store.root();
    fs::create_dir(root.join("no-skill-md")).unwrap();
    fs::write(root.join("no-skill-md/index.ts"), CODE_V1).unwrap();
    fs::create_dir(root.join("no-code")).unwrap();
    fs::write(
        root.join("no-code/SKILL.md"),
        "---\nname: no-code\ndescription: d\n---\n",
    )
    .unwrap();
    fs::create_dir(root.join("wrong-name")).unwrap();
    fs::write(
        root.join("wrong-name/SKILL.md"),
        "---\nname: other\ndescription: d\n---\n",
    )
    .unwrap();
    fs::write(root.join("wrong-name/index.ts"), CODE_V1).unwrap();
    fs::create_dir(root.join("Bad_Folder")).unwrap();
    fs::write(root.join("stray-file.txt"), "").unwrap();

    let listing = store.list().unwrap();
    let names: Vec<&str> = listing
        .skills
        .iter()
        .map(|skill| skill.name.as_str())
        .collect();
    assert_eq!(names, ["good"]);
    let problems: Vec<String> = listing
        .problems
        .iter()
        .map(|problem| {
            format!(
                "{}: {}",
                problem.path.file_name().unwrap().to_string_lossy(),
                problem.error
            )
        })
        .collect();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        problems[0].starts_with("Bad_Folder: invalid skill name"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("the skill's code is missing"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("save the skill again") && !problems[1].contains("---"),
        "{problems:#?}"
    );
    assert!(
        problems[2].contains("the skill has no SKILL.md"),
        "{problems:#?}"
    );
    assert!(
        problems[3].contains("names the skill `other`"),
        "{problems:#?}"
    );
    assert_eq!(store.sources().unwrap().len(), 1);

    // A broken skill can be saved over, and its old files are still kept.
    let saved = store.save("no-skill-md", "Fixed", CODE_V2, &[]).unwrap();
    assert_eq!((saved.version, saved.previous_version), (2, Some(1)));
    assert_eq!(
        fs::read_to_string(root.join(".history/no-skill-md/1/index.ts")).unwrap(),
        CODE_V1
    );
}

#[cfg(unix)]
#[test]
fn symlinked_folders_are_not_skills() {
    let (scratch, store) = store();
    store.save("good", "Fine", CODE_V1, &[]).unwrap();
    let outside = scratch.path().join("outside");
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, store.root().join("linked")).unwrap();
    let listing = store.list().unwrap();
    assert_eq!(listing.skills.len(), 1);
    assert!(listing.problems.is_empty());
    assert!(matches!(
        store.remove("linked"),
        Err(SkillError::NotFound { .. })
    ));
    assert!(outside.exists());
}

#[test]
fn concurrent_saves_get_distinct_versions() {
    let (_scratch, store) = store();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let store = store.clone();
            scope.spawn(move || {
                for index in 0..5 {
                    let code = format!("export const value = {thread}{index};\n");
                    store.save("shared", "Shared", &code, &[]).unwrap();
                }
            });
        }
    });
    let versions: Vec<u32> = store
        .history("shared")
        .unwrap()
        .iter()
        .map(|entry| entry.version)
        .collect();
    assert_eq!(versions, (1..=20).collect::<Vec<u32>>());
}

#[test]
fn the_store_holds_at_most_max_skills_and_bounds_what_it_reads() {
    let (_scratch, store) = store();
    store
        .save("kept", "Kept", CODE_V1, &["toCsv".to_owned()])
        .unwrap();
    for index in 1..MAX_SKILLS {
        fs::create_dir_all(store.root().join(format!("filler-{index}"))).unwrap();
    }
    let error = store
        .save("one-more", "One more", CODE_V1, &["toCsv".to_owned()])
        .unwrap_err();
    assert!(
        matches!(error, SkillError::TooMany { limit: MAX_SKILLS }),
        "{error}"
    );
    assert!(
        error.to_string().contains("sluice skills remove"),
        "{error}"
    );
    // A new version of an existing skill is still accepted.
    store
        .save("kept", "Kept", CODE_V2, &["toCsv".to_owned()])
        .unwrap();

    assert_eq!(store.source("kept").unwrap(), Some(typescript(CODE_V2)));
    assert_eq!(store.source("no-such-skill").unwrap(), None);
    assert_eq!(store.source("../../etc/passwd").unwrap(), None);
    fs::create_dir_all(store.root().join("huge")).unwrap();
    fs::write(
        store.root().join("huge").join(CODE_FILE),
        "x".repeat(MAX_CODE_BYTES + 1),
    )
    .unwrap();
    let error = store.source("huge").unwrap_err();
    assert!(
        error.to_string().contains("save it again smaller"),
        "{error}"
    );
}

#[test]
fn a_skill_saved_in_python_and_back_keeps_one_code_file_and_its_history() {
    let (_scratch, store) = store();
    let python = "def total(rows):\n    return sum(rows)\n";
    store
        .save_by(
            "sum-rows",
            "Sum rows",
            python,
            SkillLanguage::Python,
            &exports(&["total"]),
            None,
        )
        .unwrap();
    let dir = store.root().join("sum-rows");
    assert!(dir.join("skill.py").is_file());
    assert!(!dir.join(CODE_FILE).exists());
    let skill = store.get("sum-rows").unwrap();
    assert_eq!(
        (skill.language, skill.code.as_str()),
        (SkillLanguage::Python, python)
    );
    assert!(skill.skill_md.contains("from skills.sum_rows import total"));
    assert_eq!(
        store.summary("sum-rows").unwrap().language,
        SkillLanguage::Python
    );
    assert_eq!(
        store.source("sum-rows").unwrap().map(|code| code.language),
        Some(SkillLanguage::Python)
    );

    // Saved again in TypeScript: the Python file goes to the history, only index.ts stays.
    store
        .save("sum-rows", "Sum rows", CODE_V1, &exports(&["toCsv"]))
        .unwrap();
    assert!(dir.join(CODE_FILE).is_file());
    assert!(!dir.join("skill.py").exists());
    assert_eq!(store.source("sum-rows").unwrap(), Some(typescript(CODE_V1)));
    let first = store.get_version("sum-rows", 1).unwrap();
    assert_eq!(
        (first.language, first.code.as_str()),
        (SkillLanguage::Python, python)
    );

    // A folder with neither code file is reported, naming both.
    fs::remove_file(dir.join(CODE_FILE)).unwrap();
    let error = store.summary("sum-rows").unwrap_err();
    assert!(
        error.to_string().contains("index.ts or skill.py"),
        "{error}"
    );
}
