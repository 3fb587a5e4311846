//! The invocation record: its fields, where the log goes, non-UTF-8
//! paths, concurrent appends, and reading a damaged log back.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine;
use secwrap::classify::Classification;
use secwrap::inject::SkipReason;
use secwrap::record::Term;
use serde_json::Value;

use crate::common::*;

compiler_tests! {
    /// Every field, with its type and value.
    fn fields_present_with_right_types(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-c", "-ffunction-sections", "a.c", "-o", "a.o"]).go();
        let record = t.only_record();
        let root = t.root().to_str().unwrap();
        let compiler = real(cc);

        assert_eq!(record.version, 1);
        assert_eq!(record.secwrap, env!("CARGO_PKG_VERSION"));
        let time = &record.time;
        humantime::parse_rfc3339(time).unwrap_or_else(|error| panic!("time {time}: {error}"));
        assert!(record.pid > 0 && record.pid != std::process::id());
        assert_eq!(record.build, None);
        assert_eq!(text(&record.cwd), root);
        assert_eq!(text(&record.compiler), compiler.to_str().unwrap());
        assert_eq!(record.launcher, None);
        assert_eq!(
            texts(&record.argv),
            [SECWRAP, cc, "-c", "-ffunction-sections", "a.c", "-o", "a.o"]
        );
        assert_eq!(
            texts(&record.exec),
            [
                compiler.to_str().unwrap(),
                "-c",
                "-ffunction-sections",
                "a.c",
                "-o",
                "a.o",
                "-fdata-sections"
            ]
        );
        assert_eq!(record.kind, Term::Known(Classification::Compile));
        assert_eq!(texts(&record.injected), ["-fdata-sections"]);
        assert_eq!(skipped(&record), [("-ffunction-sections", SkipReason::Present)]);
        assert_eq!(texts(&record.inputs), [format!("{root}/a.c")]);
        assert_eq!(some_text(&record.output), format!("{root}/a.o"));
        assert!(record.outputs.is_empty() && record.originals.is_empty());
        assert!(!record.lto);
        // The flag left to add, asked about once (probed or cached).
        assert_eq!(record.probes.len(), 1, "{record:#?}");
        let probe = &record.probes[0];
        assert_eq!(texts(&probe.flags), ["-fdata-sections"]);
        assert!(probe.supported, "{probe:?}");
        assert_eq!(record.config.len(), 16, "a 64-bit fingerprint in hex: {record:#?}");
        assert_eq!((record.status, record.signal), (Some(0), None));
        assert!(record.duration_ms >= 0.0);
        assert!(record.warnings.is_empty() && !record.build_system_probe);
        // Spelled as the README says: the vocabulary words, and no field
        // an absent value would only clutter.
        let raw = &t.raw_records()[0];
        assert_eq!(raw["kind"], "compile");
        assert_eq!(
            raw["skipped"],
            serde_json::json!([{"flag": "-ffunction-sections", "reason": "present"}])
        );
        assert_eq!(raw["probes"][0]["mode"], "option");
        for absent in ["build", "launcher", "outputs", "originals", "warnings", "build_system_probe"] {
            assert!(raw.get(absent).is_none(), "`{absent}` in {raw:#}");
        }
    }

    /// A failed compile is recorded with its status.
    fn failed_compile_recorded(cc) {
        let t = TestEnv::livepatch().file("bad.c", "int f(void) { return }\n");
        t.run(&[cc, "-c", "bad.c", "-o", "bad.o"])
            .status(1)
            .stderr_contains("error")
            .go();
        let record = t.only_record();
        assert_eq!((record.status, record.signal), (Some(1), None));
        assert_eq!(record.kind, Term::Known(Classification::Compile));
        assert_injected_split(&record);
    }

    /// `[log] path` is relative to the toml; `SECWRAP_LOG` (relative to the
    /// working directory) overrides it.
    fn log_path_from_config_and_env_override(cc) {
        let t = TestEnv::new()
            .kconfig(LIVEPATCH)
            .config("kconfig = \".config\"\n[log]\npath = \"logs/build.jsonl\"\n")
            .file("sub/a.c", A_C)
            .cwd("sub")
            .env_remove("SECWRAP_LOG");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("sub/a.o");
        let configured = t.path("logs/build.jsonl");
        assert_eq!(records_at(&configured).len(), 1);
        assert!(!t.exists("sub/logs"));

        let t = t.env("SECWRAP_LOG", "override.jsonl");
        t.run(&[cc, "-c", "a.c", "-o", "b.o"]).go();
        let overridden = records_at(&t.path("sub/override.jsonl"));
        assert_eq!(overridden.len(), 1);
        assert_eq!(some_text(&overridden[0].output), t.path("sub/b.o").to_str().unwrap());
        assert_eq!(records_at(&configured).len(), 1, "the config's log was written");
    }

    /// The log's directory is created.
    fn log_parent_directory_created(cc) {
        let t = TestEnv::livepatch().env("SECWRAP_LOG", "deep/er/log.jsonl");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        assert_eq!(records_at(&t.path("deep/er/log.jsonl")).len(), 1);
    }

    /// A source named `caf\xe9.c`: compiled and split, its path recorded
    /// as base64 bytes.
    fn non_utf8_path(cc) {
        let t = TestEnv::livepatch();
        let source = OsStr::from_bytes(b"caf\xe9.c");
        let object = OsStr::from_bytes(b"caf\xe9.o");
        std::fs::write(t.path(source), A_C).unwrap();
        let args: Vec<&OsStr> = vec![
            OsStr::new(cc),
            OsStr::new("-c"),
            source,
            OsStr::new("-o"),
            object,
        ];
        t.run(&args).go();
        t.assert_split(object);
        let record = &t.raw_records()[0];
        let decode = |value: &Value| -> OsString {
            let encoded = value["bytes"]
                .as_str()
                .unwrap_or_else(|| panic!("not {{\"bytes\": ...}}: {value}"));
            OsString::from_vec(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("standard base64"),
            )
        };
        assert_eq!(decode(&record["inputs"][0]), t.path(source).into_os_string());
        assert_eq!(decode(&record["output"]), t.path(object).into_os_string());
        assert_eq!(decode(&record["argv"][3]), source);
        let typed = t.only_record();
        assert_eq!(typed.inputs[0].to_os_string().unwrap(), t.path(source).into_os_string());
        assert_eq!(typed.output.unwrap().to_os_string().unwrap(), t.path(object).into_os_string());
    }

    /// 64 secwraps appending at once: 64 whole records, one per object.
    fn parallel_appends(cc) {
        let t = TestEnv::livepatch();
        let mut children = Vec::new();
        for index in 0..64 {
            t.write(format!("p{index}.c"), format!("int v{index} = {index};\n"));
            let (source, object) = (format!("p{index}.c"), format!("p{index}.o"));
            children.push(
                t.run(&[cc, "-c", &source, "-o", &object])
                    .spawn_with(|command| {
                        command.stdout(Stdio::null());
                    }),
            );
        }
        for child in children {
            child.wait();
        }
        let text_log = t.read_text("log.jsonl");
        let lines: Vec<&str> = text_log.lines().collect();
        assert_eq!(lines.len(), 64);
        let mut outputs: Vec<String> = lines
            .iter()
            .map(|line| {
                let record: secwrap::record::InvocationRecord = serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("torn record ({error}): {line}"));
                some_text(&record.output).to_string()
            })
            .collect();
        outputs.sort();
        let mut expected: Vec<String> = (0..64)
            .map(|index| t.path(format!("p{index}.o")).to_str().unwrap().to_string())
            .collect();
        expected.sort();
        assert_eq!(outputs, expected);
    }

    /// `make -j8` with `CC="secwrap gcc"` over 40 files: 40 compile records.
    fn make_parallel_build(cc) {
        if !require_program("make") {
            return;
        }
        let t = TestEnv::livepatch().file(
            "Makefile",
            "SRCS := $(sort $(wildcard src/*.c))\n\
             OBJS := $(SRCS:.c=.o)\n\
             all: $(OBJS)\n\
             %.o: %.c\n\
             \t$(CC) -c $< -o $@\n",
        );
        for index in 0..40 {
            t.write(
                format!("src/f{index}.c"),
                format!("int d{index} = {index};\nint f{index}(void) {{ return d{index}; }}\n"),
            );
        }
        let cc_var = format!("CC={SECWRAP} {cc}");
        // make echoes each recipe on stdout; stderr stays empty.
        t.run_program("make", &["-j8", cc_var.as_str()])
            .stdout_contains(&format!("{SECWRAP} {cc} -c src/f0.c -o src/f0.o"))
            .go();
        let records = t.records();
        assert_eq!(records.len(), 40);
        assert!(records.iter().all(|record| record.kind.is(Classification::Compile)));
        assert!(records.iter().all(|record| record.status == Some(0)));
        for index in [0, 39] {
            let sections = t.sections(format!("src/f{index}.o"));
            assert!(
                sections.contains(&format!(".text.f{index}")),
                "{sections:?}"
            );
        }
    }
}

/// `secwrap log show` on a log whose last line is torn: the records, and a
/// warning naming that line.
#[test]
fn log_show_skips_torn_last_line() {
    let t = TestEnv::new();
    let mut log = OLD_RECORD.repeat(2);
    log.push_str("{\"version\":1,\"sec");
    t.write("log.jsonl", &log);
    let out = t
        .run(&["log", "show", "--log", "log.jsonl"])
        .stdout_any()
        .stderr_contains(&format!("{}:3: ", t.path("log.jsonl").display()))
        .go();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].contains("/w/old.o"), "{stdout}");
    assert!(lines[2].starts_with("2 records (2 compile)"), "{stdout}");
    let stderr = out.stderr_text();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("secwrap: warning: "), "{stderr}");
}

/// The default log files in the state directory's `logs/`.
fn default_logs(t: &TestEnv) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(t.path("xdg/state/secwrap/logs")) else {
        return Vec::new();
    };
    // The readers' index beside each log (`<log>.index`) is not a log.
    let mut logs: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_none_or(|extension| extension != "index")
        })
        .collect();
    logs.sort();
    logs
}

compiler_tests! {
    /// No log configured: each build tree records into its own default log
    /// under `$XDG_STATE_HOME/secwrap/logs/`, a private directory; `secwrap
    /// config` shows it and the readers use it. `SECWRAP_LOG=off` records
    /// nothing, silently, as asked.
    fn default_log_without_configuration(cc) {
        let t = TestEnv::new()
            .file("xen/a.c", A_C)
            .file("xen/.config", LIVEPATCH)
            .file("xen/secwrap.toml", KCONFIG_TOML)
            .file("other/b.c", A_C)
            .file("other/.config", LIVEPATCH)
            .env_remove("SECWRAP_LOG")
            .cwd("xen");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("xen/a.o");
        let logs = default_logs(&t);
        assert_eq!(logs.len(), 1, "{logs:?}");
        let name = logs[0].file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("xen-") && name.ends_with(".jsonl"), "{name}");
        let mode = std::fs::metadata(t.path("xdg/state/secwrap/logs")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(records_at(&logs[0]).len(), 1);
        t.run(&["config"])
            .stdout_contains(&format!(
                "log:          {} (default: this build tree's log in the state directory)\n",
                logs[0].display()
            ))
            .go();
        t.run(&["log", "changed"]).stdout("a.o\n").go();

        // Another tree, another log; `secwrap run` there records into it.
        let t = t.cwd("other");
        let plain = real(cc);
        let plain = plain.to_str().unwrap();
        t.run(&["run", "--build-id", "b1", "--", plain, "-c", "b.c", "-o", "b.o"])
            .stderr_contains("secwrap: build b1: no compiler invocations recorded; log ")
            .go();
        assert_eq!(default_logs(&t).len(), 1, "a plain compiler was run, not secwrap");
        t.run(&["run", "--build-id", "b2", "--", SECWRAP, cc, "-c", "b.c", "-o", "b.o"])
            .stderr_contains("secwrap: build b2: 1 invocation (")
            .go();
        assert_eq!(default_logs(&t).len(), 2);
        t.run(&["log", "changed"]).stdout("b.o\n").go();

        let t = t.env("SECWRAP_LOG", "off");
        t.run(&[cc, "-c", "b.c", "-o", "c.o"]).go();
        t.assert_split("other/c.o");
        assert_eq!(default_logs(&t).iter().map(|log| records_at(log).len()).sum::<usize>(), 2);
        t.run(&["config"]).stdout_contains("log:          off (SECWRAP_LOG=off)\n").go();
        t.run(&["log", "show"])
            .status(2)
            .stderr("secwrap: error: recording is off (SECWRAP_LOG=off)\n")
            .go();
    }
}

/// No log configured and no state directory for a default one (no HOME,
/// no XDG_STATE_HOME): the compile runs, and says it is not recorded.
#[test]
fn no_state_directory_for_the_default_log_is_said() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch()
        .env_remove("SECWRAP_LOG")
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME");
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"])
        .stderr("secwrap: warning: not recording: no state directory for the default log (HOME and XDG_STATE_HOME unset); set `[log] path` or SECWRAP_LOG, or SECWRAP_LOG=off\n")
        .go();
    t.assert_split("a.o");
    assert!(default_logs(&t).is_empty() && !t.exists("log.jsonl"));
}
