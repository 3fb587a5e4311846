//! The subcommands: `config`, `init`, `log show`, `--version`,
//! `completions`, `man`.

use crate::common::*;

/// `secwrap config` for the LIVEPATCH tree: file, Kconfig and the flags.
#[test]
fn config_shows_file_kconfig_and_flags() {
    let t = TestEnv::livepatch();
    let out = t.run(&["config"]).stdout_any().go();
    let stdout = out.stdout_text();
    let line = |label: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"))
            .to_string()
    };
    assert!(
        line("config file:").starts_with(&format!(
            "config file:  {}",
            t.path("secwrap.toml").display()
        )),
        "{stdout}"
    );
    assert!(
        line("kconfig:").starts_with(&format!("kconfig:      {}", t.path(".config").display())),
        "{stdout}"
    );
    assert_eq!(
        line("compile jobs get:"),
        "compile jobs get:  -ffunction-sections -fdata-sections"
    );
}

/// Without `CONFIG_LIVEPATCH`: no flags.
#[test]
fn config_shows_none_without_livepatch() {
    let t = TestEnv::new().kconfig(NO_LIVEPATCH).config(KCONFIG_TOML);
    let out = t.run(&["config"]).stdout_any().go();
    let stdout = out.stdout_text();
    assert!(
        stdout.lines().any(|line| line == "compile jobs get:  none"),
        "{stdout}"
    );
}

compiler_tests! {
    /// `secwrap init --kconfig .config` writes a config that then splits.
    fn init_writes_working_config(cc) {
        let t = TestEnv::new().file("a.c", A_C).kconfig(LIVEPATCH);
        let out = t.run(&["init", "--kconfig", ".config"]).stdout_any().go();
        // `wrote <path> (...)`; the path compared component-wise.
        let stdout = out.stdout_text();
        let written = stdout
            .strip_prefix("wrote ")
            .and_then(|rest| rest.split(" (").next())
            .unwrap_or_else(|| panic!("{stdout}"));
        assert_eq!(std::path::Path::new(written), t.path("secwrap.toml"), "{stdout}");
        assert!(t.exists("secwrap.toml"));
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
    }
}

compiler_tests! {
    /// `secwrap init --always`, in a tree with no Kconfig at all: every
    /// compile is split and recorded.
    fn init_always_splits_without_kconfig(cc) {
        let t = TestEnv::new().file("a.c", A_C).env_remove("SECWRAP_LOG");
        t.run(&["init", "--always"])
            .stdout(format!(
                "wrote {} (rule `always-split`: every compile gets -ffunction-sections -fdata-sections)\n",
                t.path("secwrap.toml").display()
            ))
            .go();
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.assert_split("a.o");
        let records = records_at(&t.path("secwrap.jsonl"));
        assert_eq!(records.len(), 1);
        assert_injected_split(&records[0]);
        // One of the two is needed, and they do not go together.
        t.run(&["init", "--force"]).status(2).stderr_contains("--kconfig").go();
        t.run(&["init", "--always", "--kconfig", ".config", "--force"])
            .status(2)
            .stderr_contains("cannot be used with")
            .go();
    }
}

/// `init` does not replace an existing secwrap.toml without `--force`.
#[test]
fn init_refuses_to_overwrite_without_force() {
    let mine = "# mine\nkconfig = \".config\"\n";
    let t = TestEnv::new().kconfig(LIVEPATCH).config(mine);
    let out = t
        .run(&["init", "--kconfig", ".config"])
        .status(secwrap::exit::EXIT_ERROR)
        .stderr_contains("--force")
        .go();
    let stderr = out.stderr_text();
    // `secwrap: error: <path> already exists ...`; the path compared
    // component-wise.
    let named = stderr
        .strip_prefix("secwrap: error: ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(
        std::path::Path::new(named),
        t.path("secwrap.toml"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(t.read_text("secwrap.toml"), mine);

    t.run(&["init", "--kconfig", ".config", "--force"])
        .stdout_contains("wrote ")
        .go();
    let written = t.read_text("secwrap.toml");
    assert_ne!(written, mine);
    assert!(written.contains("kconfig = \".config\""), "{written}");
}

#[test]
fn version() {
    TestEnv::new()
        .run(&["--version"])
        .stdout(format!("secwrap {}\n", env!("CARGO_PKG_VERSION")))
        .go();
}

compiler_tests! {
    /// `secwrap log show`: one line per record, then the counts.
    fn log_show_counts(cc) {
        let t = TestEnv::livepatch().file("bad.c", "int f(void) { return }\n");
        t.run(&[cc, "-c", "a.c", "-o", "a.o"]).go();
        t.run(&[cc, "-E", "a.c"]).stdout_contains("int get(void)").go();
        t.run(&[cc, "-c", "bad.c", "-o", "bad.o"])
            .status(1)
            .stderr_contains("error")
            .go();
        let out = t.run(&["log", "show"]).stdout_any().go();
        let stdout = out.stdout_text();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{stdout}");
        assert_eq!(
            lines[3],
            "3 records (2 compile, 1 preprocess_only); flags injected into 2; 1 failed"
        );
        assert!(lines[0].contains(t.path("a.o").to_str().unwrap()), "{stdout}");
        assert!(lines[2].contains("exit 1"), "{stdout}");
    }
}

/// The subcommands `--help` lists, which completions must offer.
const VISIBLE_SUBCOMMANDS: [&str; 14] = [
    "init",
    "config",
    "probe",
    "run",
    "shims",
    "cache",
    "diff",
    "check",
    "stats",
    "log",
    "doctor",
    "trust",
    "completions",
    "install-support",
];

/// `secwrap completions bash` is a script bash parses, offering every subcommand.
#[test]
fn completions_bash_parses_and_names_every_subcommand() {
    if !require_program("bash") {
        return;
    }
    let t = TestEnv::new();
    let script = t
        .run(&["completions", "bash"])
        .stdout_any()
        .go()
        .stdout_text();
    t.write("secwrap.bash", &script);
    t.run_program("bash", &["-n".as_ref(), t.path("secwrap.bash").as_os_str()])
        .go();
    assert!(script.contains("complete "), "{script}");
    for name in VISIBLE_SUBCOMMANDS {
        assert!(
            script
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .any(|word| word == name),
            "bash completion does not offer `{name}`:\n{script}"
        );
    }
}

/// zsh and fish scripts: written, and offering `log`.
#[test]
fn completions_zsh_and_fish_offer_log() {
    let t = TestEnv::new();
    for shell in ["zsh", "fish"] {
        let script = t
            .run(&["completions", shell])
            .stdout_any()
            .go()
            .stdout_text();
        assert!(!script.is_empty(), "{shell}");
        assert!(script.contains("log"), "{shell}:\n{script}");
    }
    // clap's own message for a shell it does not know, status 2.
    t.run(&["completions", "tcsh"])
        .status(2)
        .stderr_contains("invalid value 'tcsh'")
        .go();
}

/// `secwrap man` is a roff page titled SECWRAP that man (or groff) renders.
#[test]
fn man_page_renders() {
    let t = TestEnv::new();
    let page = t.run(&["man"]).stdout_any().go().stdout_text();
    let th = page
        .lines()
        .find(|line| line.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH line:\n{page}"));
    assert!(th.starts_with(".TH SECWRAP 1 "), "{th}");
    // Only the string definitions clap_mangen starts with come before .TH.
    assert!(
        page.lines()
            .take_while(|line| !line.starts_with(".TH "))
            .all(|line| line.starts_with(".ie ") || line.starts_with(".el ")),
        "{page}"
    );
    let rendered = if which::which("man").is_ok() {
        t.run_program("man", &["-l", "-"])
    } else if which::which("groff").is_ok() {
        t.run_program("groff", &["-man", "-Tutf8"])
    } else {
        // Neither: a panic under CI, a skip line otherwise.
        require_program("man");
        return;
    }
    .stdin(page.as_bytes())
    .stdout_any()
    .go()
    .stdout_text();
    assert!(rendered.contains("doctor"), "{rendered}");
    assert!(rendered.contains("SUBCOMMANDS"), "{rendered}");
}

/// Three builds through `secwrap run` (`one`, `two`, `three`), one real
/// compile each, and a compile outside any build (build `-`, first of all).
fn three_builds() -> Option<TestEnv> {
    if !require_compiler("gcc") {
        return None;
    }
    let t = TestEnv::livepatch();
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    for id in ["one", "two", "three"] {
        t.run(&[
            "run",
            "--build-id",
            id,
            "--",
            SECWRAP,
            "gcc",
            "-c",
            "a.c",
            "-o",
            "a.o",
        ])
        .stderr_contains(&format!("secwrap: build {id}: "))
        .go();
    }
    Some(t)
}

fn build_ids(t: &TestEnv) -> Vec<String> {
    t.records()
        .iter()
        .map(|record| record.build.clone().unwrap_or_else(|| "-".into()))
        .collect()
}

/// `log prune --keep-builds N`: the N latest builds' records stay, byte for
/// byte; `--dry-run` says the same and changes nothing; a damaged line goes.
#[test]
fn log_prune_keeps_the_latest_builds() {
    let Some(t) = three_builds() else { return };
    let log = t.path("log.jsonl");
    let before = t.read("log.jsonl");
    t.run(&["log", "prune", "--keep-builds", "2", "--dry-run"])
        .stdout(format!(
            "would keep 2 builds (2 records) and remove 2 builds (2 records) from {}: -, one\n",
            log.display()
        ))
        .go();
    assert_eq!(t.read("log.jsonl"), before);

    let mut damaged = before.clone();
    damaged.extend_from_slice(b"{\"version\":1,\"torn\n");
    t.write("log.jsonl", &damaged);
    t.run(&["log", "prune", "--keep-builds", "2"])
        .stdout(format!(
            "kept 2 builds (2 records) and removed 2 builds (2 records) and 1 bad line from {}: -, one\n",
            log.display()
        ))
        .go();
    assert_eq!(build_ids(&t), ["two", "three"]);
    let kept: Vec<&[u8]> = before.split(|&b| b == b'\n').skip(2).collect();
    assert_eq!(t.read("log.jsonl"), kept.join(&b'\n'));
    let leftovers: Vec<_> = std::fs::read_dir(t.root())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    t.run(&["log", "prune", "--keep-builds", "5"])
        .stdout(format!(
            "kept 2 builds (2 records) of {}: nothing to remove\n",
            log.display()
        ))
        .go();
    // The next compile appends to the rewritten log.
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    assert_eq!(build_ids(&t), ["two", "three", "-"]);
}

/// `log clear`: every record removed, the file kept (same inode and mode),
/// the count plural-correct; a cleared log reads as empty.
#[test]
fn log_clear_empties_the_log_in_place() {
    use std::os::unix::fs::MetadataExt;
    let Some(t) = three_builds() else { return };
    let log = t.path("log.jsonl");
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let inode = std::fs::metadata(&log).unwrap().ino();
    t.run(&["log", "clear"])
        .stdout(format!("removed 4 records from {}\n", log.display()))
        .go();
    let metadata = std::fs::metadata(&log).unwrap();
    assert_eq!(
        (metadata.ino(), metadata.len(), metadata.mode() & 0o7777),
        (inode, 0, 0o640)
    );
    t.run(&["log", "clear"])
        .stdout(format!("removed 0 records from {}\n", log.display()))
        .go();
    t.run(&["gcc", "-c", "a.c", "-o", "a.o"]).go();
    t.run(&["log", "clear"])
        .stdout(format!("removed 1 record from {}\n", log.display()))
        .go();
}

/// Both refuse a log the writers would refuse (here a symlink, which is
/// not followed) and a missing one, in one line, touching nothing.
#[test]
fn log_clear_and_prune_refuse_what_writers_refuse() {
    let t = TestEnv::new().file("real.jsonl", OLD_RECORD);
    symlink(t.path("real.jsonl"), t.path("log.jsonl"));
    let log = t.path("log.jsonl");
    for args in [
        &["log", "clear"][..],
        &["log", "prune", "--keep-builds", "0"],
    ] {
        t.run(args)
            .status(2)
            .stderr(format!(
                "secwrap: error: {}: it is a symlink\n",
                log.display()
            ))
            .go();
    }
    assert_eq!(t.read_text("real.jsonl"), OLD_RECORD);
    std::fs::remove_file(&log).unwrap();
    t.run(&["log", "clear"])
        .status(2)
        .stderr(format!(
            "secwrap: error: {}: No such file or directory\n",
            log.display()
        ))
        .go();
    assert!(!log.exists());
}

/// Pruning while `make -j`-style appends go on loses none of them: a
/// shell loop of real compiles in build `new` runs while the test prunes
/// to the latest build again and again; every compile's record is there.
#[test]
fn log_prune_loses_no_concurrent_append() {
    let Some(t) = three_builds() else { return };
    const COMPILES: usize = 30;
    let script = format!(
        "i=0; while [ $i -lt {COMPILES} ]; do \"$0\" gcc -c a.c -o a$i.o || exit 1; i=$((i+1)); done; : > appended"
    );
    let appender = t
        .run_program("sh", &["-c", &script, SECWRAP])
        .spawn_with(|command| {
            command.env("SECWRAP_BUILD_ID", "new");
        });
    let mut prunes = 0;
    while !t.exists("appended") {
        t.run(&["log", "prune", "--keep-builds", "1"])
            .stdout_contains("kept 1 build")
            .go();
        prunes += 1;
    }
    appender.wait();
    t.run(&["log", "prune", "--keep-builds", "1"])
        .stdout_contains("kept 1 build")
        .go();
    let records = t.records();
    assert_eq!(
        records.len(),
        COMPILES,
        "after {prunes} prunes: {:?}",
        build_ids(&t)
    );
    assert!(records.iter().all(|r| r.build.as_deref() == Some("new")));
    let mut outputs: Vec<String> = records
        .iter()
        .map(|record| some_text(&record.output).to_string())
        .collect();
    outputs.sort();
    outputs.dedup();
    assert_eq!(outputs.len(), COMPILES);
    assert!(prunes > 1, "no prune overlapped the appends");
}

/// `secwrap` hands its subcommands to `secwrap-cli` beside it; a `secwrap`
/// copied alone still compiles (and records), and a subcommand says what
/// is missing and where, with the shell's status for a missing program.
#[test]
fn a_secwrap_without_secwrap_cli_compiles_and_names_what_is_missing() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::livepatch().file("a.c", "int f(void) { return 1; }\n");
    let lone = t.path("lone/secwrap");
    std::fs::create_dir_all(lone.parent().unwrap()).unwrap();
    std::fs::copy(SECWRAP, &lone).unwrap();
    t.run_program(&lone, &["gcc", "-c", "a.c", "-o", "a.o"])
        .go();
    assert!(t.sections("a.o").contains(&".text.f".to_string()));
    assert_eq!(t.records().len(), 1);
    t.run_program(&lone, &["log", "show"])
        .status(127)
        .stderr(format!(
            "secwrap: error: the subcommands are in `secwrap-cli`, installed beside secwrap, and `{}` cannot be run: No such file or directory (`cargo install --path .` installs both)\n",
            t.path("lone/secwrap-cli").display()
        ))
        .go();
    // Beside it, the same call works, with secwrap's own name in its output.
    std::fs::copy(SECWRAP_CLI, t.path("lone/secwrap-cli")).unwrap();
    t.run_program(&lone, &["log", "show"])
        .stdout_contains("1 record (1 compile)")
        .go();
    t.run_program(&lone, &["--version"])
        .stdout(format!("secwrap {}\n", env!("CARGO_PKG_VERSION")))
        .go();
}

/// build.rs links `secwrap` with src/hot-path.ld when the linker takes
/// it (GNU ld does, so CI's must): the stages of a call then lie in one
/// output section after `.text`; a list gone stale leaves them out.
#[test]
fn the_shim_stages_are_laid_out_together() {
    use object::{Object, ObjectSection, ObjectSymbol};
    let bytes = std::fs::read(SECWRAP).unwrap();
    let binary = object::File::parse(&*bytes).unwrap();
    let hot_path = binary.section_by_name(".text.hot_path");
    if env!("SECWRAP_HOT_PATH_LAYOUT") == "default" {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI's linker must take src/hot-path.ld"
        );
        assert!(hot_path.is_none());
        return;
    }
    let hot_path = hot_path.expect("no .text.hot_path section");
    let text = binary.section_by_name(".text").unwrap();
    assert!(hot_path.address() > text.address());
    // Functions of each stage that LTO does not inline, as mangled names hold them.
    for stage in [
        "7secwrap5start",
        "7secwrap4shim9run_since",
        "7secwrap4plan4plan",
        "7secwrap6config6Config4load",
        "7secwrap10invocation10Invocation12from_process",
    ] {
        let in_hot_path = binary.symbols().any(|symbol| {
            symbol.name().is_ok_and(|name| name.contains(stage))
                && symbol.section_index() == Some(hot_path.index())
        });
        assert!(in_hot_path, "{stage} is not in .text.hot_path");
    }
}

/// The shim's binary leaves the subcommands' code out (what every compile
/// maps is the shim's): clap's help and a subcommand's description are not
/// in it, while `secwrap-cli` has them.
#[test]
fn the_shim_binary_holds_no_subcommand_code() {
    let shim = std::fs::read(SECWRAP).unwrap();
    let cli = std::fs::read(SECWRAP_CLI).unwrap();
    let has =
        |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    for needle in ["Print help", "Ask the compiler which flags it accepts"] {
        assert!(has(&cli, needle), "secwrap-cli lacks {needle:?}");
        assert!(!has(&shim, needle), "secwrap holds {needle:?}");
    }
}
