/*!
Sluice's append-only audit log: one JSON line per code execution, tool call, personal-data release,
session event and notice (what the log says about itself), in `<data dir>/audit/audit.jsonl`.

```text
{"kind":"tool_call","execution_id":"…","client":"cli","session":null,"at":"2026-04-14T09:30:05.123Z","server":"crm","tool":"query",…}
```

Writing ([`AuditLog`]): the file is opened with `O_APPEND` and mode 0600; every record is one
`write` of one whole line, so it is with the operating system before [`AuditLog::append`] returns
and lines of concurrent writers (threads, or `sluice serve` and `sluice exec` side by side) never
interleave. When a record would make the file larger than [`Rotation::max_bytes`], the files
shift (`audit.jsonl` to `audit.1.jsonl`, `audit.1.jsonl` to `audit.2.jsonl`, …, dropping those
beyond [`Rotation::keep`] unless they hold records younger than [`Rotation::retain`]) under a
file lock, and writing goes on in a fresh file. Young records go only when all files together
reach [`Rotation::max_total_bytes`], and then a notice record says so. Every record is written
[bounded](Record::bounded): names, messages and code are cut (with the whole one's size and hash)
past fixed limits, so what an agent sends cannot make one record arbitrarily large.

Reading ([`read`], [`query`]): every file, oldest first. A line that is not a record (the torn
last line of a crash, say) is reported with its file and line number and skipped. [`Filter`]
picks records by kind, time (RFC 3339 or `10m`/`2h`/`1d` ago through [`parse_since`]), server,
tool, session, execution and outcome, and keeps the last N.

Tool arguments and released values are never written, only their sizes and hashes
([`sha256_hex`]): the log must not become a second copy of the personal data the gateway keeps out
of the model's context.
*/
#![deny(missing_docs)]

mod error;
mod filter;
mod log;
mod read;
mod record;
mod time;

pub use error::AuditError;

/// The audit log's folder in Sluice's data folder.
pub const AUDIT_DIR: &str = "audit";
pub use filter::{Filter, Query, parse_since, query};
pub use log::{
    AuditLog, CURRENT_FILE, LOCK_FILE, Rotation, rotated_file_name, rotated_file_number,
};
pub use read::{Entry, Reader, log_files, read};
pub use record::{
    ExecutionRecord, GovernanceEvent, GovernanceRecord, MAX_CODE_BYTES, MAX_LIMITS,
    MAX_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_STATS_BYTES, NoticeEvent, NoticeRecord, Record,
    RecordKind, ReleaseRecord, SessionRecord, ToolCallRecord, UnknownKind, bound_text, sha256_hex,
};
pub use sluice_worker_protocol::{
    CallOutcome, ErrorKind, ExecutionOutcomeWord, Limit, SessionEnd, SessionEvent, ToolErrorKind,
};
pub use time::{Timestamp, TimestampError};
