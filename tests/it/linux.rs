//! A real Kbuild tree: Linux 6.1's x86_64 `tinyconfig` from Debian's
//! `linux-source-6.1`, built with `O=` through secwrap, then patched twice
//! the way a livepatch author does (README "From the record to a livepatch
//! build"; `../shared/research/real-trees.md` section 4 is the same run by
//! hand). One test, because the build is the expensive part and every check
//! reads it:
//!
//! - the build passes and its objects are split (`.text.kill_pid`), except
//!   where Kbuild itself asks for `-fno-function-sections` (`init/`);
//! - one record per compiler call, against Kbuild's own account of its
//!   commands: the `cmd_<target>` line of every `.<target>.cmd` file;
//! - `log export --format compile-commands` has an entry for every compile;
//! - `check --image vmlinux` finds the orphans of 6.1's x86 linker script,
//!   which has no `.text.*` catch-all;
//! - a one-function patch (`kill_pid`), then a second one (`kill_pgrp` in the
//!   same file, `jiffies_to_msecs` in another): `log changed` and
//!   `diff --build` name exactly what changed.
//!
//! The patched sources are copies in the object tree: Kbuild finds
//! `<objtree>/kernel/signal.c` before the one `VPATH` points at, so the
//! unpacked source tree stays pristine and is reused across runs
//! ([`source_tree`]).
//!
//! Each check is a named section ([`Sections`]): one failing does not hide
//! the others, and the test fails at the end naming every failed section.
//!
//! Needs `linux-source-6.1 flex bison bc libelf-dev` (`.ci/run` installs them
//! with `libssl-dev`). Without them the test fails, naming what is missing;
//! outside CI, `SECWRAP_SKIP_LINUX=1` turns that into a skip line printed on
//! the terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant, SystemTime};

use secwrap::classify::Classification;
use secwrap::record::InvocationRecord;
use serde_json::Value;

use crate::common::*;

/// What Debian's `linux-source-6.1` installs, and the directory inside it.
const TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";
const TARBALL_TOP: &str = "linux-source-6.1";

/// Outside CI, `SECWRAP_SKIP_LINUX=1` skips the test when its
/// prerequisites are missing (with a line on the terminal); under CI it is
/// ignored.
const SKIP_VARIABLE: &str = "SECWRAP_SKIP_LINUX";

/// A hang guard for one `make`, not a timing assertion: the base build
/// took 8.5 min on the 2-core machine at a load average of 10.
const MAKE_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The C objects Kbuild recompiles on every build, patched or not: the
/// version objects (the build number and date are compiled in) and
/// `arch/x86/boot/compressed/misc.o` (it depends on the compressed kernel).
/// `log changed` leaves them out by default (README, "Changed objects");
/// they are in every `diff --build` next to the patched objects.
const REBUILT_EVERY_BUILD: [&str; 3] = [
    "init/version-timestamp.o",
    "arch/x86/boot/version.o",
    "arch/x86/boot/compressed/misc.o",
];

#[test]
fn tinyconfig_through_secwrap() {
    if !prerequisites_met() {
        return;
    }
    let _alone = exclusive();
    let started = Instant::now();
    let source = source_tree();
    let unpacked = started.elapsed();
    let kernel = Kernel::configure(&source);
    let configured = started.elapsed();
    kernel.build("base");
    let built = started.elapsed();

    let mut sections = Sections::default();
    let commands = kbuild_commands(&kernel.obj, &kernel.cc_prefix());
    sections.check("objects are split, except where Kbuild says not to", || {
        objects_are_split(&kernel)
    });
    sections.check("one record per compiler call (Kbuild's .cmd files)", || {
        one_record_per_compiler_call(&kernel, &commands)
    });
    sections.check("log export covers every compile", || {
        export_covers_every_compile(&kernel, &commands)
    });
    sections.check("check --image vmlinux finds the orphans", || {
        image_orphans_found(&kernel)
    });
    sections.check("check --image prints one line per family", || {
        image_summary_one_line_per_family(&kernel)
    });
    sections.check(
        "check --build leaves explicitly sectioned data alone",
        || check_build_leaves_explicit_sections_alone(&kernel),
    );

    // Patch 1: one function.
    kernel.patch(
        "kernel/signal.c",
        "int kill_pid(struct pid *pid, int sig, int priv)\n{\n",
        "\tif (sig < 0)\n\t\treturn -EINVAL;\n",
    );
    let p1 = kernel.build("p1");
    let rebuilt_p1 = rebuilt_c_objects(&kernel, &commands, p1);
    sections.check("log changed --since base: the patched object", || {
        changed_objects_match_make(&kernel, "base", &rebuilt_p1, &["kernel/signal.o"])
    });
    sections.check("log changed leaves out the version objects", || {
        changed_leaves_out_version_objects(&kernel, "base", &["kernel/signal.o"])
    });
    sections.check("log changed --image vmlinux", || {
        changed_in_image(&kernel, "base", &["kernel/signal.o"])
    });
    sections.check("diff --build p1: exactly kill_pid", || {
        diff_build_names_exactly(&kernel, "p1", &[("kernel/signal.o", "kill_pid")])
    });

    // Patch 2: another function in the same file, and one in another file.
    kernel.patch(
        "kernel/signal.c",
        "int kill_pgrp(struct pid *pid, int sig, int priv)\n{\n\tint ret;\n",
        "\n\tif (sig < 0)\n\t\treturn -EINVAL;\n",
    );
    kernel.patch(
        "kernel/time/time.c",
        "unsigned int jiffies_to_msecs(const unsigned long j)\n{\n",
        "\tif (j == ~0UL)\n\t\treturn ~0U;\n",
    );
    let p2 = kernel.build("p2");
    let rebuilt_p2 = rebuilt_c_objects(&kernel, &commands, p2);
    sections.check("log changed --since p1: both patched objects", || {
        changed_objects_match_make(
            &kernel,
            "p1",
            &rebuilt_p2,
            &["kernel/signal.o", "kernel/time/time.o"],
        )
    });
    sections.check("diff --build p2: every function changed since base", || {
        diff_build_names_exactly(
            &kernel,
            "p2",
            &[
                ("kernel/signal.o", "kill_pgrp"),
                ("kernel/signal.o", "kill_pid"),
                ("kernel/time/time.o", "jiffies_to_msecs"),
            ],
        )
    });

    eprintln!(
        "linux: unpack {:.1?}, tinyconfig {:.1?}, base build {:.1?}, whole test {:.1?}",
        unpacked,
        configured - unpacked,
        built - configured,
        started.elapsed()
    );
    sections.finish();
}

// ---------------------------------------------------------------------------
// Prerequisites and the source tree

/// What the build needs that this machine lacks.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if std::env::consts::ARCH != "x86_64" {
        missing.push(format!(
            "an x86_64 host (this one is {})",
            std::env::consts::ARCH
        ));
    }
    if !Path::new(TARBALL).is_file() {
        missing.push(format!("{TARBALL} (package linux-source-6.1)"));
    }
    // xz: tar's decompressor and tinyconfig's KERNEL_XZ; flex, bison: Kconfig's
    // parser; bc: kernel/time/timeconst.h.
    for program in ["make", "gcc", "tar", "xz", "flex", "bison", "bc"] {
        if which::which_in(program, Some(default_path()), "/").is_err() {
            missing.push(format!("`{program}` on PATH"));
        }
    }
    // objtool, which x86_64 builds as a host tool.
    if !Path::new("/usr/include/gelf.h").is_file() {
        missing.push("/usr/include/gelf.h (package libelf-dev)".to_string());
    }
    missing
}

/// Whether to run. Missing prerequisites fail the test, under CI always;
/// elsewhere `SECWRAP_SKIP_LINUX=1` makes them a skip, printed where it is
/// seen.
fn prerequisites_met() -> bool {
    let missing = missing_prerequisites();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    let under_ci = std::env::var_os("CI").is_some();
    if !under_ci && std::env::var_os(SKIP_VARIABLE).is_some_and(|value| value == "1") {
        // Straight to the process's stderr: libtest captures `eprintln!` of
        // a passing test, and a skip must not go unseen.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: linux::tinyconfig_through_secwrap: missing {missing} ({SKIP_VARIABLE}=1)"
        );
        return false;
    }
    panic!(
        "the Linux tree test needs {missing}: `apt-get install linux-source-6.1 flex bison bc libelf-dev libssl-dev` (as .ci/run does){}",
        if under_ci {
            "; under CI it is not skipped"
        } else {
            ", or set SECWRAP_SKIP_LINUX=1 to skip it"
        }
    );
}

/// The unpacked, pristine source tree. Unpacking takes about 20 s, so it is
/// done once into the target directory and reused while the tarball's size
/// and mtime stay the same; a new tarball replaces it. The tree is unpacked
/// under a temporary name and renamed into place, so an interrupted run
/// leaves nothing that looks complete.
fn source_tree() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let metadata = std::fs::metadata(TARBALL).expect("the tarball's metadata");
    let mtime = metadata
        .modified()
        .expect("mtime")
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("mtime after 1970")
        .as_secs();
    let name = format!("{TARBALL_TOP}-{}-{mtime}", metadata.len());
    let unpacked = cache.join(&name);
    let tree = unpacked.join(TARBALL_TOP);
    if tree.join("Makefile").is_file() {
        return tree;
    }
    std::fs::create_dir_all(cache).expect("target tmp directory");
    for entry in std::fs::read_dir(cache).expect("read target tmp") {
        let path = entry.expect("entry").path();
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let stale = file_name.starts_with(&format!("{TARBALL_TOP}-")) && file_name != name;
        // A staging directory a killed run left (one in use is minutes old).
        let abandoned = file_name.starts_with("linux-unpack-")
            && path
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| {
                    modified.elapsed().unwrap_or_default() > Duration::from_secs(3600)
                });
        if stale || abandoned {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    let staging = tempfile::Builder::new()
        .prefix("linux-unpack-")
        .tempdir_in(cache)
        .expect("staging directory");
    let status = std::process::Command::new("tar")
        .args(["--no-same-owner", "-xf", TARBALL, "-C"])
        .arg(staging.path())
        .status()
        .expect("run tar");
    assert!(status.success(), "tar -xf {TARBALL}: {status}");
    assert!(
        staging.path().join(TARBALL_TOP).join("Makefile").is_file(),
        "{TARBALL} holds no {TARBALL_TOP}/Makefile"
    );
    // A concurrent run may have renamed its copy into place first: keep
    // that one (ours goes with `staging`).
    if std::fs::rename(staging.path(), &unpacked).is_err() {
        assert!(
            tree.join("Makefile").is_file(),
            "could not move the unpacked tree to {}",
            unpacked.display()
        );
    }
    tree
}

// ---------------------------------------------------------------------------
// The kernel build

/// A configured object tree (`O=`) in a test tree, and the log its
/// `secwrap.toml` names.
struct Kernel {
    t: TestEnv,
    source: PathBuf,
    obj: PathBuf,
    log: PathBuf,
}

impl Kernel {
    /// `make tinyconfig` (with plain gcc: configuring is not a compile under
    /// test, and Kconfig re-runs through secwrap when the build's `CC`
    /// differs), then the object tree's `secwrap.toml`.
    fn configure(source: &Path) -> Kernel {
        let t = TestEnv::new().env_remove("SECWRAP_LOG").cwd("obj");
        let obj = t.path("obj");
        let kernel = Kernel {
            source: source.to_path_buf(),
            log: obj.join("secwrap.jsonl"),
            obj,
            t,
        };
        let mut args = kernel.make_args();
        args.push("tinyconfig".to_string());
        let run = run_long(&kernel.t, "tinyconfig", "make", &args);
        run.assert_success();
        kernel.t.write("obj/secwrap.toml", secwrap_toml());
        kernel
    }

    /// `make -C <source> O=<obj> ARCH=x86_64 HOSTCC=gcc -j2`: x86_64 named,
    /// since on an x86_64 host `ARCH=x86` lets tinyconfig turn `64BIT` off;
    /// host tools with plain gcc, as a livepatch build leaves them.
    fn make_args(&self) -> Vec<String> {
        vec![
            "-C".to_string(),
            self.source.display().to_string(),
            format!("O={}", self.obj.display()),
            "ARCH=x86_64".to_string(),
            "HOSTCC=gcc".to_string(),
            "-j2".to_string(),
        ]
    }

    /// How Kbuild's `.cmd` files spell a command run through `$(CC)`.
    fn cc_prefix(&self) -> String {
        format!("{SECWRAP} gcc ")
    }

    /// `secwrap run --build-id ID -- make ... CC="<secwrap> gcc"`; returns
    /// when it started, for [`rebuilt_c_objects`].
    fn build(&self, id: &str) -> SystemTime {
        let mut args = vec![
            "run".to_string(),
            "--build-id".to_string(),
            id.to_string(),
            // Kbuild names the compiler through CC; the shim directory
            // would add the host tools' compiles (HOSTCC=gcc, by name),
            // which have no `$(CC)` line in the `.cmd` files compared here.
            "--no-shims".to_string(),
            "--".to_string(),
            "make".to_string(),
        ];
        args.extend(self.make_args());
        args.push(format!("CC={SECWRAP} gcc"));
        let started = SystemTime::now();
        let run = run_long(&self.t, id, SECWRAP, &args);
        run.assert_success();
        let last = run.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("secwrap: build {id}: ")),
            "`secwrap run` did not end with its summary: {last}"
        );
        for image in ["vmlinux", "arch/x86/boot/bzImage"] {
            assert!(self.obj.join(image).is_file(), "build {id}: no {image}");
        }
        started
    }

    /// Puts a copy of `<source>/<rel>` (or of the object tree's copy, if
    /// there is one already) into the object tree with `insert` added after
    /// `anchor`, which must occur once.
    fn patch(&self, rel: &str, anchor: &str, insert: &str) {
        let copy = self.obj.join(rel);
        let original = if copy.is_file() {
            copy.clone()
        } else {
            self.source.join(rel)
        };
        let text = std::fs::read_to_string(&original)
            .unwrap_or_else(|error| panic!("reading {}: {error}", original.display()));
        assert_eq!(
            text.matches(anchor).count(),
            1,
            "{}: the anchor is not there once: {anchor:?}",
            original.display()
        );
        let patched = text.replacen(anchor, &format!("{anchor}{insert}"), 1);
        std::fs::write(&copy, patched)
            .unwrap_or_else(|error| panic!("writing {}: {error}", copy.display()));
    }

    /// The records of one build.
    fn records(&self, id: &str) -> Vec<InvocationRecord> {
        records_at(&self.log)
            .into_iter()
            .filter(|record| record.build.as_deref() == Some(id))
            .collect()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.obj.join(rel)
    }
}

/// The object tree's `secwrap.toml`. tinyconfig sets none of the symbols
/// of the built-in rules, so the split comes from the documented always
/// rule (README, "Configuration"). No `kconfig` key: the default upward
/// search finds `include/config/auto.conf`, which Linux writes with
/// strings unquoted since 5.17 (`CONFIG_CC_VERSION_TEXT=gcc (Debian ...)
/// 12.2.0`), so every compile reads that format.
fn secwrap_toml() -> &'static str {
    concat!(
        "[log]\n",
        "path = \"secwrap.jsonl\"\n",
        "\n",
        "[livepatch]\n",
        "keep_originals = \"orig\"\n",
        "\n",
        "[[rule]]\n",
        "name = \"always-split\"\n",
        "when = \"y\"\n",
        "cflags = [\"-ffunction-sections\", \"-fdata-sections\"]\n",
    )
}

/// A finished long run: its status and output.
struct LongRun {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl LongRun {
    #[track_caller]
    fn assert_success(&self) {
        if self.status.success() {
            return;
        }
        // The orphan warnings of ld run to thousands of lines: show the rest.
        let stderr: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| !line.contains("orphan section"))
            .collect();
        let tail =
            |lines: &[&str], count: usize| lines[lines.len().saturating_sub(count)..].join("\n");
        let stdout: Vec<&str> = self.stdout.lines().collect();
        panic!(
            "`{}`: {}\n--- stdout, last lines ---\n{}\n--- stderr, last lines ---\n{}",
            self.what,
            self.status,
            tail(&stdout, 10),
            tail(&stderr, 40)
        );
    }
}

/// `program args` in the test's environment and working directory, its
/// output in files next to the object tree (a megabyte of ld warnings),
/// waited for at most [`MAKE_TIMEOUT`] (the harness's own limit is for
/// single commands).
fn run_long(t: &TestEnv, name: &str, program: &str, args: &[String]) -> LongRun {
    let stdout_path = t.path(format!("{name}.stdout"));
    let stderr_path = t.path(format!("{name}.stderr"));
    let mut command = t.command(program, args);
    command
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"));
    let what = format!("{program} {}", args.join(" "));
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("spawn `{what}`: {error}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > MAKE_TIMEOUT {
            kill_group(&child);
            let _ = child.wait();
            panic!("`{what}` did not finish within {MAKE_TIMEOUT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    kill_group(&child);
    eprintln!("linux: {name}: {:.1?}", started.elapsed());
    LongRun {
        what,
        status,
        stdout: std::fs::read_to_string(&stdout_path).expect("stdout"),
        stderr: std::fs::read_to_string(&stderr_path).expect("stderr"),
    }
}

// ---------------------------------------------------------------------------
// Kbuild's own account: the .cmd files

/// One command Kbuild ran, from `<dir>/.<file>.cmd`: `cmd_<target> :=
/// <command>` and, for compiles, `source_<target> := <source>`.
struct KbuildCommand {
    command: String,
    source: Option<PathBuf>,
}

/// Every command Kbuild ran through `$(CC)` (the line starts with
/// `cc_prefix`), by absolute target. Host tools (`HOSTCC=gcc`), `ld` and the
/// rest are left out.
fn kbuild_commands(obj: &Path, cc_prefix: &str) -> BTreeMap<PathBuf, KbuildCommand> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                walk(&path, found);
            } else {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(".cmd") {
                    found.push(path);
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(obj, &mut files);
    let mut commands = BTreeMap::new();
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read .cmd")).into_owned();
        let Some((target, command)) = text.lines().find_map(|line| {
            line.strip_prefix("cmd_")
                .and_then(|rest| rest.split_once(" := "))
        }) else {
            continue;
        };
        if !command.starts_with(cc_prefix) {
            continue;
        }
        let source = text.lines().find_map(|line| {
            line.strip_prefix(&format!("source_{target} := "))
                .map(|source| lexical(&obj.join(source)))
        });
        commands.insert(
            lexical(&obj.join(target)),
            KbuildCommand {
                command: command.to_string(),
                source,
            },
        );
    }
    assert!(
        commands.len() > 400,
        "only {} commands through $(CC) in {}: not a kernel build",
        commands.len(),
        obj.display()
    );
    commands
}

/// Whether Kbuild compiled `target` from C (`source_` names a `.c` file).
fn compiled_from_c(command: &KbuildCommand) -> bool {
    command
        .source
        .as_ref()
        .is_some_and(|source| source.extension().is_some_and(|ext| ext == "c"))
}

/// A record's output, absolute and lexically normal.
fn record_output(record: &InvocationRecord) -> Option<PathBuf> {
    let output = record.output.as_ref()?;
    Some(lexical(&Path::new(text(&record.cwd)).join(text(output))))
}

/// The C objects (`.o` targets compiled from `.c` through `$(CC)`) that a
/// build starting at `since` wrote: make's own answer to "what changed",
/// read from the file system, not from the record.
fn rebuilt_c_objects(
    kernel: &Kernel,
    commands: &BTreeMap<PathBuf, KbuildCommand>,
    since: SystemTime,
) -> BTreeSet<String> {
    commands
        .iter()
        .filter(|(target, command)| {
            target.extension().is_some_and(|ext| ext == "o")
                && compiled_from_c(command)
                && std::fs::metadata(target)
                    .and_then(|metadata| metadata.modified())
                    .is_ok_and(|modified| modified >= since)
        })
        .map(|(target, _)| {
            target
                .strip_prefix(&kernel.obj)
                .expect("a target in the object tree")
                .display()
                .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The sections

/// Named checks of one run: a failing section is recorded (its panic
/// message printed as usual) and the next one still runs.
#[derive(Default)]
struct Sections {
    failed: Vec<&'static str>,
}

impl Sections {
    fn check(&mut self, name: &'static str, body: impl FnOnce()) {
        if std::panic::catch_unwind(AssertUnwindSafe(body)).is_err() {
            eprintln!("linux: section failed: {name}");
            self.failed.push(name);
        }
    }

    fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "failed sections:\n  {}",
            self.failed.join("\n  ")
        );
    }
}

/// `kernel/signal.o` has a section per function; `init/main.o` has none,
/// because `init/Makefile` asks for `-fno-function-sections
/// -fno-data-sections` and the user's choice wins (README, "What gets the
/// flags").
fn objects_are_split(kernel: &Kernel) {
    let signal = sections(&kernel.path("kernel/signal.o"));
    for wanted in [".text.kill_pid", ".text.kill_pgrp", ".text.send_sig"] {
        assert!(
            signal.iter().any(|name| name == wanted),
            "kernel/signal.o lacks {wanted}: {signal:?}"
        );
    }
    let main = sections(&kernel.path("init/main.o"));
    assert!(main.iter().any(|name| name == ".text"), "{main:?}");
    assert!(
        !main.iter().any(|name| name.starts_with(".text.")),
        "init/main.o was split against init/Makefile's -fno-function-sections: {main:?}"
    );
}

/// Every command Kbuild ran through `$(CC)` has exactly one record in
/// build `base`, with that target as its output, and the record is not
/// taken for a probe; every record that is neither a probe nor an info
/// query (`--version`) is one of those commands. C compiles got both flags,
/// or, where the line has `-fno-function-sections`, neither.
fn one_record_per_compiler_call(kernel: &Kernel, commands: &BTreeMap<PathBuf, KbuildCommand>) {
    let records = kernel.records("base");
    let mut by_output: BTreeMap<PathBuf, Vec<&InvocationRecord>> = BTreeMap::new();
    for record in &records {
        if let Some(output) = record_output(record) {
            by_output.entry(output).or_default().push(record);
        }
    }
    let mut problems = Vec::new();
    for (target, command) in commands {
        let found = by_output.get(target).map(Vec::as_slice).unwrap_or_default();
        let [record] = found else {
            problems.push(format!(
                "{}: {} records (Kbuild ran `{}`)",
                target.display(),
                found.len(),
                command.command
            ));
            continue;
        };
        if record.is_build_system_probe() {
            problems.push(format!("{}: recorded as a probe", target.display()));
        }
        if texts(&record.argv)[..2] != [SECWRAP, "gcc"] {
            problems.push(format!("{}: argv {:?}", target.display(), record.argv));
        }
        if record.status != Some(0) {
            problems.push(format!("{}: status {:?}", target.display(), record.status));
        }
        if compiled_from_c(command) && record.kind.is(Classification::Compile) {
            let opted_out = texts(&record.argv).contains(&"-fno-function-sections");
            let wanted: &[&str] = if opted_out { &[] } else { &SPLIT_FLAGS };
            if texts(&record.injected) != wanted {
                problems.push(format!(
                    "{}: injected {:?}, wanted {wanted:?}",
                    target.display(),
                    record.injected
                ));
            }
        } else if compiled_from_c(command) {
            problems.push(format!(
                "{}: a C compile recorded as {:?}",
                target.display(),
                record.kind
            ));
        }
    }
    for record in &records {
        if record.is_build_system_probe() || record.kind.is(Classification::InfoQuery) {
            continue;
        }
        let output = record_output(record);
        if !output
            .as_ref()
            .is_some_and(|output| commands.contains_key(output))
        {
            problems.push(format!(
                "a record with no Kbuild command: output {output:?}, argv {:?}",
                record.argv
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems among {} Kbuild commands and {} records:\n{}",
        problems.len(),
        commands.len(),
        records.len(),
        problems.join("\n")
    );
}

/// `log export --format compile-commands --build base`: one entry per
/// compile and assemble Kbuild ran through `$(CC)` (its `.cmd` file names
/// the source and the target), none for anything else.
fn export_covers_every_compile(kernel: &Kernel, commands: &BTreeMap<PathBuf, KbuildCommand>) {
    let database = kernel.t.path("compile_commands.json");
    let database_text = database.display().to_string();
    let out = kernel
        .t
        .run(&[
            "log",
            "export",
            "--format",
            "compile-commands",
            "--build",
            "base",
            "--output",
            &database_text,
        ])
        .stdout_any()
        .go();
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&database).expect("database"))
            .expect("a JSON array");
    assert_eq!(
        out.stdout_text(),
        format!("wrote {} entries to {database_text}\n", entries.len())
    );
    let exported: BTreeSet<(PathBuf, PathBuf)> = entries
        .iter()
        .map(|entry| {
            let field = |name: &str| {
                entry[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("`{name}` is not a string: {entry:#}"))
            };
            assert_eq!(field("directory"), kernel.obj.display().to_string());
            let directory = Path::new(field("directory"));
            (
                lexical(&directory.join(field("file"))),
                lexical(&directory.join(field("output"))),
            )
        })
        .collect();
    assert_eq!(exported.len(), entries.len(), "duplicate entries");
    // Kbuild's compiles and assembles; `.lds` files are preprocessed (`-E`),
    // which a compilation database does not hold.
    let compiled: BTreeSet<(PathBuf, PathBuf)> = commands
        .iter()
        .filter(|(target, _)| target.extension().is_none_or(|ext| ext != "lds"))
        .map(|(target, command)| {
            let source = command
                .source
                .clone()
                .unwrap_or_else(|| panic!("{}: no source_ line", target.display()));
            (source, target.clone())
        })
        .collect();
    let missing: Vec<_> = compiled.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&compiled).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} compiles, {} entries; missing {missing:#?}; not Kbuild's {extra:#?}",
        compiled.len(),
        exported.len()
    );
}

/// 6.1's x86 `vmlinux.lds.S` gathers no `.text.*`/`.data.*`/`.bss.*`, so
/// split sections are orphans in vmlinux (`.text.kill_pid` is an output
/// section of its own); `check --image` exits 1 and names each family.
fn image_orphans_found(kernel: &Kernel) {
    let image = sections(&kernel.path("vmlinux"));
    assert!(
        image.iter().any(|name| name == ".text.kill_pid"),
        "vmlinux has no orphaned .text.kill_pid: is this 6.1's linker script?"
    );
    let out = kernel
        .t
        .run(&["check", "--image", "vmlinux"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    for family in [".text.", ".data.", ".bss."] {
        assert!(
            stdout.lines().any(|line| line.contains(family)),
            "no {family} orphan reported"
        );
    }
    assert!(
        stdout.lines().all(|line| line.starts_with("vmlinux: ")),
        "a line not about vmlinux: {}",
        stdout
            .lines()
            .find(|line| !line.starts_with("vmlinux: "))
            .unwrap_or_default()
    );
}

/// `check --image` summary: one line per family of orphaned sections, not
/// one per section (8,716 lines on this image before issue 10).
fn image_summary_one_line_per_family(kernel: &Kernel) {
    let out = kernel
        .t
        .run(&["check", "--image", "vmlinux"])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() <= 4,
        "{} lines, not one per family (.text, .data, .bss); the first: {:#?}",
        lines.len(),
        &lines[..lines.len().min(5)]
    );
    for family in [".text.", ".data.", ".bss."] {
        assert_eq!(
            lines.iter().filter(|line| line.contains(family)).count(),
            1,
            "not one line for {family}: {lines:#?}"
        );
    }
}

/// `check --build base` says nothing about code no flag can split: data
/// placed in `.data` on purpose (tinyconfig is !SMP, so every
/// `DEFINE_PER_CPU` variable is `__section(".data")`, `PER_CPU_BASE_SECTION`
/// in include/asm-generic/percpu.h; `arch/x86/boot/compressed/misc.c`'s
/// `lines` and `cols`) and functions defined in a top-level `asm()`
/// (`arch/x86/kernel/static_call.o`'s `__static_call_return`): 102
/// findings before issue 10.
fn check_build_leaves_explicit_sections_alone(kernel: &Kernel) {
    kernel.t.run(&["check", "--build", "base"]).go();
}

/// `log changed --since SINCE`, run in the object tree.
fn changed_since(kernel: &Kernel, since: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["log", "changed", "--since", since];
    args.extend(extra);
    let out = kernel.t.run(&args).stdout_any().go();
    out.stdout_text().lines().map(str::to_string).collect()
}

/// `log changed --since SINCE` lists each patched object, and nothing that
/// make did not rewrite (the objects' mtimes are make's answer); of what
/// make rewrote, it leaves out at most the version objects.
fn changed_objects_match_make(
    kernel: &Kernel,
    since: &str,
    rebuilt: &BTreeSet<String>,
    patched: &[&str],
) {
    for object in patched {
        assert!(
            rebuilt.contains(*object),
            "make did not rebuild {object}: {rebuilt:?}"
        );
    }
    let listed = changed_since(kernel, since, &[]);
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed_set.len(), listed.len(), "listed twice: {listed:?}");
    for object in patched {
        assert!(
            listed_set.contains(*object),
            "{object} not listed: {listed:?}"
        );
    }
    let not_rebuilt: Vec<_> = listed_set.difference(rebuilt).collect();
    assert!(
        not_rebuilt.is_empty(),
        "listed, not rebuilt: {not_rebuilt:?}"
    );
    let left_out: Vec<_> = rebuilt
        .difference(&listed_set)
        .filter(|object| !REBUILT_EVERY_BUILD.contains(&object.as_str()))
        .collect();
    assert!(left_out.is_empty(), "rebuilt, not listed: {left_out:?}");
    let unexpected: Vec<_> = rebuilt
        .iter()
        .filter(|object| {
            !patched.contains(&object.as_str()) && !REBUILT_EVERY_BUILD.contains(&object.as_str())
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "make rebuilt more than the patch: {unexpected:?}"
    );
}

/// After the default exclusions, `log changed` is exactly the patched
/// objects (what a livepatch build takes as `changed_objs`); without them,
/// the objects every build recompiles are there too.
fn changed_leaves_out_version_objects(kernel: &Kernel, since: &str, patched: &[&str]) {
    let mut listed = changed_since(kernel, since, &[]);
    listed.sort();
    assert_eq!(listed, patched);
    let all = changed_since(kernel, since, &["--no-default-excludes"]);
    for object in REBUILT_EVERY_BUILD {
        assert!(
            all.iter().any(|line| line == object),
            "{object} not listed: {all:?}"
        );
    }
}

/// `--image vmlinux`: only objects linked into vmlinux.
fn changed_in_image(kernel: &Kernel, since: &str, expected: &[&str]) {
    let listed = changed_since(kernel, since, &["--image", "vmlinux"]);
    assert_eq!(listed, expected);
}

/// One item of `diff`'s report: `<object>: <change> <kind> `<name>``.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DiffItem {
    object: String,
    change: String,
    kind: String,
    name: String,
}

fn parse_diff_line(line: &str) -> Option<DiffItem> {
    let (object, rest) = line.split_once(": ")?;
    let mut words = rest.splitn(3, ' ');
    let change = words.next()?;
    let kind = words.next()?;
    let name = words.next()?.strip_prefix('`')?.strip_suffix('`')?;
    Some(DiffItem {
        object: object.to_string(),
        change: change.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
    })
}

/// `diff --build ID` against what build `base` left: the changed functions
/// are exactly `expected` (object, function), nothing is added or removed,
/// and data changes only in the objects rebuilt every build (the version
/// strings). Objects it refuses (not split: `init/` opts out) go to stderr
/// with exit 2, which is not judged here.
fn diff_build_names_exactly(kernel: &Kernel, id: &str, expected: &[(&str, &str)]) {
    let out = kernel
        .t
        .run(&["diff", "--build", id])
        .failure()
        .stdout_any()
        .stderr_any()
        .go();
    let stdout = out.stdout_text();
    let items: Vec<DiffItem> = stdout
        .lines()
        .map(|line| parse_diff_line(line).unwrap_or_else(|| panic!("not a diff item: {line}")))
        .collect();
    let mut functions: Vec<(&str, &str, &str)> = items
        .iter()
        .filter(|item| item.kind == "function")
        .map(|item| {
            (
                item.object.as_str(),
                item.change.as_str(),
                item.name.as_str(),
            )
        })
        .collect();
    let mut wanted: Vec<(&str, &str, &str)> = expected
        .iter()
        .map(|(object, name)| (*object, "changed", *name))
        .collect();
    functions.sort();
    wanted.sort();
    assert_eq!(functions, wanted, "functions; the whole report:\n{stdout}");
    let other: Vec<&DiffItem> = items
        .iter()
        .filter(|item| {
            item.kind != "function"
                && !(item.change == "changed"
                    && item.kind == "data"
                    && REBUILT_EVERY_BUILD.contains(&item.object.as_str()))
        })
        .collect();
    assert!(other.is_empty(), "{other:#?}\nthe whole report:\n{stdout}");
}
