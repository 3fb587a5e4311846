//! The harness: a `TestEnv` per test (a temporary tree, a controlled
//! environment, secwrap run in it) in the style of casey/just's `Test`, plus
//! helpers to read what a run left behind (objects, the invocation log).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use object::{Object, ObjectSection};
use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const SECWRAP: &str = env!("CARGO_BIN_EXE_secwrap");

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
    /// An empty tree with `home/`, `cache/` and `tmp/`, and the default
    /// environment: PATH, HOME=<tree>/home (no user config),
    /// SECWRAP_LOG=<tree>/log.jsonl, SECWRAP_CACHE_DIR=<tree>/cache.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("secwrap-it-")
            .tempdir()
            .expect("temporary directory");
        // Physical path: what getcwd() gives secwrap, and so the records.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        for sub in ["home", "cache", "tmp"] {
            std::fs::create_dir(root.join(sub)).expect("harness directories");
        }
        let mut vars = BTreeMap::new();
        let mut set = |key: &str, value: OsString| {
            vars.insert(OsString::from(key), Some(value));
        };
        set("PATH", default_path());
        set("HOME", root.join("home").into_os_string());
        set("SECWRAP_LOG", root.join("log.jsonl").into_os_string());
        set("SECWRAP_CACHE_DIR", root.join("cache").into_os_string());
        set("TMPDIR", root.join("tmp").into_os_string());
        set("LC_ALL", "C".into());
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

    /// `secwrap ARGS...`.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        self.run_program(SECWRAP, args)
    }

    /// `secwrap ARGS...` with `input` on stdin.
    pub fn run_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Out {
        let mut command = self.command(SECWRAP, args);
        command.stdin(Stdio::piped());
        let mut child = command.spawn().expect("spawn secwrap");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = wait_output(child, "secwrap with stdin");
        writer.join().expect("stdin writer");
        out
    }

    /// `program ARGS...` (looked up on the run's PATH when it has no `/`).
    pub fn run_program<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Out {
        let program = program.as_ref();
        // A test that has just written an executable (a copy of secwrap)
        // can meet ETXTBSY: another test thread's fork briefly holds the
        // write descriptor until its exec. Retry that error only.
        let mut attempts = 0;
        let child = loop {
            match self.command(program, args).spawn() {
                Err(error) if error.raw_os_error() == Some(libc::ETXTBSY) && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => {
                    break result.unwrap_or_else(|error| {
                        panic!("spawn {}: {error}", program.to_string_lossy())
                    });
                }
            }
        };
        wait_output(child, &program.to_string_lossy())
    }

    /// The records in `<root>/log.jsonl` (the default `SECWRAP_LOG`).
    pub fn records(&self) -> Vec<Value> {
        records_at(&self.path("log.jsonl"))
    }

    /// The one record in the default log.
    #[track_caller]
    pub fn only_record(&self) -> Value {
        let mut records = self.records();
        assert_eq!(records.len(), 1, "expected one record: {records:#?}");
        records.remove(0)
    }

    /// The records, as the library's type.
    pub fn typed_records(&self) -> Vec<secwrap::record::InvocationRecord> {
        let text = std::fs::read_to_string(self.path("log.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not a record ({error}): {line}"))
            })
            .collect()
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

/// Every line of a JSON Lines log, decoded; none if the file is absent.
#[track_caller]
pub fn records_at(path: &Path) -> Vec<Value> {
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

    fn describe(&self) -> String {
        format!(
            "`{}`: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.what,
            self.status,
            self.stdout_text(),
            self.stderr_text()
        )
    }

    /// Asserts exit status 0.
    #[track_caller]
    pub fn success(&self) -> &Out {
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        self
    }

    /// Asserts exit status 0 and nothing on stderr.
    #[track_caller]
    pub fn quiet_success(&self) -> &Out {
        self.success();
        assert!(
            self.stderr.is_empty(),
            "expected an empty stderr: {}",
            self.describe()
        );
        self
    }

    /// Asserts the exit status.
    #[track_caller]
    pub fn code_is(&self, code: i32) -> &Out {
        assert_eq!(
            self.status.code(),
            Some(code),
            "wrong exit status: {}",
            self.describe()
        );
        self
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

/// A record field that is a JSON string.
#[track_caller]
pub fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string: {record:#}"))
}

/// A record field that is an array of JSON strings.
#[track_caller]
pub fn texts(record: &Value, field: &str) -> Vec<String> {
    record[field]
        .as_array()
        .unwrap_or_else(|| panic!("`{field}` is not an array: {record:#}"))
        .iter()
        .map(|value| {
            value
                .as_str()
                .unwrap_or_else(|| panic!("`{field}` has a non-string: {record:#}"))
                .to_string()
        })
        .collect()
}

/// `(flag, reason)` pairs of a record's `skipped`.
#[track_caller]
pub fn skipped(record: &Value) -> Vec<(String, String)> {
    record["skipped"]
        .as_array()
        .unwrap_or_else(|| panic!("`skipped` is not an array: {record:#}"))
        .iter()
        .map(|entry| {
            (
                entry["flag"].as_str().expect("skipped flag").to_string(),
                entry["reason"]
                    .as_str()
                    .expect("skipped reason")
                    .to_string(),
            )
        })
        .collect()
}

/// Asserts the record injected nothing.
#[track_caller]
pub fn assert_injected_nothing(record: &Value) {
    assert_eq!(
        texts(record, "injected"),
        Vec::<String>::new(),
        "injected: {record:#}"
    );
    let exec = texts(record, "exec");
    for flag in SPLIT_FLAGS {
        assert!(
            !exec.iter().any(|word| word == flag),
            "{flag} in exec: {record:#}"
        );
    }
}

/// Asserts the record injected both split flags.
#[track_caller]
pub fn assert_injected_split(record: &Value) {
    assert_eq!(
        texts(record, "injected"),
        SPLIT_FLAGS,
        "injected: {record:#}"
    );
    let exec = texts(record, "exec");
    for flag in SPLIT_FLAGS {
        assert_eq!(
            exec.iter().filter(|word| *word == flag).count(),
            1,
            "{flag} not once in exec: {record:#}"
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
