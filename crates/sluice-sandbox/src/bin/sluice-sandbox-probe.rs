//! Test helper: confine this process exactly as the worker is confined, then try one attack and
//! print one JSON line saying what happened to each of its steps.
//!
//! ```text
//! sluice-sandbox-probe [--workspace DIR] [--memory-mb N] [--cpu-seconds N] [--file-size-mb N]
//!                      [--open-files N] [--parent-pid PID] [--simulate-no-landlock]
//!                      [--start-thread-first] ATTACK [ARGUMENT...]
//! ```
//!
//! The line is `{"confined": true, "confinement": "...", "attack": "...", "steps": {...}}`, each
//! step `{"ok": true, ...}` or `{"ok": false, "errno": "EACCES", "error": "..."}`. When
//! `confine` fails it is `{"confined": false, "layer": "...", "error": "..."}` and the exit status
//! is 3, as for `sluice worker`. `--simulate-no-landlock` first installs a seccomp filter that
//! answers landlock's system calls with ENOSYS, as a kernel without landlock does (case 7);
//! `--start-thread-first` starts a thread before confining, which `confine` must refuse.
//! The integration tests in `tests/` run one probe per attack; see them for the attacks.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value, json};
use sluice_sandbox::{Policy, confine};

const MIB: u64 = 1024 * 1024;

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    // The probe's own limits until its flags say otherwise: room for every attack to show
    // what the layer under test does (the tests pass the limit they attack).
    let mut policy = Policy {
        workspace: None,
        memory_bytes: 256 * MIB,
        cpu_seconds: 60,
        file_size_bytes: 100 * MIB,
        open_files: 64,
        expected_parent: None,
    };
    let mut simulate_no_landlock = false;
    let mut start_thread_first = false;
    let mut attack = None;
    while let Some(argument) = arguments.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            arguments
                .next()
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| format!("{name} takes a number"))
        };
        let parsed = match argument.as_str() {
            "--workspace" => match arguments.next() {
                Some(path) => {
                    policy.workspace = Some(PathBuf::from(path));
                    Ok(())
                }
                None => Err("--workspace takes a folder".to_owned()),
            },
            "--memory-mb" => number("--memory-mb").map(|mb| policy.memory_bytes = mb * MIB),
            "--cpu-seconds" => number("--cpu-seconds").map(|seconds| policy.cpu_seconds = seconds),
            "--file-size-mb" => {
                number("--file-size-mb").map(|mb| policy.file_size_bytes = mb * MIB)
            }
            "--open-files" => number("--open-files").map(|count| policy.open_files = count),
            "--parent-pid" => number("--parent-pid").and_then(|pid| {
                u32::try_from(pid)
                    .map(|pid| policy.expected_parent = Some(pid))
                    .map_err(|_| "--parent-pid is too large".to_owned())
            }),
            "--simulate-no-landlock" => {
                simulate_no_landlock = true;
                Ok(())
            }
            "--start-thread-first" => {
                start_thread_first = true;
                Ok(())
            }
            _ => {
                attack = Some(argument);
                break;
            }
        };
        if let Err(problem) = parsed {
            return usage(&problem);
        }
    }
    let Some(attack) = attack else {
        return usage("name an attack");
    };
    let attack_arguments: Vec<String> = arguments.collect();

    // Taken before confinement, to show the descriptor test did leak something.
    let open_before = open_descriptors();
    // getppid is not among the worker's system calls.
    let parent = nix::unistd::getppid().as_raw();
    if simulate_no_landlock && let Err(problem) = hide_landlock() {
        return usage(&problem);
    }
    // A thread that outlives the call to confine (the process exits without waiting for it).
    let _early_thread = start_thread_first
        .then(|| std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(60))));
    let confinement = match confine(&policy) {
        Ok(confinement) => confinement,
        Err(error) => {
            emit(&json!({
                "confined": false,
                "layer": error.layer().to_string(),
                "error": error.to_string(),
            }));
            return ExitCode::from(3);
        }
    };
    let mut report = Report::default();
    let before = Before {
        open_descriptors: open_before,
        parent,
    };
    if let Err(problem) = run_attack(&attack, &attack_arguments, &before, &mut report) {
        return usage(&problem);
    }
    emit(&json!({
        "confined": true,
        "confinement": confinement.to_string(),
        "attack": attack,
        "steps": Value::Object(report.steps),
    }));
    if attack == "hold" {
        // Stay alive, confined, until the test closes stdin (it inspects /proc/<pid> meanwhile).
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
    }
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    let _ = writeln!(
        std::io::stderr(),
        "sluice-sandbox-probe: {problem}; see the file's documentation"
    );
    ExitCode::from(2)
}

fn emit(line: &Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// The outcome of each step, in order.
#[derive(Default)]
struct Report {
    steps: Map<String, Value>,
}

impl Report {
    fn io<T>(&mut self, step: &str, result: std::io::Result<T>) -> Option<T> {
        match result {
            Ok(value) => {
                self.steps.insert(step.to_owned(), json!({"ok": true}));
                Some(value)
            }
            Err(error) => {
                self.steps.insert(step.to_owned(), failure(&error));
                None
            }
        }
    }

    /// A raw system call's return value: negative means failed, with errno set.
    fn raw(&mut self, step: &str, result: libc::c_long) -> libc::c_long {
        if result < 0 {
            self.steps
                .insert(step.to_owned(), failure(&std::io::Error::last_os_error()));
        } else {
            self.steps
                .insert(step.to_owned(), json!({"ok": true, "value": result}));
        }
        result
    }

    fn value(&mut self, step: &str, value: Value) {
        self.steps
            .insert(step.to_owned(), json!({"ok": true, "value": value}));
    }
}

fn failure(error: &std::io::Error) -> Value {
    let errno = error
        .raw_os_error()
        .map(|code| format!("{:?}", nix::errno::Errno::from_raw(code)))
        .unwrap_or_else(|| format!("{:?}", error.kind()));
    json!({"ok": false, "errno": errno, "error": error.to_string()})
}

/// What the probe learned before it confined itself.
struct Before {
    open_descriptors: Vec<i32>,
    parent: libc::pid_t,
}

fn run_attack(
    attack: &str,
    arguments: &[String],
    before: &Before,
    report: &mut Report,
) -> Result<(), String> {
    let first = || {
        arguments
            .first()
            .cloned()
            .ok_or_else(|| format!("{attack} takes an argument"))
    };
    let ppid = before.parent.to_string();
    match attack {
        // Case 1: reads outside the workspace. `{ppid}` in a path is the parent's pid.
        "read" => {
            for path in arguments {
                let path = path.replace("{ppid}", &ppid);
                let read = File::open(&path).and_then(|mut file| {
                    let mut contents = Vec::new();
                    file.read_to_end(&mut contents).map(|_| contents)
                });
                report.io(&format!("read {path}"), read);
            }
        }
        // Case 1: the environment is exactly what the parent passed.
        "env" => {
            let environment: Map<String, Value> = std::env::vars_os()
                .map(|(key, value)| {
                    (
                        key.to_string_lossy().into_owned(),
                        Value::String(value.to_string_lossy().into_owned()),
                    )
                })
                .collect();
            report.value("environment", Value::Object(environment));
        }
        // Cases 2 and the write-outside control: create or overwrite each path.
        "write" => {
            for path in arguments {
                let written = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)
                    .and_then(|mut file| file.write_all(b"written by the sandbox probe\n"));
                report.io(&format!("write {path}"), written);
            }
        }
        // Case 2: make a symlink pointing out of the workspace.
        "symlink" => {
            let [target, link] = arguments else {
                return Err("symlink takes TARGET LINK".to_owned());
            };
            report.io("symlink", std::os::unix::fs::symlink(target, link));
        }
        // Case 3: a hard link to a file outside.
        "link" => {
            let [source, link] = arguments else {
                return Err("link takes SOURCE LINK".to_owned());
            };
            report.io("link", std::fs::hard_link(source, link));
        }
        // Case 4: devices, setuid files, privilege checks.
        "privileges" => privileges(Path::new(&first()?), report),
        // Case 5: another process's memory.
        "ptrace" => {
            let pid: libc::pid_t = first()?
                .parse()
                .map_err(|_| "ptrace takes a pid".to_owned())?;
            memory_of(pid, report);
        }
        // Case 8: descriptors open after confinement (and before, to show some leaked).
        "descriptors" => {
            report.value("open before", json!(before.open_descriptors));
            report.value("open after", json!(open_descriptors()));
        }
        // Case 10: any socket at all.
        "sockets" => sockets(report),
        // Case 10: a TCP connection to a listener of the test.
        "connect" => {
            let address = first()?;
            report.io(
                &format!("connect {address}"),
                std::net::TcpStream::connect(address.as_str()),
            );
        }
        // Case 11.
        "io-uring" => {
            // io_uring_params is 120 bytes; zeroed asks for nothing special.
            let mut params = [0_u8; 120];
            // SAFETY: the kernel reads and writes at most the 120 bytes of io_uring_params, which
            // `params` holds; on success it returns a descriptor the probe never uses.
            let result =
                unsafe { libc::syscall(libc::SYS_io_uring_setup, 8_u32, params.as_mut_ptr()) };
            report.raw("io_uring_setup", result);
        }
        // Case 12: an abstract UNIX socket of the test (D-Bus, X11 live there).
        "abstract" => {
            use std::os::linux::net::SocketAddrExt;
            let name = first()?;
            let connected = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|address| std::os::unix::net::UnixStream::connect_addr(&address));
            report.io("connect abstract", connected);
        }
        // Case 13: name resolution.
        "dns" => {
            use std::net::ToSocketAddrs;
            let host = first()?;
            report.io(
                &format!("resolve {host}"),
                (host.as_str(), 80).to_socket_addrs(),
            );
            report.io("read /etc/resolv.conf", std::fs::read("/etc/resolv.conf"));
        }
        // Case 24: processes are refused, threads work.
        "processes" => processes(report),
        // Case 25: fill the disk.
        "fill" => {
            let [path, bytes] = arguments else {
                return Err("fill takes PATH BYTES".to_owned());
            };
            let bytes: usize = bytes
                .parse()
                .map_err(|_| "fill takes a byte count".to_owned())?;
            fill(Path::new(path), bytes, report);
        }
        // Positive control: the workspace file API works.
        "workspace" => workspace(Path::new(&first()?), report),
        // RLIMIT_AS: reserve this many bytes.
        "memory" => {
            let bytes: usize = first()?
                .parse()
                .map_err(|_| "memory takes a byte count".to_owned())?;
            let mut block: Vec<u8> = Vec::new();
            let reserved = block
                .try_reserve_exact(bytes)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::OutOfMemory, error));
            report.io(&format!("reserve {bytes}"), reserved);
        }
        // Landlock's signal scope and seccomp: signal a process outside.
        "signal" => {
            let pid: i32 = first()?
                .parse()
                .map_err(|_| "signal takes a pid".to_owned())?;
            let sent = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            report.io("kill", sent.map_err(std::io::Error::from));
        }
        // Scheduling: a thread may put itself in the idle class (the worker's preparer does);
        // nothing may gain priority, or touch another process's.
        "priority" => {
            let pid: i32 = first()?
                .parse()
                .map_err(|_| "priority takes a pid".to_owned())?;
            let taken = std::thread::spawn(sluice_sandbox::idle_priority_for_this_thread)
                .join()
                .map_err(|_| "the idle-class thread panicked".to_owned())?;
            report.value("idle class taken", json!(taken));
            let realtime = libc::sched_param { sched_priority: 1 };
            let idle_parameters = libc::sched_param { sched_priority: 0 };
            // SAFETY: each call only reads its parameter struct, which lives on this stack.
            let results = unsafe {
                [
                    libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const realtime),
                    libc::sched_setscheduler(pid, libc::SCHED_IDLE, &raw const idle_parameters),
                    libc::setpriority(libc::PRIO_PROCESS, 0, -5),
                    libc::setpriority(libc::PRIO_USER, 0, 19),
                ]
            };
            for (step, result) in [
                "realtime class",
                "idle class for another process",
                "nice -5",
                "nice 19 for the whole user",
            ]
            .into_iter()
            .zip(results)
            {
                report.raw(step, libc::c_long::from(result));
            }
        }
        // Stay confined until stdin closes (see main).
        "hold" => report.value("pid", json!(std::process::id())),
        other => return Err(format!("unknown attack {other:?}")),
    }
    Ok(())
}

/// Descriptors from 3 to 4095 that are open.
fn open_descriptors() -> Vec<i32> {
    (3..4096)
        .filter(|fd| {
            // SAFETY: F_GETFD only reads the flags of the descriptor number, open or not.
            unsafe { libc::fcntl(*fd, libc::F_GETFD) >= 0 }
        })
        .collect()
}

/// What a kernel without landlock does: its system calls fail with ENOSYS.
fn hide_landlock() -> Result<(), String> {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|error| error.to_string())?;
    let rules = [
        libc::SYS_landlock_create_ruleset,
        libc::SYS_landlock_add_rule,
        libc::SYS_landlock_restrict_self,
    ]
    .into_iter()
    .map(|number| (number, Vec::new()))
    .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|error| error.to_string())?;
    seccompiler::apply_filter(&filter).map_err(|error| error.to_string())
}

fn privileges(workspace: &Path, report: &mut Report) {
    let device = CString::new(workspace.join("null").into_os_string().into_encoded_bytes())
        .unwrap_or_default();
    // SAFETY: `device` is a NUL-terminated path that outlives the call.
    let made = unsafe { libc::mknod(device.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    report.raw("mknod character device", made.into());
    let fifo = CString::new(workspace.join("fifo").into_os_string().into_encoded_bytes())
        .unwrap_or_default();
    // SAFETY: as above.
    let made = unsafe { libc::mknod(fifo.as_ptr(), libc::S_IFIFO | 0o666, 0) };
    report.raw("mknod fifo", made.into());
    let program = workspace.join("setuid-program");
    let created = std::fs::write(&program, b"#!/bin/sh\n");
    report.io("create file", created);
    report.io(
        "chmod u+s",
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)),
    );
    report.io(
        "setuid 0",
        nix::unistd::setuid(nix::unistd::Uid::from_raw(0)).map_err(std::io::Error::from),
    );
    report.io(
        "setgid 0",
        nix::unistd::setgid(nix::unistd::Gid::from_raw(0)).map_err(std::io::Error::from),
    );
    // capget: either refused, or it must show no effective capability.
    let mut header = [0x2008_0522_u32, 0];
    let mut data = [0_u32; 6];
    // SAFETY: version 3 header; the kernel writes two 12-byte entries, which `data` holds.
    let result = unsafe { libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) };
    if report.raw("capget", result) == 0 {
        report.value(
            "capabilities",
            json!({"effective": [data[0], data[3]], "permitted": [data[1], data[4]]}),
        );
    }
    // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointer.
    let result = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    report.raw("no_new_privs", result.into());
}

fn memory_of(pid: libc::pid_t, report: &mut Report) {
    // SAFETY: PTRACE_ATTACH takes no pointers; it only fails or attaches.
    let attached = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    report.raw("ptrace attach", attached);
    let mut local = [0_u8; 8];
    let local_vector = libc::iovec {
        iov_base: local.as_mut_ptr().cast(),
        iov_len: local.len(),
    };
    // An address in the target: if the call ever went through it would write 8 bytes there, so
    // the target is the parent given by the test, which expects to be harmed if the sandbox fails.
    let remote_vector = libc::iovec {
        iov_base: 0x1000 as *mut libc::c_void,
        iov_len: local.len(),
    };
    // SAFETY: both vectors describe memory that is valid for their length on the side they
    // belong to (`local` here); the kernel checks the remote side.
    let written = unsafe {
        libc::process_vm_writev(
            pid,
            &raw const local_vector,
            1,
            &raw const remote_vector,
            1,
            0,
        )
    };
    report.raw("process_vm_writev", written as libc::c_long);
    for path in ["/proc/self/mem".to_owned(), format!("/proc/{pid}/mem")] {
        report.io(
            &format!("open {path} for writing"),
            OpenOptions::new().read(true).write(true).open(&path),
        );
    }
}

fn sockets(report: &mut Report) {
    let kinds = [
        ("AF_INET", libc::AF_INET, libc::SOCK_STREAM, 0),
        ("AF_INET6", libc::AF_INET6, libc::SOCK_DGRAM, 0),
        (
            "AF_NETLINK",
            libc::AF_NETLINK,
            libc::SOCK_RAW,
            libc::NETLINK_ROUTE,
        ),
        ("AF_PACKET", libc::AF_PACKET, libc::SOCK_RAW, 0),
        ("AF_VSOCK", libc::AF_VSOCK, libc::SOCK_STREAM, 0),
        ("AF_UNIX", libc::AF_UNIX, libc::SOCK_STREAM, 0),
    ];
    for (name, family, kind, protocol) in kinds {
        // SAFETY: socket takes integers only; a descriptor it might return is closed below.
        let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol) };
        if report.raw(&format!("socket {name}"), fd.into()) >= 0 {
            // SAFETY: `fd` was just returned by socket and is owned by nothing else.
            unsafe { libc::close(fd) };
        }
    }
    let mut pair = [0; 2];
    // SAFETY: socketpair writes two ints into `pair`.
    let result = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    };
    report.raw("socketpair AF_UNIX", result.into());
}

fn processes(report: &mut Report) {
    // SAFETY: the probe is single-threaded here; a child that ever appeared would only call
    // _exit, which is async-signal-safe.
    let forked = unsafe { libc::fork() };
    if forked == 0 {
        // SAFETY: in the child of a fork: leave at once without running any destructor.
        unsafe { libc::_exit(0) };
    }
    report.raw("fork", forked.into());
    // clone as fork does it: a new process (SIGCHLD), not a thread.
    // SAFETY: a clone without CLONE_VM gives the child a copy of the memory; it exits at once.
    let cloned = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_ulong,
            0_usize,
            0_usize,
            0_usize,
            0_usize,
        )
    };
    if cloned == 0 {
        // SAFETY: in the child: leave at once.
        unsafe { libc::_exit(0) };
    }
    report.raw("clone without CLONE_THREAD", cloned);
    // clone3 with a zeroed clone_args (a plain fork).
    let mut arguments = [0_u64; 11];
    arguments[4] = libc::SIGCHLD as u64; // exit_signal
    // SAFETY: the kernel reads the 88-byte clone_args from `arguments`; a child exits at once.
    let cloned = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            arguments.as_mut_ptr(),
            std::mem::size_of_val(&arguments),
        )
    };
    if cloned == 0 {
        // SAFETY: in the child: leave at once.
        unsafe { libc::_exit(0) };
    }
    report.raw("clone3", cloned);
    report.io(
        "run /bin/true",
        std::process::Command::new("/bin/true").status(),
    );
    let program = c"/bin/true";
    let argv = [program.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    // SAFETY: program, argv and envp are NUL-terminated and outlive the call; on success the
    // process would become /bin/true, which the test would see as a missing report.
    let executed = unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    report.raw("execve", executed.into());
    let threads: Vec<_> = (0..4_u64)
        .map(|index| std::thread::Builder::new().spawn(move || index * 2))
        .collect();
    let mut sum = 0;
    for thread in threads {
        match thread {
            Ok(handle) => sum += handle.join().unwrap_or(0),
            Err(error) => {
                report.io::<()>("spawn thread", Err(error));
                return;
            }
        }
    }
    report.value("threads", json!(sum));
}

fn fill(path: &Path, bytes: usize, report: &mut Report) {
    let Some(mut file) = report.io("create", File::create(path)) else {
        return;
    };
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0;
    while written < bytes {
        let length = chunk.len().min(bytes - written);
        match file.write(&chunk[..length]) {
            Ok(0) => break,
            Ok(count) => written += count,
            Err(error) => {
                report.io::<()>("write", Err(error));
                break;
            }
        }
    }
    report.value("written", json!(written));
}

fn workspace(root: &Path, report: &mut Report) {
    let folder = root.join("folder");
    let file = folder.join("data.txt");
    report.io("mkdir", std::fs::create_dir(&folder));
    report.io("write", std::fs::write(&file, b"hello, workspace\n"));
    let read = report.io("read", std::fs::read_to_string(&file));
    report.value("contents", json!(read));
    report.io(
        "append",
        OpenOptions::new()
            .append(true)
            .open(&file)
            .and_then(|mut opened| opened.write_all(b"more\n")),
    );
    report.io(
        "truncate and sync",
        OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|opened| opened.set_len(6).and_then(|()| opened.sync_all())),
    );
    report.io(
        "stat",
        std::fs::metadata(&file).map(|metadata| metadata.len()),
    );
    let renamed = folder.join("renamed.txt");
    report.io("rename", std::fs::rename(&file, &renamed));
    let moved = root.join("moved.txt");
    report.io("move between folders", std::fs::rename(&renamed, &moved));
    let names = report.io(
        "list",
        std::fs::read_dir(root).and_then(|entries| {
            entries
                .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()
        }),
    );
    report.value("names", json!(names));
    report.io("read link", std::fs::read_link(root.join("inside-link")));
    report.io("remove file", std::fs::remove_file(&moved));
    report.io("remove folder", std::fs::remove_dir(&folder));
}
