//! `log changed` as livepatch tools consume it: the default excludes
//! (build-system probes, a version object every build recompiles),
//! `--no-default-excludes`, `--exclude`, `--image` against a real link,
//! `-0` and `--json` with a non-UTF-8 name, the left-out report on stderr
//! (a terminal, `--verbose`); and the probes counted apart by `log builds`,
//! `log show`, `secwrap run` and `log export`. Real make, real compilers,
//! through `secwrap run --build-id`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde_json::Value;

use crate::common::*;

/// A Xen-like tree in `xen/`: objects linked into `prog`, a 16-bit-boot-like
/// `boot/setup.o` compiled but not linked, Xen's `common/version.o` (the
/// build's time in it, rebuilt on every make run, linked), Xen's EFI
/// toolchain check and two Kbuild `cc-option` probes (one answered no) on
/// every run.
const XEN_LIKE_MAKEFILE: &str = "\
OBJS := kernel/signal.o lib/util.o common/version.o main.o

all: prog boot/setup.o arch/x86/efi/check.o probes

prog: $(OBJS)
\t$(CC) $(OBJS) -o prog

%.o: %.c
\t$(CC) -O2 -c $< -o $@

common/version.o: FORCE
\t$(CC) -O2 -DBUILD_TIME=\"\\\"$$(date +%s%N)\\\"\" -c common/version.c -o $@

arch/x86/efi/check.o: FORCE
\t$(CC) -O2 -c arch/x86/efi/check.c -o $@

probes: FORCE
\tmkdir -p .tmp_$$$$ && $(CC) -Werror -c -x c /dev/null -o .tmp_$$$$/tmp.o; rm -rf .tmp_$$$$
\t$(CC) -Werror -fno-such-flag-at-all -c -x c /dev/null -o /dev/null 2>/dev/null || true

FORCE:
.PHONY: all probes FORCE
";

fn xen_like_tree() -> TestEnv {
    TestEnv::livepatch()
        .file("xen/Makefile", XEN_LIKE_MAKEFILE)
        .file(
            "xen/kernel/signal.c",
            "int kill_pid(int pid, int sig) { return pid + sig; }\n",
        )
        .file(
            "xen/lib/util.c",
            "int util_table[4] = {1, 2, 3, 4};\nint util_sum(void) { return util_table[0] + util_table[3]; }\n",
        )
        .file(
            "xen/common/version.c",
            "const char xen_compile_time[] = BUILD_TIME;\nconst char *xen_build_time(void) { return xen_compile_time; }\n",
        )
        .file(
            "xen/main.c",
            "int kill_pid(int, int);\nint util_sum(void);\nconst char *xen_build_time(void);\n\
             int main(void) { return kill_pid(0, 0) + util_sum() + !xen_build_time(); }\n",
        )
        .file(
            "xen/boot/setup.c",
            "static int setup_cols = 80;\nint setup_puts(const char *s) { return s[0] + setup_cols; }\n",
        )
        .file(
            "xen/arch/x86/efi/check.c",
            "int __attribute__((ms_abi)) efi_abi_check(int x) { return x; }\n",
        )
        .cwd("xen")
}

/// `secwrap run --build-id ID -- make CC="secwrap CC" ARGS...`, with its
/// summary line (the only stderr line) checked against `summary`.
fn make(t: &TestEnv, cc: &str, id: &str, args: &[&str], summary: &str) {
    let cc_var = format!("CC={SECWRAP} {cc}");
    // The shim directory `secwrap run` refreshes, made first (quietly
    // current from then on), so that the summary is the only stderr line.
    t.run(&["shims"]).stdout_any().go();
    let mut command = vec!["run", "--build-id", id, "--", "make", cc_var.as_str()];
    command.extend(args);
    let out = t.run(&command).stdout_any().stderr_any().go();
    assert_eq!(
        out.stderr_text(),
        format!(
            "secwrap: build {id}: {summary}; log {}\n",
            t.path("log.jsonl").display()
        ),
        "{}",
        out.describe()
    );
}

/// The original build, then a patch to `kernel/signal.c`, rebuilt: make
/// recompiles it, `common/version.o` and the EFI check, and runs the probes.
fn build_and_patch(t: &TestEnv, cc: &str) {
    make(
        t,
        cc,
        "orig",
        &[],
        "9 invocations (5 compile, 1 link_only; 3 build-system probes), flags injected into 5, 0 failed, 1 of the probes failed, 8 flag probes by secwrap (1 run, 7 cached)",
    );
    t.write(
        "xen/kernel/signal.c",
        "int kill_pid(int pid, int sig) { return sig < 0 ? -22 : pid + sig; }\n",
    );
    // `-W`: signal.c counts as newer than its object whatever the clock's
    // granularity.
    make(
        t,
        cc,
        "patched",
        &["-W", "kernel/signal.c"],
        "6 invocations (2 compile, 1 link_only; 3 build-system probes), flags injected into 2, 0 failed, 1 of the probes failed, 5 flag probes by secwrap (0 run, 5 cached)",
    );
}

const VERSION_WHY: &str = "rebuilt by every build: Xen's `xen_compile_date`, `xen_compile_time` and friends from the regenerated `include/xen/compile.h` (root at `xen/`); livepatch-gcc skips it (--no-default-excludes keeps it)";
const PROBE_WHY: &str = "a build-system probe (--no-default-excludes keeps it)";

compiler_tests! {
    /// After a one-function patch: only the patched object by default; the
    /// version object and the EFI check with `--no-default-excludes`; the
    /// same with the root one level up (`xen/common/version.o`); `--verbose`
    /// names what it left out, and a terminal gets the count.
    fn default_excludes_after_a_patch(cc) {
        if !require_program("make") {
            return;
        }
        let t = xen_like_tree();
        build_and_patch(&t, cc);
        assert!(t.exists("xen/common/version.o") && t.exists("xen/arch/x86/efi/check.o"));

        // What livepatch-build would be given: the patch, nothing else.
        t.run(&["log", "changed"]).stdout("kernel/signal.o\n").go();
        t.run(&["log", "changed", "--since", "orig"])
            .stdout("kernel/signal.o\n")
            .go();
        t.run(&["log", "changed", "--no-default-excludes"])
            .stdout("arch/x86/efi/check.o\ncommon/version.o\nkernel/signal.o\n")
            .go();
        t.run(&["log", "changed", "--verbose"])
            .stdout("kernel/signal.o\n")
            .stderr(format!(
                "secwrap: left out arch/x86/efi/check.o: {PROBE_WHY}\n\
                 secwrap: left out common/version.o: {VERSION_WHY}\n\
                 secwrap: left out 2 of 3 objects (1 build-system probe, 1 rebuilt by every build)\n"
            ))
            .go();
        t.run(&["log", "changed", "--no-default-excludes", "-v"])
            .stdout("arch/x86/efi/check.o\ncommon/version.o\nkernel/signal.o\n")
            .stderr("secwrap: left out 0 of 3 objects\n")
            .go();

        // Root at the top of the Xen repository: `xen/common/version.o`.
        t.run(&["log", "changed", "--root", ".."])
            .stdout("xen/kernel/signal.o\n")
            .go();
        t.run(&["log", "changed", "--root", "..", "--no-default-excludes"])
            .stdout("xen/arch/x86/efi/check.o\nxen/common/version.o\nxen/kernel/signal.o\n")
            .go();

        // stderr a terminal (through script(1)'s pty): the count and a hint,
        // stdout unchanged.
        if require_program("script") {
            let command = format!("{SECWRAP} log changed");
            let out = t
                .run_program("script", &["-qec", command.as_str(), "/dev/null"])
                .stdout_any()
                .go();
            assert_eq!(
                out.stdout_text().replace("\r\n", "\n"),
                "kernel/signal.o\n\
                 secwrap: left out 2 of 3 objects (1 build-system probe, 1 rebuilt by every build); --verbose names them\n",
            );
        }
    }

    /// `--exclude`: globs on the printed path (`*` within a directory, `**`
    /// across), repeatable, the first match named; a bad glob is an error.
    fn exclude_globs(cc) {
        if !require_program("make") {
            return;
        }
        let t = xen_like_tree();
        make(
            &t,
            cc,
            "orig",
            &[],
            "9 invocations (5 compile, 1 link_only; 3 build-system probes), flags injected into 5, 0 failed, 1 of the probes failed, 8 flag probes by secwrap (1 run, 7 cached)",
        );
        let changed = |extra: &[&str]| {
            let mut args = vec!["log", "changed"];
            args.extend(extra);
            args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>()
        };
        t.run(&changed(&[]))
            .stdout("boot/setup.o\nkernel/signal.o\nlib/util.o\nmain.o\n")
            .go();
        t.run(&changed(&["--exclude", "lib/*", "--exclude", "*.o"]))
            .stdout("boot/setup.o\nkernel/signal.o\n")
            .go();
        t.run(&changed(&["--exclude", "**/setup.o", "-v"]))
            .stdout("kernel/signal.o\nlib/util.o\nmain.o\n")
            .stderr(format!(
                "secwrap: left out arch/x86/efi/check.o: {PROBE_WHY}\n\
                 secwrap: left out boot/setup.o: --exclude `**/setup.o`\n\
                 secwrap: left out common/version.o: {VERSION_WHY}\n\
                 secwrap: left out 3 of 6 objects (1 build-system probe, 1 rebuilt by every build, 1 by --exclude)\n"
            ))
            .go();
        // The default excludes go, the user's stay.
        t.run(&changed(&["--no-default-excludes", "--exclude", "{boot,lib}/**"]))
            .stdout("arch/x86/efi/check.o\ncommon/version.o\nkernel/signal.o\nmain.o\n")
            .go();
        let out = t
            .run(&changed(&["--exclude", "lib/[a-"]))
            .status(2)
            .stderr_contains("secwrap: error: bad --exclude glob `lib/[a-`: ")
            .go();
        assert_eq!(out.stderr_text().lines().count(), 1, "{}", out.describe());
    }

    /// `--image`: the objects whose functions or data are in the linked
    /// program; `boot/setup.o` and the EFI check are not linked. A
    /// stripped image and a missing object are errors naming the file.
    fn image_keeps_linked_objects(cc) {
        if !require_program("make") || !require_program("strip") {
            return;
        }
        let t = xen_like_tree();
        build_and_patch(&t, cc);
        t.run(&["log", "changed", "--no-default-excludes"])
            .stdout("arch/x86/efi/check.o\ncommon/version.o\nkernel/signal.o\n")
            .go();
        t.run(&["log", "changed", "--no-default-excludes", "--image", "prog", "-v"])
            .stdout("common/version.o\nkernel/signal.o\n")
            .stderr(format!(
                "secwrap: left out arch/x86/efi/check.o: none of its functions or data is in `{}`\n\
                 secwrap: left out 1 of 3 objects (1 not in the image)\n",
                t.path("xen/prog").display()
            ))
            .go();

        // A build of the boot object and an object nothing links.
        t.write("xen/extra.c", "int extra_unused(void) { return 5; }\n");
        make(
            &t,
            cc,
            "again",
            &["-B", "boot/setup.o", "kernel/signal.o", "extra.o"],
            "3 invocations (3 compile), flags injected into 3, 0 failed, 3 flag probes by secwrap (0 run, 3 cached)",
        );
        t.run(&["log", "changed", "--image", "prog"])
            .stdout("kernel/signal.o\n")
            .go();
        t.run(&["log", "changed", "--image", "prog", "--verbose"])
            .stdout("kernel/signal.o\n")
            .stderr(format!(
                "secwrap: left out boot/setup.o: none of its functions or data is in `{prog}`\n\
                 secwrap: left out extra.o: none of its functions or data is in `{prog}`\n\
                 secwrap: left out 2 of 3 objects (2 not in the image)\n",
                prog = t.path("xen/prog").display()
            ))
            .go();
        // In any of several images: `setup` linked into a second program.
        t.run_program(real(cc), &["boot/setup.o", "-nostartfiles", "-e", "setup_puts", "-o", "setup.elf"])
            .go();
        t.run(&["log", "changed", "--image", "prog", "--image", "setup.elf"])
            .stdout("boot/setup.o\nkernel/signal.o\n")
            .go();

        // A stripped image has nothing to look names up in.
        t.run_program("strip", &["-o", "prog.stripped", "prog"]).go();
        let out = t
            .run(&["log", "changed", "--image", "prog.stripped"])
            .status(2)
            .stderr(format!(
                "secwrap: error: `{}` has no symbol table (stripped?): pass the image as linked, before `strip` (vmlinux, xen-syms)\n",
                t.path("xen/prog.stripped").display()
            ))
            .go();
        assert_eq!(out.stdout, b"");
        // An object gone since its build cannot be judged.
        std::fs::remove_file(t.path("xen/extra.o")).expect("rm extra.o");
        t.run(&["log", "changed", "--image", "prog"])
            .status(2)
            .stderr(format!(
                "secwrap: error: --image reads every object it judges: cannot read `{}`: No such file or directory\n",
                t.path("xen/extra.o").display()
            ))
            .go();
    }
}

compiler_tests! {
    /// `log builds`, `log show` and `log export` count and leave out the
    /// probes: the EFI check and the `cc-option` runs are not the tree's.
    fn probes_counted_apart(cc) {
        if !require_program("make") {
            return;
        }
        let t = xen_like_tree();
        build_and_patch(&t, cc);
        let records = t.records();
        let out = t.run(&["log", "builds"]).stdout_any().go();
        let time = |id: &str, last: bool| {
            let mut times = records
                .iter()
                .filter(|record| record.build.as_deref() == Some(id))
                .map(|record| record.time.clone());
            if last { times.next_back() } else { times.next() }.expect("a record")
        };
        assert_eq!(
            out.stdout_text(),
            format!(
                "orig  {} .. {}  9 invocations (5 compile, 1 link_only; 3 build-system probes), flags injected into 5, 0 failed, 1 of the probes failed\n\
                 patched  {} .. {}  6 invocations (2 compile, 1 link_only; 3 build-system probes), flags injected into 2, 0 failed, 1 of the probes failed\n",
                time("orig", false),
                time("orig", true),
                time("patched", false),
                time("patched", true),
            )
        );

        let out = t.run(&["log", "show"]).stdout_any().go();
        let text = out.stdout_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), records.len() + 1, "{text}");
        let marked: Vec<bool> = lines[..records.len()]
            .iter()
            .map(|line| line.ends_with("  (build-system probe)"))
            .collect();
        let probes: Vec<bool> = records
            .iter()
            .map(|record| {
                record.build_system_probe
                    && (texts(&record.inputs) == ["/dev/null"]
                        || some_text(&record.output).ends_with("arch/x86/efi/check.o"))
            })
            .collect();
        assert_eq!(marked, probes, "{text}");
        assert_eq!(probes.iter().filter(|probe| **probe).count(), 6);
        assert_eq!(
            lines[records.len()],
            "15 records (7 compile, 2 link_only; 6 build-system probes); flags injected into 7; 0 failed; 2 of the probes failed"
        );

        // Export: the five sources of the tree; the EFI check only when
        // asked (the `/dev/null` probes have no source, so no entry).
        t.run(&["log", "export", "--format", "compile-commands", "--build", "orig"])
            .stdout(format!(
                "wrote 5 entries to {}; left out 1 build-system probe (--include-probes keeps it)\n",
                t.path("xen/compile_commands.json").display()
            ))
            .go();
        let files = |name: &str| -> Vec<String> {
            let entries: Vec<Value> =
                serde_json::from_str(&t.read_text(format!("xen/{name}"))).expect("JSON");
            let mut files: Vec<String> = entries
                .iter()
                .map(|entry| {
                    let file = entry["file"].as_str().expect("file");
                    file.strip_prefix(&format!("{}/", t.path("xen").display()))
                        .unwrap_or(file)
                        .to_string()
                })
                .collect();
            files.sort();
            files
        };
        assert_eq!(
            files("compile_commands.json"),
            ["boot/setup.c", "common/version.c", "kernel/signal.c", "lib/util.c", "main.c"]
        );
        t.run(&[
            "log", "export", "--format", "compile-commands", "--build", "orig",
            "--include-probes", "-o", "all.json",
        ])
        .stdout(format!("wrote 6 entries to {}\n", t.path("xen/all.json").display()))
        .go();
        assert_eq!(
            files("all.json"),
            [
                "arch/x86/efi/check.c",
                "boot/setup.c",
                "common/version.c",
                "kernel/signal.c",
                "lib/util.c",
                "main.c"
            ]
        );
    }

    /// `-0` and `--json`: a name that is not UTF-8 comes out byte for byte,
    /// and as the record's `{"bytes": ...}` in JSON.
    fn null_and_json_output(cc) {
        let t = TestEnv::livepatch();
        let source = OsStr::from_bytes(b"caf\xe9.c");
        let object = OsStr::from_bytes(b"caf\xe9.o");
        std::fs::write(t.path(source), B_C).expect("write");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        let args: Vec<&OsStr> =
            vec![OsStr::new(cc), OsStr::new("-c"), source, OsStr::new("-o"), object];
        t.run(&args).go();
        // A version object of the unnamed build, left out in every format.
        t.write("init/version.c", "const char linux_banner[] = \"Linux\";\n");
        t.run(&[cc, "-c", "init/version.c", "-o", "init/version.o"]).go();
        t.run(&["log", "changed"]).stdout(b"a.o\ncaf\xe9.o\n").go();
        t.run(&["log", "changed", "-0"]).stdout(b"a.o\0caf\xe9.o\0").go();
        t.run(&["log", "changed", "--null", "--no-default-excludes"])
            .stdout(b"a.o\0caf\xe9.o\0init/version.o\0")
            .go();
        // base64 of `caf\xe9.o`, as Python's base64.b64encode gives it.
        t.run(&["log", "changed", "--json"])
            .stdout("[\"a.o\",{\"bytes\":\"Y2Fm6S5v\"}]\n")
            .go();
        let out = t.run(&["log", "changed", "--json", "--root", "/"]).stdout_any().go();
        let paths: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(paths[0], t.path("a.o").to_str().unwrap().trim_start_matches('/'));
        // No object: an empty list, in each format.
        let t = t.env("SECWRAP_BUILD_ID", "empty");
        t.run(&[cc, "-E", "a.c", "-o", "a.i"]).go();
        t.run(&["log", "changed", "--json"]).stdout("[]\n").go();
        t.run(&["log", "changed", "-0"]).go();
        t.run(&["log", "changed", "-0", "--json"])
            .status(2)
            .stderr_contains("secwrap: error: the argument '--null' cannot be used with '--json'")
            .go();
    }
}
