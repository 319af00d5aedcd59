//! Tests of `log.rs`.

use std::collections::BTreeSet;
use std::thread;

use sluice_worker_protocol::Limit;

use super::*;
use crate::record::tests::{execution, tool_call};

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn appends_one_line_per_record_with_private_modes() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("data/audit");
    let log = AuditLog::open(&dir, Rotation::default()).unwrap();
    let first = tool_call("exec-1", "crm", "query", 1_000);
    let second = execution("exec-1", "const a = 1;\nconsole.log(\"\\n\")", 2_000);
    log.append(&first).unwrap();
    log.append(&second).unwrap();
    log.sync().unwrap();

    let lines = lines_of(log.path());
    assert_eq!(lines.len(), 2);
    assert_eq!(serde_json::from_str::<Record>(&lines[0]).unwrap(), first);
    assert_eq!(serde_json::from_str::<Record>(&lines[1]).unwrap(), second);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(log.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
}

#[test]
fn a_log_deleted_while_open_is_created_again() {
    let scratch = tempfile::tempdir().unwrap();
    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    log.append(&tool_call("exec-1", "crm", "query", 1_000))
        .unwrap();
    fs::remove_file(log.path()).unwrap();
    let after = tool_call("exec-2", "crm", "query", 2_000);
    log.append(&after).unwrap();
    let lines = lines_of(log.path());
    assert_eq!(lines.len(), 1);
    assert_eq!(serde_json::from_str::<Record>(&lines[0]).unwrap(), after);
}

#[test]
fn reopening_continues_the_file_and_ends_a_torn_line() {
    let scratch = tempfile::tempdir().unwrap();
    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    log.append(&tool_call("exec-1", "crm", "query", 1_000))
        .unwrap();
    drop(log);
    // A crash in the middle of a write leaves half a line without its newline.
    let path = scratch.path().join(CURRENT_FILE);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"kind\":\"tool_ca").unwrap();
    drop(file);

    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    log.append(&tool_call("exec-2", "crm", "query", 2_000))
        .unwrap();
    let lines = lines_of(&path);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], "{\"kind\":\"tool_ca");
    let last: Record = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(last.execution_id(), Some("exec-2"));
}

#[test]
fn loosened_modes_are_tightened_on_open() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join(CURRENT_FILE);
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        AuditLog::open(scratch.path(), Rotation::default()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn rotates_by_size_and_keeps_only_the_newest_files() {
    let scratch = tempfile::tempdir().unwrap();
    let record = tool_call("exec-1", "crm", "query", 1_000);
    let line_bytes = serde_json::to_vec(&record).unwrap().len() as u64 + 1;
    // Two records per file.
    let rotation = Rotation {
        max_bytes: line_bytes * 2,
        keep: 2,
        retain: Duration::ZERO,
        max_total_bytes: u64::MAX,
    };
    let log = AuditLog::open(scratch.path(), rotation).unwrap();
    for index in 0..9 {
        log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 1_000))
            .unwrap();
    }
    assert_eq!(
        files_in(scratch.path()),
        BTreeSet::from([
            "audit.1.jsonl".to_owned(),
            "audit.2.jsonl".to_owned(),
            "audit.jsonl".to_owned(),
            "audit.lock".to_owned(),
        ])
    );
    let ids = |name: &str| -> Vec<String> {
        lines_of(&scratch.path().join(name))
            .iter()
            .map(|line| {
                let record: Record = serde_json::from_str(line).unwrap();
                record.execution_id().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(ids("audit.2.jsonl"), ["exec-4", "exec-5"]);
    assert_eq!(ids("audit.1.jsonl"), ["exec-6", "exec-7"]);
    assert_eq!(ids("audit.jsonl"), ["exec-8"]);
}

#[test]
fn a_record_larger_than_the_limit_is_written_whole_in_its_own_file() {
    let scratch = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        max_bytes: 100,
        keep: 3,
        retain: Duration::ZERO,
        max_total_bytes: u64::MAX,
    };
    let log = AuditLog::open(scratch.path(), rotation).unwrap();
    let big = execution("exec-big", &"x".repeat(1_000), 1_000);
    log.append(&tool_call("exec-0", "crm", "query", 1_000))
        .unwrap();
    log.append(&big).unwrap();
    log.append(&tool_call("exec-1", "crm", "query", 1_000))
        .unwrap();
    let rotated = lines_of(&scratch.path().join("audit.1.jsonl"));
    assert_eq!(rotated.len(), 1);
    assert_eq!(serde_json::from_str::<Record>(&rotated[0]).unwrap(), big);
    assert_eq!(lines_of(&scratch.path().join("audit.2.jsonl")).len(), 1);
    assert_eq!(lines_of(log.path()).len(), 1);
}

#[test]
fn keep_zero_keeps_no_old_files_and_a_smaller_keep_prunes_old_ones() {
    let scratch = tempfile::tempdir().unwrap();
    let small = Rotation {
        max_bytes: 10,
        keep: 4,
        retain: Duration::ZERO,
        max_total_bytes: u64::MAX,
    };
    let log = AuditLog::open(scratch.path(), small).unwrap();
    for index in 0..6 {
        log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 0))
            .unwrap();
    }
    assert!(scratch.path().join("audit.4.jsonl").exists());
    drop(log);

    let log = AuditLog::open(scratch.path(), Rotation { keep: 0, ..small }).unwrap();
    log.append(&tool_call("exec-last", "crm", "query", 0))
        .unwrap();
    assert_eq!(
        files_in(scratch.path()),
        BTreeSet::from(["audit.jsonl".to_owned(), "audit.lock".to_owned()])
    );
    assert_eq!(lines_of(log.path()).len(), 1);
}

#[test]
fn rotated_names_round_trip() {
    assert_eq!(rotated_file_number(&rotated_file_name(12)), Some(12));
    for name in [
        "audit.jsonl",
        "audit.0.jsonl",
        "audit.-1.jsonl",
        "audit.+1.jsonl",
        "audit..jsonl",
        "audit.1.json",
        "other.1.jsonl",
    ] {
        assert_eq!(rotated_file_number(name), None, "{name}");
    }
}

#[test]
fn many_threads_append_whole_lines() {
    let scratch = tempfile::tempdir().unwrap();
    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    let threads = 8;
    let per_thread = 200;
    thread::scope(|scope| {
        for thread_index in 0..threads {
            let log = log.clone();
            scope.spawn(move || {
                for index in 0..per_thread {
                    // Records of different sizes, some larger than a pipe buffer.
                    let code = "y".repeat((thread_index * 977 + index * 131) % 9_000);
                    let id = format!("exec-{thread_index}-{index}");
                    log.append(&execution(&id, &code, 0)).unwrap();
                }
            });
        }
    });
    let lines = lines_of(log.path());
    assert_eq!(lines.len(), threads * per_thread);
    let ids: BTreeSet<String> = lines
        .iter()
        .map(|line| {
            let record: Record = serde_json::from_str(line).unwrap();
            record.execution_id().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), threads * per_thread);
}

#[test]
fn separate_writers_share_rotation_without_losing_records() {
    // Two logs opened on the same folder stand for two processes: each has its own handles,
    // and an flock taken through one excludes the other.
    let scratch = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        max_bytes: 4_000,
        keep: 1_000,
        retain: Duration::ZERO,
        max_total_bytes: u64::MAX,
    };
    let writers = [
        AuditLog::open(scratch.path(), rotation).unwrap(),
        AuditLog::open(scratch.path(), rotation).unwrap(),
    ];
    let per_writer = 300;
    thread::scope(|scope| {
        for (writer_index, log) in writers.iter().enumerate() {
            for thread_index in 0..2 {
                scope.spawn(move || {
                    for index in 0..per_writer {
                        let id = format!("exec-{writer_index}-{thread_index}-{index}");
                        log.append(&tool_call(&id, "crm", "query", 0)).unwrap();
                    }
                });
            }
        }
    });
    let mut ids = BTreeSet::new();
    let mut files = 0;
    for name in files_in(scratch.path()) {
        if name == LOCK_FILE {
            continue;
        }
        files += 1;
        let path = scratch.path().join(&name);
        assert!(
            fs::metadata(&path).unwrap().len() <= rotation.max_bytes,
            "{name}"
        );
        for line in lines_of(&path) {
            let record: Record = serde_json::from_str(&line).unwrap();
            assert!(ids.insert(record.execution_id().unwrap().to_owned()));
        }
    }
    assert!(files > 10, "only {files} files");
    assert_eq!(ids.len(), 2 * 2 * per_writer);
}

#[test]
fn one_record_cannot_be_made_large_by_what_an_agent_sends() {
    let scratch = tempfile::tempdir().unwrap();
    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    let huge = "é".repeat(60_000);
    let mut call = tool_call("exec-1", &huge, &huge, 0);
    if let Record::ToolCall(record) = &mut call {
        record.error = Some(huge.clone());
    }
    log.append(&call).unwrap();
    let mut run = execution("exec-1", &"x".repeat(1_000_000), 0);
    if let Record::Execution(record) = &mut run {
        record.limits_hit = vec![Limit::Other(huge.clone()); 1_000];
        record.stats = serde_json::json!({ "blob": huge });
    }
    log.append(&run).unwrap();
    let lines = lines_of(log.path());
    assert!(lines[0].len() < 6_000, "{}", lines[0].len());
    assert!(lines[1].len() < 75_000, "{}", lines[1].len());
    let Record::ToolCall(written) = serde_json::from_str(&lines[0]).unwrap() else {
        panic!("not a tool call");
    };
    assert!(written.tool.len() <= crate::record::MAX_NAME_BYTES);
    assert!(written.tool.ends_with(&format!(
        "[cut: {} bytes, sha256 {}]",
        huge.len(),
        crate::sha256_hex(huge.as_bytes())
    )));
    let Record::Execution(written) = serde_json::from_str(&lines[1]).unwrap() else {
        panic!("not an execution");
    };
    assert_eq!(written.limits_hit.len(), crate::record::MAX_LIMITS);
    assert!(written.stats.is_string());
    // The hash is still of the whole code.
    assert_eq!(
        written.code_sha256,
        crate::sha256_hex("x".repeat(1_000_000).as_bytes())
    );
}

#[test]
fn a_flood_of_records_cannot_push_young_records_out() {
    let scratch = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        max_bytes: 4_000,
        keep: 2,
        ..Rotation::default()
    };
    let log = AuditLog::open(scratch.path(), rotation).unwrap();
    log.append(&tool_call("exec-first", "crm", "query", 0))
        .unwrap();
    for index in 0..1_000 {
        let name = "n".repeat(100_000);
        log.append(&tool_call(&format!("flood-{index}"), "crm", &name, 0))
            .unwrap();
    }
    let records: Vec<Record> = crate::read(scratch.path())
        .unwrap()
        .map(|entry| entry.unwrap().record)
        .collect();
    assert_eq!(
        records[0].execution_id(),
        Some("exec-first"),
        "the first record was rotated out"
    );
    assert_eq!(records.len(), 1_001);
}

#[test]
fn the_total_cap_deletes_young_records_only_with_a_notice() {
    let scratch = tempfile::tempdir().unwrap();
    let record = tool_call("exec-0", "crm", "query", 0);
    let line_bytes = serde_json::to_vec(&record).unwrap().len() as u64 + 1;
    let rotation = Rotation {
        max_bytes: line_bytes,
        keep: 1,
        retain: Duration::from_secs(3600),
        max_total_bytes: line_bytes * 4,
    };
    let log = AuditLog::open(scratch.path(), rotation).unwrap();
    for index in 0..10 {
        log.append(&tool_call(&format!("exec-{index}"), "crm", "query", 0))
            .unwrap();
    }
    let records: Vec<Record> = crate::read(scratch.path())
        .unwrap()
        .map(|entry| entry.unwrap().record)
        .collect();
    let notices: Vec<&NoticeRecord> = records
        .iter()
        .filter_map(|record| match record {
            Record::Notice(notice) => Some(notice),
            _ => None,
        })
        .collect();
    assert!(!notices.is_empty(), "young records went without a notice");
    assert!(
        notices
            .iter()
            .all(|notice| notice.event == NoticeEvent::RetentionOverridden
                && notice.records >= 1
                && notice.detail.contains("maxTotalMb"))
    );
    let total: u64 = fs::read_dir(scratch.path())
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    // The cap, plus the current file with its notice.
    assert!(total <= line_bytes * 4 + 2_000, "{total}");
    assert!(
        records
            .iter()
            .any(|record| record.execution_id() == Some("exec-9"))
    );
}

#[test]
fn bound_text_cuts_at_a_character_boundary_within_the_limit() {
    for limit in [120, 121, 150, 200, 256] {
        let mut text = "ж".repeat(500);
        crate::record::bound_text(&mut text, limit);
        assert!(text.len() <= limit, "{limit}: {}", text.len());
        assert!(text.starts_with('ж') && text.contains("[cut: 1000 bytes"));
    }
    let mut short = "short".to_owned();
    crate::record::bound_text(&mut short, 120);
    assert_eq!(short, "short");
}
