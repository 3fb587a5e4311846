//! The harness: a `TestEnv` per test (a temporary tree, a controlled
//! environment with the machine's state pointed inside the tree, secwrap
//! run in it) and a `Run` per process in the style of casey/just's `Test`:
//! status 0, an empty stdout and an empty stderr are expected unless the
//! test says otherwise, and checked at `.go()`. Plus helpers to read what a
//! run left behind (objects, the invocation log as typed records).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use object::{Object, ObjectSection};
use secwrap::inject::SkipReason;
use secwrap::record::{InvocationRecord, OsText, Term};
use serde_json::Value;
use tempfile::TempDir;

mod daemons;
pub use daemons::*;

/// The binary under test.
pub const SECWRAP: &str = env!("CARGO_BIN_EXE_secwrap");
/// The subcommands' binary, which `secwrap SUBCOMMAND` runs from its own directory.
pub const SECWRAP_CLI: &str = env!("CARGO_BIN_EXE_secwrap-cli");

/// No run may take longer: a hang is a failure, not a stuck suite. Generous,
/// because whole builds (the 204-file Bear comparison) run under it on a
/// loaded two-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Two functions and an initialised global: split, they land in
/// `.text.get`, `.text.set` and `.data.counter`.
pub const A_C: &str =
    "int counter = 1;\nint get(void) { return counter; }\nvoid set(int v) { counter = v; }\n";

/// A second translation unit, for multi-source and link tests.
pub const B_C: &str = "int bvar = 2;\nint bget(void) { return bvar; }\n";

/// A program using `get` only, so `set` is garbage at link time.
pub const MAIN_C: &str = "int get(void);\nint main(void) { return get() - 1; }\n";

/// Assembly every target's assembler takes.
pub const ASM: &str = "\t.data\n\t.globl v\nv:\n\t.long 1\n";

pub const LIVEPATCH: &str = "CONFIG_LIVEPATCH=y\n";
pub const NO_LIVEPATCH: &str = "# CONFIG_LIVEPATCH is not set\n";
pub const KCONFIG_TOML: &str = "kconfig = \".config\"\n";

/// The sections `-ffunction-sections -fdata-sections` give `A_C`.
pub const SPLIT_SECTIONS: [&str; 3] = [".text.get", ".text.set", ".data.counter"];
pub const SPLIT_FLAGS: [&str; 2] = ["-ffunction-sections", "-fdata-sections"];

/// Whether `name` is on PATH. When it is not: a panic under CI (the CI
/// machine must have it), else a skip line on stderr and `false`.
pub fn require_compiler(name: &str) -> bool {
    require_program(name)
}

/// As [`require_compiler`], for any program (`ccache`, `make`).
pub fn require_program(name: &str) -> bool {
    if which::which(name).is_ok() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{name} is required under CI, and is not on PATH");
    }
    eprintln!("skipped: `{name}` is not on PATH");
    false
}

/// The real program `name` resolves to on the harness PATH.
pub fn real(name: &str) -> PathBuf {
    which::which_in(name, Some(default_path()), "/")
        .unwrap_or_else(|error| panic!("{name} not found on PATH: {error}"))
}

/// Generates one `#[test]` per compiler for a behaviour:
/// `compiler_tests! { fn name(cc) { ... } }` makes `name::gcc` and
/// `name::clang`, each starting with `require_compiler`.
macro_rules! compiler_tests {
    ($($(#[doc = $doc:expr])* fn $name:ident($cc:ident) $body:block)*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn body($cc: &str) $body

                #[test]
                fn gcc() {
                    if $crate::common::require_compiler("gcc") {
                        body("gcc");
                    }
                }

                #[test]
                fn clang() {
                    if $crate::common::require_compiler("clang") {
                        body("clang");
                    }
                }
            }
        )*
    };
}

/// The PATH runs get unless a test sets its own: the harness's own, less
/// any ccache masquerade directory (`/usr/lib/ccache`), so that `gcc` is
/// the real compiler.
pub fn default_path() -> OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let kept: Vec<PathBuf> = std::env::split_paths(&inherited)
        .filter(|dir| !dir.to_string_lossy().contains("ccache"))
        .collect();
    std::env::join_paths(kept).expect("PATH entries join")
}

/// `dirs` (absolute) in front of the default PATH.
pub fn path_with_first(dirs: &[&Path]) -> OsString {
    let mut all: Vec<PathBuf> = dirs.iter().map(|dir| dir.to_path_buf()).collect();
    all.extend(std::env::split_paths(&default_path()));
    std::env::join_paths(all).expect("PATH entries join")
}

/// The variables naming a directory the machine's state lives in, and
/// where each points in a test's tree (created by [`TestEnv::new`]).
pub const PINNED_DIRECTORIES: [(&str, &str); 8] = [
    ("HOME", "home"),
    ("SECWRAP_CACHE_DIR", "cache"),
    ("TMPDIR", "tmp"),
    ("XDG_CONFIG_HOME", "xdg/config"),
    ("XDG_CACHE_HOME", "xdg/cache"),
    ("XDG_STATE_HOME", "xdg/state"),
    ("XDG_DATA_HOME", "xdg/data"),
    ("XDG_RUNTIME_DIR", "xdg/runtime"),
];

/// One test's tree and environment.
pub struct TestEnv {
    _dir: TempDir,
    root: PathBuf,
    vars: BTreeMap<OsString, Option<OsString>>,
    cwd: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl TestEnv {
    /// An empty tree and the default environment, everything the machine's
    /// own state could come from pointed inside the tree: PATH,
    /// HOME=<tree>/home (no user config), SECWRAP_LOG=<tree>/log.jsonl,
    /// SECWRAP_CACHE_DIR=<tree>/cache, TMPDIR=<tree>/tmp and every XDG base
    /// directory under <tree>/xdg (config, cache, state, data, runtime).
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("secwrap-it-")
            .tempdir()
            .expect("temporary directory");
        // Physical path: what getcwd() gives secwrap, and so the records.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let mut vars = BTreeMap::new();
        let mut set = |key: &str, value: OsString| {
            vars.insert(OsString::from(key), Some(value));
        };
        set("PATH", default_path());
        set("LC_ALL", "C".into());
        set("SECWRAP_LOG", root.join("log.jsonl").into_os_string());
        for (key, sub) in PINNED_DIRECTORIES {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).expect("harness directories");
            set(key, path.into_os_string());
        }
        // As the XDG Base Directory specification wants it: the user's only.
        std::fs::set_permissions(
            root.join("xdg/runtime"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod XDG_RUNTIME_DIR");
        TestEnv {
            _dir: dir,
            root,
            vars,
            cwd: PathBuf::new(),
        }
    }

    /// The usual tree: `a.c`, a `.config` with `CONFIG_LIVEPATCH=y`, and a
    /// `secwrap.toml` naming it.
    pub fn livepatch() -> TestEnv {
        TestEnv::new()
            .file("a.c", A_C)
            .kconfig(LIVEPATCH)
            .config(KCONFIG_TOML)
    }

    /// Writes `rel` (parents created).
    pub fn file(self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> TestEnv {
        self.write(rel, contents);
        self
    }

    /// Writes `secwrap.toml` at the root.
    pub fn config(self, toml: &str) -> TestEnv {
        self.file("secwrap.toml", toml)
    }

    /// Writes `.config` at the root.
    pub fn kconfig(self, text: &str) -> TestEnv {
        self.file(".config", text)
    }

    /// Sets a variable for every later run.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> TestEnv {
        self.vars
            .insert(key.into(), Some(value.as_ref().to_os_string()));
        self
    }

    /// Removes a variable the harness would set (`SECWRAP_LOG`).
    pub fn env_remove(mut self, key: &str) -> TestEnv {
        self.vars.insert(key.into(), None);
        self
    }

    /// Later runs happen in `rel` (created).
    pub fn cwd(mut self, rel: impl AsRef<Path>) -> TestEnv {
        std::fs::create_dir_all(self.root.join(rel.as_ref())).expect("cwd");
        self.cwd = rel.as_ref().to_path_buf();
        self
    }

    /// Writes `rel` in place (not a builder step).
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directory");
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
    }

    /// Writes an executable `#!/bin/sh` script at `rel`. secwrap's own
    /// questions to a compiler exit 0 before `body` runs, so they never
    /// count as a run: a flag probe (`/dev/null` among the arguments) and
    /// the identity query (`--version` alone, answered with a gcc-like line).
    pub fn script(&self, rel: impl AsRef<Path>, body: &str) -> PathBuf {
        let text = format!(
            "#!/bin/sh\n\
             for arg in \"$@\"; do [ \"$arg\" = /dev/null ] && exit 0; done\n\
             [ \"$*\" = --version ] && {{ echo 'gcc (fake) 1.0'; exit 0; }}\n\
             {body}\n"
        );
        self.executable(rel, text)
    }

    /// Writes `text` at `rel`, mode 0755, as is.
    pub fn executable(&self, rel: impl AsRef<Path>, text: impl AsRef<[u8]>) -> PathBuf {
        self.write(rel.as_ref(), text);
        let path = self.path(rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A fake compiler at `<dir>/gcc` that appends its arguments to
    /// `<dir>/runs.txt` (one line per real run) and then runs `body`.
    pub fn fake_gcc(&self, dir: &str, body: &str) -> PathBuf {
        let runs = self.path(dir).join("runs.txt");
        self.script(
            Path::new(dir).join("gcc"),
            &format!("echo \"$*\" >> '{}'\n{body}", runs.display()),
        )
    }

    /// Lines of `<dir>/runs.txt` written by [`TestEnv::fake_gcc`].
    pub fn fake_runs(&self, dir: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(dir).join("runs.txt"))
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The tree's physical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `rel` under the root.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The working directory of runs.
    pub fn cwd_path(&self) -> PathBuf {
        self.root.join(&self.cwd)
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let path = self.path(rel);
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
    }

    pub fn read_text(&self, rel: impl AsRef<Path>) -> String {
        String::from_utf8(self.read(rel)).expect("UTF-8 file")
    }

    /// A command for `program` in this tree's environment and working
    /// directory, in a process group of its own (so the harness can clean
    /// up strays).
    pub fn command<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Command {
        let mut command = Command::new(program);
        command.args(args).env_clear().current_dir(self.cwd_path());
        for (key, value) in &self.vars {
            if let Some(value) = value {
                command.env(key, value);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        command
    }

    /// `secwrap ARGS...`: a [`Run`] expecting status 0, an empty stdout
    /// and an empty stderr until told otherwise; it runs at `.go()`.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run<'_> {
        self.run_program(SECWRAP, args)
    }

    /// `program ARGS...` (looked up on the run's PATH when it has no `/`),
    /// with the same expectations as [`TestEnv::run`].
    pub fn run_program<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Run<'_> {
        Run {
            env: self,
            program: program.as_ref().to_os_string(),
            args: args.iter().map(|arg| arg.as_ref().to_os_string()).collect(),
            stdin: None,
            cwd: None,
            expect: Expect::default(),
        }
    }

    /// The records in `<root>/log.jsonl` (the default `SECWRAP_LOG`).
    #[track_caller]
    pub fn records(&self) -> Vec<InvocationRecord> {
        records_at(&self.path("log.jsonl"))
    }

    /// The one record in the default log.
    #[track_caller]
    pub fn only_record(&self) -> InvocationRecord {
        let mut records = self.records();
        assert_eq!(records.len(), 1, "expected one record: {records:#?}");
        records.remove(0)
    }

    /// The default log's lines as untyped JSON: only for a test about the
    /// spelling itself (the `{"bytes": ...}` encoding, a field left out).
    #[track_caller]
    pub fn raw_records(&self) -> Vec<Value> {
        raw_records_at(&self.path("log.jsonl"))
    }

    /// Section names of the object at `rel`.
    pub fn sections(&self, rel: impl AsRef<Path>) -> Vec<String> {
        sections(&self.path(rel))
    }

    /// Asserts `rel` has every split section of `A_C`.
    #[track_caller]
    pub fn assert_split(&self, rel: impl AsRef<Path>) {
        let sections = self.sections(rel.as_ref());
        for wanted in SPLIT_SECTIONS {
            assert!(
                sections.iter().any(|name| name == wanted),
                "{} lacks {wanted}: {sections:?}",
                rel.as_ref().display()
            );
        }
    }

    /// Asserts `rel` exists and has none of the split sections of `A_C`.
    #[track_caller]
    pub fn assert_not_split(&self, rel: impl AsRef<Path>) {
        let sections = self.sections(rel.as_ref());
        assert!(
            sections.iter().any(|name| name == ".text"),
            "{} is not an object with .text: {sections:?}",
            rel.as_ref().display()
        );
        for unwanted in SPLIT_SECTIONS {
            assert!(
                !sections.iter().any(|name| name == unwanted),
                "{} has {unwanted}: {sections:?}",
                rel.as_ref().display()
            );
        }
    }
}

/// Section names of an ELF (or other) object file.
pub fn sections(path: &Path) -> Vec<String> {
    let data =
        std::fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let file = object::File::parse(&*data)
        .unwrap_or_else(|error| panic!("{} is not an object: {error}", path.display()));
    file.sections()
        .filter_map(|section| section.name().ok().map(str::to_string))
        .collect()
}

/// Every line of the log at `path`, decoded through the library's schema
/// (`secwrap::record::InvocationRecord`); none if the file is absent.
#[track_caller]
pub fn records_at(path: &Path) -> Vec<InvocationRecord> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| {
                panic!("{}: not a record ({error}): {line}", path.display())
            })
        })
        .collect()
}

/// Every line of a JSON Lines file, as untyped JSON; none if it is absent.
#[track_caller]
pub fn raw_records_at(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{}: not JSON ({error}): {line}", path.display()))
        })
        .collect()
}

/// One run of a program in a [`TestEnv`], as casey/just's `Test`: it
/// expects exit status 0, an empty stdout and an empty stderr unless the
/// test says otherwise, and checks all three when it finishes at
/// [`Run::go`] (or [`Running::wait`]). stdout belongs to the compiler and
/// secwrap's stderr to its errors and warnings, so a run that prints what
/// nobody declared fails.
#[must_use = "a run does nothing until `.go()`"]
pub struct Run<'t> {
    env: &'t TestEnv,
    program: OsString,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    expect: Expect,
}

/// What a run must end with.
#[derive(Clone, Debug)]
struct Expect {
    status: StatusExpect,
    stdout: StreamExpect,
    stderr: StreamExpect,
}

#[derive(Clone, Debug)]
enum StatusExpect {
    Code(i32),
    Signal(i32),
    /// A non-zero exit status (the compilers disagree on the number).
    Failure,
    /// Anything: a reference run, compared with another afterwards.
    Any,
}

#[derive(Clone, Debug)]
enum StreamExpect {
    Exactly(Vec<u8>),
    Contains(Vec<String>),
    Any,
}

impl Default for Expect {
    fn default() -> Expect {
        Expect {
            status: StatusExpect::Code(0),
            stdout: StreamExpect::Exactly(Vec::new()),
            stderr: StreamExpect::Exactly(Vec::new()),
        }
    }
}

impl StreamExpect {
    fn contains(self, needle: &str) -> StreamExpect {
        match self {
            StreamExpect::Contains(mut needles) => {
                needles.push(needle.to_string());
                StreamExpect::Contains(needles)
            }
            _ => StreamExpect::Contains(vec![needle.to_string()]),
        }
    }

    fn check(&self, name: &str, bytes: &[u8]) -> Option<String> {
        match self {
            StreamExpect::Exactly(expected) if bytes != expected.as_slice() => Some(format!(
                "{name} differs; expected:\n{}",
                String::from_utf8_lossy(expected)
            )),
            StreamExpect::Contains(needles) => {
                let text = String::from_utf8_lossy(bytes);
                needles
                    .iter()
                    .find(|needle| !text.contains(needle.as_str()))
                    .map(|needle| format!("{name} lacks {needle:?}"))
            }
            _ => None,
        }
    }
}

impl Expect {
    #[track_caller]
    fn check(&self, out: &Out) {
        let status = match self.status {
            StatusExpect::Code(code) if out.status.code() != Some(code) => {
                Some(format!("expected exit status {code}"))
            }
            StatusExpect::Signal(signal) if out.status.signal() != Some(signal) => {
                Some(format!("expected death by signal {signal}"))
            }
            StatusExpect::Failure if out.status.success() || out.status.code().is_none() => {
                Some("expected a non-zero exit status".to_string())
            }
            _ => None,
        };
        let problems: Vec<String> = [
            status,
            self.stdout.check("stdout", &out.stdout),
            self.stderr.check("stderr", &out.stderr),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert!(
            problems.is_empty(),
            "{}\n{}",
            problems.join("\n"),
            out.describe()
        );
    }
}

impl<'t> Run<'t> {
    /// Expects exit status `code` instead of 0.
    pub fn status(mut self, code: i32) -> Run<'t> {
        self.expect.status = StatusExpect::Code(code);
        self
    }

    /// Expects death by `signal`.
    pub fn signal(mut self, signal: libc::c_int) -> Run<'t> {
        self.expect.status = StatusExpect::Signal(signal);
        self
    }

    /// Expects some non-zero exit status.
    pub fn failure(mut self) -> Run<'t> {
        self.expect.status = StatusExpect::Failure;
        self
    }

    /// Expects exactly these bytes on stdout.
    pub fn stdout(mut self, expected: impl AsRef<[u8]>) -> Run<'t> {
        self.expect.stdout = StreamExpect::Exactly(expected.as_ref().to_vec());
        self
    }

    /// Expects stdout to contain `needle` (and whatever else was asked).
    pub fn stdout_contains(mut self, needle: &str) -> Run<'t> {
        self.expect.stdout = self.expect.stdout.contains(needle);
        self
    }

    /// Takes any stdout: the test checks it itself.
    pub fn stdout_any(mut self) -> Run<'t> {
        self.expect.stdout = StreamExpect::Any;
        self
    }

    /// Expects exactly these bytes on stderr.
    pub fn stderr(mut self, expected: impl AsRef<[u8]>) -> Run<'t> {
        self.expect.stderr = StreamExpect::Exactly(expected.as_ref().to_vec());
        self
    }

    /// Expects stderr to contain `needle` (and whatever else was asked).
    pub fn stderr_contains(mut self, needle: &str) -> Run<'t> {
        self.expect.stderr = self.expect.stderr.contains(needle);
        self
    }

    /// Takes any stderr: the test checks it itself.
    #[allow(
        dead_code,
        reason = "every current test can name a part of its stderr; kept for one that cannot"
    )]
    pub fn stderr_any(mut self) -> Run<'t> {
        self.expect.stderr = StreamExpect::Any;
        self
    }

    /// Takes any status, stdout and stderr: a reference run (the compiler
    /// run directly) that another run is then compared with ([`Run::like`]).
    pub fn unchecked(mut self) -> Run<'t> {
        self.expect.status = StatusExpect::Any;
        self.expect.stdout = StreamExpect::Any;
        self.expect.stderr = StreamExpect::Any;
        self
    }

    /// Expects what `reference` did: the same status (or signal), the
    /// same stdout bytes, the same stderr bytes.
    pub fn like(mut self, reference: &Out) -> Run<'t> {
        self.expect.status = match (reference.status.code(), reference.status.signal()) {
            (Some(code), _) => StatusExpect::Code(code),
            (None, Some(signal)) => StatusExpect::Signal(signal),
            (None, None) => panic!("a status with neither code nor signal"),
        };
        self.expect.stdout = StreamExpect::Exactly(reference.stdout.clone());
        self.expect.stderr = StreamExpect::Exactly(reference.stderr.clone());
        self
    }

    /// Feeds `input` on stdin (else stdin is `/dev/null`).
    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Run<'t> {
        self.stdin = Some(input.as_ref().to_vec());
        self
    }

    /// Runs in `rel` (under the tree's root) instead of the tree's
    /// working directory.
    pub fn cwd(mut self, rel: impl AsRef<Path>) -> Run<'t> {
        self.cwd = Some(self.env.path(rel));
        self
    }

    /// Runs to the end, checks what was expected, and returns the output
    /// for further checks.
    #[track_caller]
    pub fn go(self) -> Out {
        self.spawn_with(|_| ()).wait()
    }

    /// Starts the run after `prepare` has adjusted the command (signal
    /// dispositions, stdio): for a test that acts on the process while it
    /// runs. [`Running::wait`] checks what was expected.
    #[track_caller]
    pub fn spawn_with(self, prepare: impl Fn(&mut Command)) -> Running {
        let what = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| word.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        // A test that has just written an executable (a copy of secwrap)
        // can meet ETXTBSY: another test thread's fork briefly holds the
        // write descriptor until its exec. Retry that error only.
        let mut attempts = 0;
        let mut child = loop {
            let mut command = self.env.command(&self.program, &self.args);
            if let Some(cwd) = &self.cwd {
                command.current_dir(cwd);
            }
            if self.stdin.is_some() {
                command.stdin(Stdio::piped());
            }
            prepare(&mut command);
            match command.spawn() {
                Err(error) if error.raw_os_error() == Some(libc::ETXTBSY) && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => {
                    break result.unwrap_or_else(|error| panic!("spawn `{what}`: {error}"));
                }
            }
        };
        let writer = self.stdin.map(|input| {
            let mut stdin = child.stdin.take().expect("stdin");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            })
        });
        Running {
            child,
            writer,
            what,
            expect: self.expect,
        }
    }
}

/// A run started by [`Run::spawn_with`].
#[must_use = "a started run is checked at `.wait()`"]
pub struct Running {
    child: Child,
    writer: Option<std::thread::JoinHandle<()>>,
    what: String,
    expect: Expect,
}

impl Running {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the run's whole process group (what Ctrl-C at a
    /// terminal does).
    pub fn signal_group(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the process group the harness made for it.
        let sent = unsafe { libc::kill(-(self.child.id() as libc::pid_t), signal) };
        assert_eq!(sent, 0, "kill(-group, {signal})");
    }

    /// Waits for the end (at most [`TIMEOUT`]), checks what was expected,
    /// and returns the output.
    #[track_caller]
    pub fn wait(self) -> Out {
        let out = wait_output(self.child, &self.what);
        if let Some(writer) = self.writer {
            writer.join().expect("stdin writer");
        }
        self.expect.check(&out);
        out
    }
}

/// A finished run.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    what: String,
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}`: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.what,
            self.status,
            self.stdout_text(),
            self.stderr_text()
        )
    }
}

/// Waits for `child` (at most [`TIMEOUT`], then kills its process group
/// and fails), collecting its output.
pub fn wait_output(mut child: Child, what: &str) -> Out {
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = wait_with_timeout(&mut child, what);
    // Strays (a compiler's children) must not keep the pipes open.
    kill_group(&child);
    Out {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        what: what.to_string(),
    }
}

/// Waits at most [`TIMEOUT`] for `child`; on timeout kills its process
/// group and panics.
pub fn wait_with_timeout(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            kill_group(child);
            let _ = child.wait();
            panic!("`{what}` did not finish within {TIMEOUT:?}: killed (a hang)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills the process group the harness made for `child` (its id is the
/// child's pid), if any of it is left.
pub fn kill_group(child: &Child) {
    let group = child.id() as libc::pid_t;
    // SAFETY: kill(2) on a process group this harness created.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Makes `command` start with the stop signals at their default action,
/// whatever the harness inherited (a shell running the suite in the
/// background leaves SIGINT ignored, and an ignored signal stays ignored
/// across exec).
pub fn default_stop_signals(command: &mut Command) {
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
}

/// Sends `signal` to one process.
pub fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on a process this test started.
    let result = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(result, 0, "kill({pid}, {signal})");
}

/// Waits (at most [`TIMEOUT`]) for `path` to exist.
#[track_caller]
pub fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {TIMEOUT:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A record's text (a path, an argument) that must be UTF-8.
#[track_caller]
pub fn text(value: &OsText) -> &str {
    match value {
        OsText::Text(text) => text,
        OsText::Bytes { bytes } => panic!("not UTF-8 text: {{\"bytes\": {bytes:?}}}"),
    }
}

/// An optional record text (`output`, `launcher`) that must be there.
#[track_caller]
pub fn some_text(value: &Option<OsText>) -> &str {
    text(value.as_ref().expect("the field is set"))
}

/// A record's list of texts (`argv`, `exec`, `injected`, `inputs`).
#[track_caller]
pub fn texts(values: &[OsText]) -> Vec<&str> {
    values.iter().map(text).collect()
}

/// `(flag, reason)` pairs of a record's `skipped`.
#[track_caller]
pub fn skipped(record: &InvocationRecord) -> Vec<(&str, SkipReason)> {
    record
        .skipped
        .iter()
        .map(|entry| match &entry.reason {
            Term::Known(reason) => (text(&entry.flag), *reason),
            Term::Unknown(word) => panic!("unknown skip reason `{word}`: {record:#?}"),
        })
        .collect()
}

/// Asserts the record injected nothing.
#[track_caller]
pub fn assert_injected_nothing(record: &InvocationRecord) {
    assert_eq!(
        texts(&record.injected),
        Vec::<&str>::new(),
        "injected: {record:#?}"
    );
    let exec = texts(&record.exec);
    for flag in SPLIT_FLAGS {
        assert!(!exec.contains(&flag), "{flag} in exec: {record:#?}");
    }
}

/// Asserts the record injected both split flags.
#[track_caller]
pub fn assert_injected_split(record: &InvocationRecord) {
    assert_eq!(
        texts(&record.injected),
        SPLIT_FLAGS,
        "injected: {record:#?}"
    );
    let exec = texts(&record.exec);
    for flag in SPLIT_FLAGS {
        assert_eq!(
            exec.iter().filter(|word| **word == flag).count(),
            1,
            "{flag} not once in exec: {record:#?}"
        );
    }
}

/// A symlink at `link` to `target`, parents created.
pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    if let Some(parent) = link.as_ref().parent() {
        std::fs::create_dir_all(parent).expect("link directory");
    }
    std::os::unix::fs::symlink(target.as_ref(), link.as_ref()).expect("symlink");
}

/// The names `cc`'s driver is also installed as: `gcc-12` / `clang-14`
/// (from `-dumpversion`) and `x86_64-linux-gnu-gcc` (from `-dumpmachine`).
pub fn versioned_name(cc: &str) -> String {
    let out = Command::new(cc)
        .arg("-dumpversion")
        .output()
        .expect("-dumpversion");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major = version.split('.').next().unwrap_or_default();
    format!("{cc}-{major}")
}

pub fn cross_prefixed_name(cc: &str) -> String {
    let out = Command::new(cc)
        .arg("-dumpmachine")
        .output()
        .expect("-dumpmachine");
    format!("{}-{cc}", String::from_utf8_lossy(&out.stdout).trim())
}

/// The pre-existing record the error tests put in the log, to show it is
/// left alone.
pub const OLD_RECORD: &str = concat!(
    r#"{"version":1,"secwrap":"0.1.0","time":"2025-01-01T00:00:00.000Z","pid":1,"#,
    r#""cwd":"/w","compiler":"/usr/bin/gcc","argv":["gcc","-c","old.c"],"#,
    r#""exec":["/usr/bin/gcc","-c","old.c"],"kind":"compile","injected":[],"skipped":[],"#,
    r#""inputs":["/w/old.c"],"output":"/w/old.o","lto":false,"config":"0000000000000000","#,
    r#""status":0,"signal":null,"duration_ms":1.0}"#,
    "\n"
);

/// Serialises the tests that saturate both cores (the fault harness, the
/// load test), so that they neither slow each other past the harness's
/// timeout nor measure each other.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ALONE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `path` without `.` and with `..` folded, lexically: the tests' own
/// reading of "a normalised path", independent of the code under test.
pub fn lexical(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `secwrap run --build-id ID -- make -s CC="secwrap gcc"` in the tree,
/// which ends with its one summary line on stderr.
pub fn make_build(t: &TestEnv, id: &str) {
    t.run(&[
        "run",
        "--build-id",
        id,
        "--",
        "make",
        "-s",
        &format!("CC={SECWRAP} gcc"),
    ])
    .stderr_contains(&format!("secwrap: build {id}: "))
    .go();
}

/// A directory `dir` of links named `names` to `target`: a masquerade
/// directory (secwrap's, or a launcher's as `/usr/lib/ccache` is).
pub fn links(t: &TestEnv, dir: &str, target: &Path, names: &[String]) -> PathBuf {
    for name in names {
        symlink(target, t.path(dir).join(name));
    }
    t.path(dir)
}

/// The names a build's `cc` reaches the compiler under: `cc` itself and,
/// when installed, its target-prefixed name (distcc runs `gcc` as
/// `x86_64-linux-gnu-gcc`, which `secwrap shims` links too).
pub fn names(cc: &str) -> Vec<String> {
    let prefixed = cross_prefixed_name(cc);
    let mut names = vec![cc.to_string()];
    if which::which_in(&prefixed, Some(default_path()), "/").is_ok() {
        names.push(prefixed);
    }
    names
}

/// ccache's counters (`ccache --print-stats`: `name<TAB>value` lines).
pub fn ccache_stats(t: &TestEnv) -> BTreeMap<String, u64> {
    let out = t
        .run_program("ccache", &["--print-stats"])
        .stdout_any()
        .go();
    out.stdout_text()
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once('\t')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// ccache's hits (direct or preprocessed) and misses so far.
pub fn ccache_hits_and_misses(t: &TestEnv) -> (u64, u64) {
    let stats = ccache_stats(t);
    let count = |name: &str| stats.get(name).copied().unwrap_or(0);
    (
        count("direct_cache_hit") + count("preprocessed_cache_hit"),
        count("cache_miss"),
    )
}
