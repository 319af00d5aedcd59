//! The attack cases of the security design (numbers from security-cases.md), each run by the
//! probe binary under exactly the worker's confinement. Every test checks containment from
//! outside as well: the file is untouched, no connection arrived, the process is still there.
//!
//! Nothing here skips: on a kernel without landlock, user namespaces or seccomp these tests fail,
//! as the worker would refuse to run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, ErrorKind};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PROBE: &str = env!("CARGO_BIN_EXE_sluice-sandbox-probe");
const MIB: u64 = 1024 * 1024;

/// A temporary folder with a workspace, a sibling folder outside it with a secret, and a fake
/// home with an SSH key.
struct Fixture {
    _root: tempfile::TempDir,
    workspace: PathBuf,
    outside: PathBuf,
    home: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("workspace");
        let outside = root.path().join("outside");
        let home = root.path().join("home");
        std::fs::create_dir(&workspace).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(outside.join("secret.txt"), "outside secret\n").unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), "PRIVATE KEY\n").unwrap();
        Fixture {
            _root: root,
            workspace,
            outside,
            home,
        }
    }

    fn workspace_option(&self) -> Vec<String> {
        vec!["--workspace".to_owned(), path(&self.workspace)]
    }
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// The probe's command: an empty environment but one marker, the workspace as the current folder
/// when there is one.
fn command(options: &[String], attack: &[&str]) -> Command {
    let mut command = Command::new(PROBE);
    command
        .args(options)
        .args(attack)
        .env_clear()
        .env("SLUICE_PROBE_MARKER", "passed by the test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(index) = options.iter().position(|option| option == "--workspace") {
        command.current_dir(&options[index + 1]);
    }
    command
}

/// Run the probe to its end; it must have confined itself. Returns its steps.
fn probe(options: &[String], attack: &[&str]) -> Value {
    let output = command(options, attack).output().unwrap();
    let report = parse(&output.stdout, &output.stderr);
    assert!(output.status.success(), "{attack:?}: {report}");
    assert_eq!(report["confined"], true, "{attack:?}: {report}");
    report["steps"].clone()
}

/// Run the probe where confine must fail: exit status 3 and the report of the failure.
fn refused(options: &[String], attack: &[&str]) -> Value {
    let output = command(options, attack).output().unwrap();
    let report = parse(&output.stdout, &output.stderr);
    assert_eq!(output.status.code(), Some(3), "{report}");
    assert_eq!(report["confined"], false, "{report}");
    report
}

fn parse(stdout: &[u8], stderr: &[u8]) -> Value {
    serde_json::from_slice(stdout).unwrap_or_else(|error| {
        panic!(
            "the probe printed no JSON ({error}): stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(stderr)
        )
    })
}

/// The step failed with exactly this errno.
#[track_caller]
fn assert_errno(steps: &Value, step: &str, errno: &str) {
    assert_eq!(steps[step]["ok"], false, "{step} succeeded: {steps}");
    assert_eq!(steps[step]["errno"], errno, "{step}: {steps}");
}

/// The step failed with one of these errnos.
#[track_caller]
fn assert_errno_in(steps: &Value, step: &str, errnos: &[&str]) {
    assert_eq!(steps[step]["ok"], false, "{step} succeeded: {steps}");
    let errno = steps[step]["errno"].as_str().unwrap_or_default();
    assert!(
        errnos.contains(&errno),
        "{step}: {errno} is not one of {errnos:?}"
    );
}

#[track_caller]
fn assert_ok(steps: &Value, step: &str) {
    assert_eq!(steps[step]["ok"], true, "{step} failed: {steps}");
}

/// A process of the test's own (outside the sandbox) to aim at.
struct Bystander(Child);

impl Bystander {
    fn start() -> Self {
        Bystander(Command::new("sleep").arg("60").spawn().unwrap())
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }

    fn is_running_untraced(&mut self) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()));
        self.0.try_wait().unwrap().is_none()
            && status.is_ok_and(|status| status.contains("TracerPid:\t0\n"))
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn case_01_reads_outside_the_workspace_are_refused() {
    let fixture = Fixture::new();
    let secret = path(&fixture.outside.join("secret.txt"));
    let key = path(&fixture.home.join(".ssh/id_ed25519"));
    let ssh = path(&fixture.home.join(".ssh"));
    // Relative to the workspace (the current folder); extra ".." stop at the root.
    let relative = format!("{}etc/passwd", "../".repeat(32));
    let reads = [
        relative.as_str(),
        "/etc/passwd",
        "/proc/self/environ",
        "/proc/{ppid}/environ",
        secret.as_str(),
        key.as_str(),
        ssh.as_str(),
    ];
    let mut attack = vec!["read"];
    attack.extend(reads);
    let steps = probe(&fixture.workspace_option(), &attack);
    for read in reads {
        let read = read.replace("{ppid}", &std::process::id().to_string());
        assert_errno(&steps, &format!("read {read}"), "EACCES");
    }
}

#[test]
fn case_01_the_environment_is_only_what_the_parent_passed() {
    let steps = probe(&[], &["env"]);
    assert_eq!(
        steps["environment"]["value"],
        json!({"SLUICE_PROBE_MARKER": "passed by the test"})
    );
}

#[test]
fn case_02_a_symlink_out_of_the_workspace_cannot_be_written_through() {
    let fixture = Fixture::new();
    let target = fixture.outside.join("target.txt");
    std::fs::write(&target, "original\n").unwrap();
    let escape = fixture.workspace.join("escape");
    std::os::unix::fs::symlink(&target, &escape).unwrap();
    let new_link = fixture.workspace.join("new-link");
    let steps = probe(&fixture.workspace_option(), &["write", &path(&escape)]);
    assert_errno(&steps, &format!("write {}", path(&escape)), "EACCES");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "original\n");
    // A link to the folder outside: creating a file through it.
    let folder_link = fixture.workspace.join("outside-folder");
    std::os::unix::fs::symlink(&fixture.outside, &folder_link).unwrap();
    let through = folder_link.join("planted.txt");
    let steps = probe(&fixture.workspace_option(), &["write", &path(&through)]);
    assert_errno(&steps, &format!("write {}", path(&through)), "EACCES");
    assert!(!fixture.outside.join("planted.txt").exists());
    // Nor can the worker make such a link itself.
    let steps = probe(
        &fixture.workspace_option(),
        &["symlink", &path(&target), &path(&new_link)],
    );
    assert_errno(&steps, "symlink", "EPERM");
    assert!(std::fs::symlink_metadata(&new_link).is_err());
}

#[test]
fn case_03_a_hard_link_to_a_file_outside_is_refused() {
    let fixture = Fixture::new();
    for source in [
        "/etc/passwd".to_owned(),
        path(&fixture.outside.join("secret.txt")),
    ] {
        let link = fixture.workspace.join("x");
        let steps = probe(
            &fixture.workspace_option(),
            &["link", &source, &path(&link)],
        );
        assert_errno_in(&steps, "link", &["EXDEV", "EPERM"]);
        assert!(
            std::fs::symlink_metadata(&link).is_err(),
            "{source} was linked"
        );
    }
}

#[test]
fn case_04_no_devices_no_setuid_files_no_privileges() {
    let fixture = Fixture::new();
    let steps = probe(
        &fixture.workspace_option(),
        &["privileges", &path(&fixture.workspace)],
    );
    assert_errno(&steps, "mknod character device", "EPERM");
    assert_errno(&steps, "mknod fifo", "EPERM");
    assert_ok(&steps, "create file");
    assert_errno(&steps, "chmod u+s", "EPERM");
    assert_errno(&steps, "setuid 0", "EPERM");
    assert_errno(&steps, "setgid 0", "EPERM");
    // Reading capabilities and no_new_privs is itself refused by seccomp; the status read from
    // outside (case_04_08_..._seen_from_outside) shows the values.
    assert_errno(&steps, "capget", "EPERM");
    assert_errno(&steps, "no_new_privs", "EPERM");
    let program = fixture.workspace.join("setuid-program");
    let mode = std::fs::metadata(&program).unwrap().permissions().mode();
    assert_eq!(mode & 0o6000, 0, "setuid or setgid bit set: {mode:o}");
    assert!(!fixture.workspace.join("null").exists());
    assert!(!fixture.workspace.join("fifo").exists());
}

/// The probe confined and waiting; the test reads its /proc entries from outside.
struct Held {
    child: Child,
    pid: u32,
}

impl Held {
    fn start(options: &[String]) -> Self {
        let mut child = command(options, &["hold"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let report = parse(line.as_bytes(), b"");
        assert_eq!(report["confined"], true, "{report}");
        let pid = child.id();
        assert_eq!(report["steps"]["pid"]["value"], pid);
        Held { child, pid }
    }

    fn proc(&self, entry: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{entry}", self.pid)).unwrap()
    }

    fn field(&self, name: &str) -> String {
        let status = self.proc("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_owned()
    }

    fn namespace(pid: &str, kind: &str) -> PathBuf {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success());
    }
}

#[test]
fn case_04_08_credentials_namespaces_limits_and_descriptors_seen_from_outside() {
    let fixture = Fixture::new();
    let mut options = fixture.workspace_option();
    options.extend(
        [
            "--memory-mb",
            "64",
            "--cpu-seconds",
            "7",
            "--file-size-mb",
            "3",
            "--open-files",
            "40",
        ]
        .map(str::to_owned),
    );
    let held = Held::start(&options);
    // Case 4: NoNewPrivs and no capability in any set.
    assert_eq!(held.field("NoNewPrivs"), "1");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(held.field(set), "0000000000000000", "{set}");
    }
    // Seccomp in filter mode, with both filters.
    assert_eq!(held.field("Seccomp"), "2");
    assert_eq!(held.field("Seccomp_filters"), "2");
    // Case 8: only stdin, stdout and stderr.
    let mut descriptors: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", held.pid))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    descriptors.sort();
    assert_eq!(descriptors, ["0", "1", "2"]);
    // New namespaces, except pid (documented: it would break threads).
    let own = std::process::id().to_string();
    let held_pid = held.pid.to_string();
    for kind in ["user", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_ne!(
            Held::namespace(&held_pid, kind),
            Held::namespace(&own, kind),
            "{kind} namespace is shared"
        );
    }
    assert_eq!(
        Held::namespace(&held_pid, "pid"),
        Held::namespace(&own, "pid")
    );
    // The real ids are mapped to themselves.
    let metadata = std::fs::metadata("/proc/self").unwrap();
    let uid_map: Vec<String> = held
        .proc("uid_map")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        uid_map,
        [
            metadata.uid().to_string(),
            metadata.uid().to_string(),
            "1".to_owned()
        ]
    );
    assert_eq!(held.proc("setgroups").trim(), "deny");
    // Limits, soft and hard.
    let limits = held.proc("limits");
    let limit = |name: &str| -> Vec<String> {
        let line = limits
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {limits}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    let address_space = (64 * MIB + sluice_sandbox::ADDRESS_SPACE_HEADROOM_BYTES).to_string();
    assert_eq!(
        limit("Max address space"),
        [address_space.clone(), address_space]
    );
    assert_eq!(limit("Max cpu time"), ["7", "7"]);
    let file_size = (3 * MIB).to_string();
    assert_eq!(limit("Max file size"), [file_size.clone(), file_size]);
    assert_eq!(limit("Max open files"), ["40", "40"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
    assert_eq!(limit("Max processes"), ["16", "16"]);
    held.finish();
}

#[test]
fn case_05_no_ptrace_and_no_access_to_other_processes_memory() {
    let mut bystander = Bystander::start();
    let steps = probe(&[], &["ptrace", &bystander.pid()]);
    assert_errno(&steps, "ptrace attach", "EPERM");
    assert_errno(&steps, "process_vm_writev", "EPERM");
    assert_errno(&steps, "open /proc/self/mem for writing", "EACCES");
    assert_errno(
        &steps,
        &format!("open /proc/{}/mem for writing", bystander.pid()),
        "EACCES",
    );
    assert!(bystander.is_running_untraced());
}

#[test]
fn case_08_descriptors_leaked_by_the_parent_are_closed() {
    // The shell opens descriptors 7 and 9 without close-on-exec and hands them to the probe.
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "exec 7</etc/hostname 9>/dev/null; exec '{PROBE}' descriptors"
        ))
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = parse(&output.stdout, &output.stderr);
    assert!(output.status.success(), "{report}");
    let before = report["steps"]["open before"]["value"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        before.contains(&json!(7)) && before.contains(&json!(9)),
        "{report}"
    );
    assert_eq!(report["steps"]["open after"]["value"], json!([]));
}

#[test]
fn case_10_no_socket_of_any_family() {
    let steps = probe(&[], &["sockets"]);
    for family in [
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
        "AF_PACKET",
        "AF_VSOCK",
        "AF_UNIX",
    ] {
        assert_errno(&steps, &format!("socket {family}"), "EPERM");
    }
    assert_errno(&steps, "socketpair AF_UNIX", "EPERM");
}

#[test]
fn case_10_no_tcp_connection_reaches_a_listener_of_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let steps = probe(&[], &["connect", &address]);
    assert_errno(&steps, &format!("connect {address}"), "EPERM");
    let accepted = listener.accept().map(|_| ()).map_err(|error| error.kind());
    assert_eq!(accepted, Err(ErrorKind::WouldBlock));
}

#[test]
fn case_11_io_uring_is_refused() {
    let steps = probe(&[], &["io-uring"]);
    assert_errno(&steps, "io_uring_setup", "EPERM");
}

#[test]
fn case_12_abstract_unix_sockets_of_the_host_are_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("sluice-sandbox-test-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
    listener.set_nonblocking(true).unwrap();
    let steps = probe(&[], &["abstract", &name]);
    assert_errno(&steps, "connect abstract", "EPERM");
    let accepted = listener.accept().map(|_| ()).map_err(|error| error.kind());
    assert_eq!(accepted, Err(ErrorKind::WouldBlock));
}

#[test]
fn case_13_no_name_resolution() {
    let steps = probe(&[], &["dns", "example.com"]);
    assert_eq!(steps["resolve example.com"]["ok"], false, "{steps}");
    assert_errno(&steps, "read /etc/resolv.conf", "EACCES");
}

#[test]
fn case_24_processes_are_refused_and_threads_work() {
    let steps = probe(&[], &["processes"]);
    assert_errno(&steps, "fork", "EPERM");
    assert_errno(&steps, "clone without CLONE_THREAD", "EPERM");
    // ENOSYS, so glibc falls back to clone for threads (where the flags can be checked).
    assert_errno(&steps, "clone3", "ENOSYS");
    assert_errno(&steps, "run /bin/true", "EPERM");
    assert_errno(&steps, "execve", "EPERM");
    assert_eq!(steps["threads"]["value"], 12, "{steps}");
}

#[test]
fn case_25_writes_past_the_file_size_limit_fail_with_efbig() {
    let fixture = Fixture::new();
    let mut options = fixture.workspace_option();
    options.extend(["--file-size-mb", "1"].map(str::to_owned));
    let file = fixture.workspace.join("big");
    let steps = probe(&options, &["fill", &path(&file), &(3 * MIB).to_string()]);
    assert_errno(&steps, "write", "EFBIG");
    assert_eq!(steps["written"]["value"], MIB);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), MIB);
}

#[test]
fn case_26_the_worker_dies_with_its_parent() {
    // sh starts the probe with a pipe as stdin that stays open (sleep never writes), then the
    // test kills sh: the probe must die with it, not linger as an orphan.
    let mut shell = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("sleep 30 | '{PROBE}' hold"))
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(shell.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let report = parse(line.as_bytes(), b"");
    let pid = report["steps"]["pid"]["value"].as_u64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    shell.kill().unwrap();
    shell.wait().unwrap();
    let started = Instant::now();
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for whoever inherited it to reap it.
        if state.is_empty() || state.contains(") Z ") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the probe outlived its parent: {state}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn case_26_a_worker_whose_gateway_is_gone_stops() {
    // The test is the probe's parent; any other pid means "the gateway already died".
    let report = refused(&["--parent-pid".to_owned(), "1".to_owned()], &["hold"]);
    assert_eq!(report["layer"], "parent-death signal", "{report}");
    let steps = probe(
        &["--parent-pid".to_owned(), std::process::id().to_string()],
        &["hold"],
    );
    assert!(steps["pid"]["value"].is_u64());
}

#[test]
fn case_07_no_landlock_means_no_run() {
    let report = refused(&["--simulate-no-landlock".to_owned()], &["hold"]);
    assert_eq!(report["layer"], "landlock", "{report}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("does not implement landlock"), "{error}");
    assert!(error.contains("--no-sandbox"), "{error}");
}

#[test]
fn a_process_that_already_has_threads_is_refused() {
    let report = refused(&["--start-thread-first".to_owned()], &["hold"]);
    assert_eq!(report["layer"], "thread check", "{report}");
    assert!(
        report["error"].as_str().unwrap().contains("has 2 threads"),
        "{report}"
    );
}

#[test]
fn the_workspace_file_api_works() {
    let fixture = Fixture::new();
    std::os::unix::fs::symlink(
        fixture.workspace.join("moved.txt"),
        fixture.workspace.join("inside-link"),
    )
    .unwrap();
    let steps = probe(
        &fixture.workspace_option(),
        &["workspace", &path(&fixture.workspace)],
    );
    for step in [
        "mkdir",
        "write",
        "read",
        "append",
        "truncate and sync",
        "stat",
        "rename",
        "move between folders",
        "list",
        "read link",
        "remove file",
        "remove folder",
    ] {
        assert_ok(&steps, step);
    }
    assert_eq!(steps["contents"]["value"], "hello, workspace\n");
    let mut names: Vec<_> = steps["names"]["value"].as_array().unwrap().clone();
    names.sort_by_key(|name| name.to_string());
    assert_eq!(
        names,
        [json!("folder"), json!("inside-link"), json!("moved.txt")]
    );
    let left: Vec<_> = std::fs::read_dir(&fixture.workspace)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["inside-link"]);
}

#[test]
fn files_the_worker_creates_keep_the_real_owner() {
    let fixture = Fixture::new();
    let file = fixture.workspace.join("owned.txt");
    let steps = probe(&fixture.workspace_option(), &["write", &path(&file)]);
    assert_ok(&steps, &format!("write {}", path(&file)));
    let metadata = std::fs::metadata(&file).unwrap();
    let own = std::fs::metadata("/proc/self").unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), (own.uid(), own.gid()));
}

#[test]
fn writes_outside_the_workspace_are_refused() {
    let fixture = Fixture::new();
    let beside = fixture.outside.join("new.txt");
    let secret = fixture.outside.join("secret.txt");
    let parent_folder = fixture
        .workspace
        .parent()
        .unwrap()
        .join("next-to-workspace.txt");
    let steps = probe(
        &fixture.workspace_option(),
        &[
            "write",
            &path(&beside),
            &path(&secret),
            &path(&parent_folder),
        ],
    );
    for target in [&beside, &secret, &parent_folder] {
        assert_errno(&steps, &format!("write {}", path(target)), "EACCES");
    }
    assert!(!beside.exists());
    assert!(!parent_folder.exists());
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "outside secret\n"
    );
}

#[test]
fn without_a_workspace_there_is_no_file_access_at_all() {
    let fixture = Fixture::new();
    let file = fixture.workspace.join("file.txt");
    let steps = probe(&[], &["write", &path(&file)]);
    assert_errno(&steps, &format!("write {}", path(&file)), "EACCES");
    assert!(!file.exists());
    let secret = path(&fixture.outside.join("secret.txt"));
    let steps = probe(&[], &["read", &secret]);
    assert_errno(&steps, &format!("read {secret}"), "EACCES");
}

#[test]
fn signals_to_processes_outside_are_refused() {
    let mut bystander = Bystander::start();
    let steps = probe(&[], &["signal", &bystander.pid()]);
    assert_errno(&steps, "kill", "EPERM");
    assert!(bystander.is_running_untraced());
}

#[test]
fn a_thread_may_only_lower_its_own_priority() {
    let bystander = Bystander::start();
    let steps = probe(&[], &["priority", &bystander.pid()]);
    assert_eq!(steps["idle class taken"]["value"], true, "{steps}");
    for step in [
        "realtime class",
        "idle class for another process",
        "nice -5",
        "nice 19 for the whole user",
    ] {
        assert_errno(&steps, step, "EPERM");
    }
}

#[test]
fn the_address_space_is_limited() {
    let options = ["--memory-mb".to_owned(), "64".to_owned()];
    let budget = 64 * MIB + sluice_sandbox::ADDRESS_SPACE_HEADROOM_BYTES;
    let too_much = budget.to_string();
    let steps = probe(&options, &["memory", &too_much]);
    assert_errno(&steps, &format!("reserve {too_much}"), "OutOfMemory");
    let steps = probe(&options, &["memory", &(32 * MIB).to_string()]);
    assert_ok(&steps, &format!("reserve {}", 32 * MIB));
}
