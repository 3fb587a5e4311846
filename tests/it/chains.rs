//! secwrap in front of the real launchers, end to end (issue 11): ccache,
//! sccache, distcc, ccache with distcc as its prefix, and icecream, each
//! with its daemon started by the test (`common::daemons`), a build of two
//! objects through `make -j2`, and three kinds of evidence: the objects are
//! split, every compile is recorded (the launcher, the flags, the status),
//! and the launcher's own account shows it did its part (cache hits in
//! its statistics, the flags in the argv the remote daemon logs). Then the
//! masquerade directories (`/usr/lib/ccache`, `/usr/lib/distcc`, icecc's
//! `bin`) in both orders with secwrap's: the right order works, the wrong
//! one stops (strict) or warns (passthrough), never silently wrong.

use std::path::{Path, PathBuf};

use secwrap::classify::Classification;
use secwrap::record::InvocationRecord;

use crate::common::*;

/// Two objects, each compiled with `$(CC)`; `clean` for the second build.
const MAKEFILE: &str = "all: a.o b.o\n%.o: %.c\n\t$(CC) -c $< -o $@\nclean:\n\trm -f a.o b.o\n";

/// The livepatch tree with `b.c` and the makefile.
fn tree() -> TestEnv {
    TestEnv::livepatch()
        .file("b.c", B_C)
        .file("Makefile", MAKEFILE)
}

/// `make clean`, then `secwrap run --build-id ID -- make -s -j2 CC_VAR`,
/// which must say nothing but its summary: two compiles, both injected.
fn build(t: &TestEnv, id: &str, cc_var: &str) {
    t.run_program("make", &["-s", "clean"]).go();
    t.run(&[
        "run",
        "--no-shims",
        "--build-id",
        id,
        "--",
        "make",
        "-s",
        "-j2",
        cc_var,
    ])
    .stderr_any()
    .go()
    .assert_stderr_without_flag_probes(&summary(t, id));
}

/// `secwrap run`'s line for a build of the two objects.
fn summary(t: &TestEnv, id: &str) -> String {
    summary_of(t, id, "2 invocations (2 compile), flags injected into 2")
}

/// `secwrap run`'s line for build `id`, which says `counts`.
fn summary_of(t: &TestEnv, id: &str, counts: &str) -> String {
    format!(
        "secwrap: build {id}: {counts}, 0 failed; log {}\n",
        t.path("log.jsonl").display()
    )
}

/// Both objects split: `a.o` has all of `A_C`'s sections, `b.o` its own.
#[track_caller]
fn assert_both_split(t: &TestEnv) {
    t.assert_split("a.o");
    let b = t.sections("b.o");
    for wanted in [".text.bget", ".data.bvar"] {
        assert!(
            b.iter().any(|name| name == wanted),
            "b.o lacks {wanted}: {b:?}"
        );
    }
}

/// The records of build `id`: exactly one compile of each object, exit
/// status 0, both flags injected, `launcher` the program named
/// `launcher`, no warning.
#[track_caller]
fn assert_recorded(t: &TestEnv, id: &str, launcher: &str) {
    let records = build_records(t, id);
    let mut outputs: Vec<String> = records
        .iter()
        .map(|record| {
            let output = Path::new(some_text(&record.output));
            output.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    outputs.sort();
    assert_eq!(outputs, ["a.o", "b.o"], "build {id}: {records:#?}");
    for record in &records {
        assert!(record.kind.is(Classification::Compile), "{record:#?}");
        assert_eq!(
            (record.status, record.signal),
            (Some(0), None),
            "{record:#?}"
        );
        assert_eq!(
            Path::new(some_text(&record.launcher)).file_name().unwrap(),
            launcher,
            "{record:#?}"
        );
        assert_injected_split(record);
        assert!(record.warnings.is_empty(), "{record:#?}");
    }
}

/// Asserts each of a daemon's logged command lines has both flags as
/// words (`sent`), or neither.
#[track_caller]
fn assert_flags(lines: &[String], sent: bool) {
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        for flag in SPLIT_FLAGS {
            assert_eq!(words.contains(&flag), sent, "{flag}: {lines:#?}");
        }
    }
}

/// Asserts distccd received `jobs` jobs, each with both flags, and
/// compiled them and sent them back.
#[track_caller]
fn assert_distccd_jobs(distccd: &Distccd, jobs: usize) {
    let arguments = distccd.job_arguments();
    assert_eq!(arguments.len(), jobs, "{:#?}", distccd.log_lines());
    assert_flags(&arguments, true);
    assert_eq!(distccd.jobs_ok(jobs), jobs, "{:#?}", distccd.log_lines());
}

compiler_tests! {
    /// `make CC="secwrap ccache gcc"` and `launcher = ["ccache"]`, each
    /// with a private `CCACHE_DIR`: the first clean build misses twice,
    /// the second hits twice (the key saw the flags, so the cached objects
    /// are split ones), and both builds are recorded in full.
    fn ccache_second_build_hits(cc) {
        if !require_program("ccache") || !require_program("make") {
            return;
        }
        let explicit = (KCONFIG_TOML.to_string(), format!("CC={SECWRAP} ccache {cc}"));
        let config = (
            format!("{KCONFIG_TOML}launcher = [\"ccache\"]\n"),
            format!("CC={SECWRAP} {cc}"),
        );
        for (toml, cc_var) in [explicit, config] {
            let t = tree().config(&toml);
            let ccache_dir = t.path("ccache");
            let t = t.env("CCACHE_DIR", ccache_dir);
            build(&t, "b1", &cc_var);
            assert_both_split(&t);
            assert_recorded(&t, "b1", "ccache");
            assert_eq!(ccache_hits_and_misses(&t), (0, 2), "{cc_var}: first build");
            build(&t, "b2", &cc_var);
            assert_both_split(&t);
            assert_recorded(&t, "b2", "ccache");
            assert_eq!(ccache_hits_and_misses(&t), (2, 2), "{cc_var}: second build");
        }
    }

    /// `make CC="secwrap sccache gcc"` against an sccache server the test
    /// runs on a private port: misses, then hits, split and recorded.
    fn sccache_second_build_hits(cc) {
        if !require_program("sccache") || !require_program("make") {
            return;
        }
        let (t, mut sccache) = Sccache::start(tree());
        let cc_var = format!("CC={SECWRAP} sccache {cc}");
        build(&t, "b1", &cc_var);
        assert_both_split(&t);
        assert_recorded(&t, "b1", "sccache");
        let stats = sccache.stats(&t);
        assert_eq!((stats["Cache hits"], stats["Cache misses"]), (0, 2), "{stats:#?}");
        build(&t, "b2", &cc_var);
        assert_both_split(&t);
        assert_recorded(&t, "b2", "sccache");
        let stats = sccache.stats(&t);
        assert_eq!((stats["Cache hits"], stats["Cache misses"]), (2, 2), "{stats:#?}");
    }

    /// `make CC="secwrap distcc gcc"` with a distccd on loopback and no
    /// local fallback: both jobs compiled by the distccd with the flags in
    /// the argv it received, the objects split, one record per compile on
    /// this side.
    fn distcc_compiles_remotely_with_the_flags(cc) {
        if !require_program("distcc") || !require_program("distccd") || !require_program("make") {
            return;
        }
        let (t, distccd) = Distccd::client(tree());
        build(&t, "d1", &format!("CC={SECWRAP} distcc {cc}"));
        assert_distccd_jobs(&distccd, 2);
        assert_both_split(&t);
        assert_recorded(&t, "d1", "distcc");
    }

    /// ccache with `CCACHE_PREFIX=distcc`: the first build's misses go to
    /// the distccd with the flags, the second is all hits and sends
    /// nothing; split and recorded both times.
    fn ccache_with_distcc_prefix(cc) {
        for program in ["ccache", "distcc", "distccd", "make"] {
            if !require_program(program) {
                return;
            }
        }
        let (t, distccd) = Distccd::client(tree());
        let ccache_dir = t.path("ccache");
        let t = t.env("CCACHE_DIR", ccache_dir).env("CCACHE_PREFIX", "distcc");
        let cc_var = format!("CC={SECWRAP} ccache {cc}");
        build(&t, "c1", &cc_var);
        assert_distccd_jobs(&distccd, 2);
        assert_both_split(&t);
        assert_recorded(&t, "c1", "ccache");
        assert_eq!(ccache_hits_and_misses(&t), (0, 2));
        build(&t, "c2", &cc_var);
        assert_distccd_jobs(&distccd, 2);
        assert_both_split(&t);
        assert_recorded(&t, "c2", "ccache");
        assert_eq!(ccache_hits_and_misses(&t), (2, 2));
    }
}

/// `make CC="secwrap icecc gcc"` in a network namespace with a scheduler
/// and two iceccd: both jobs go to `remoteice`, whose log shows the flags
/// in the compile arguments; split, recorded. gcc only: clang's compiler
/// environment is 74 MB, ten seconds to pack, and icecc sends it the same
/// way.
#[test]
fn icecream_compiles_remotely_with_the_flags() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let Some((t, icecream)) = Icecream::start(tree()) else {
        return;
    };
    let cc_var = format!("CC={SECWRAP} icecc gcc");
    let make = [
        SECWRAP,
        "run",
        "--no-shims",
        "--build-id",
        "i1",
        "--",
        "make",
        "-s",
        "-j2",
        &cc_var,
    ];
    t.run_program("nsenter", &icecream.args(&make))
        .stderr_any()
        .go()
        .assert_stderr_without_flag_probes(&summary(&t, "i1"));
    let compiles = icecream.remote_compiles();
    assert_eq!(compiles.len(), 2, "{compiles:#?}");
    assert_flags(&compiles, true);
    assert_both_split(&t);
    assert_recorded(&t, "i1", "icecc");
}

/// The masquerade directories Debian's ccache and distcc packages install.
const CCACHE_DIR_LINKS: &str = "/usr/lib/ccache";
const DISTCC_DIR_LINKS: &str = "/usr/lib/distcc";

/// secwrap's masquerade directory `mask` in the tree, for `cc`'s names.
fn secwrap_links(t: &TestEnv, cc: &str) -> PathBuf {
    links(t, "mask", Path::new(SECWRAP), &names(cc))
}

/// What secwrap says when the shell finds `launcher`'s link `links/cc`
/// before secwrap's `mask/cc` (`route::LauncherAbove`, evidence: PATH).
fn link_ahead(launcher: &str, cc: &str, links: &Path, mask: &Path) -> String {
    let article = if launcher == "icecc" { "an" } else { "a" };
    let (links, mask) = (links.display(), mask.display());
    format!(
        "`{links}/{cc}` ({article} {launcher} masquerade link) comes before secwrap's `{mask}` on PATH: {launcher} runs before secwrap, on the command line without secwrap's flags; put `{mask}` before `{links}` on PATH, or take `{links}` off PATH and use launcher = [\"{launcher}\"] in secwrap.toml"
    )
}

/// What secwrap says under a distcc started from `links` (distcc takes
/// that directory off the PATH it gives the compiler; its parent process
/// names it).
fn distcc_parent(links: &Path, mask: &Path) -> String {
    let (links, mask) = (links.display(), mask.display());
    let distcc = std::fs::canonicalize(real("distcc")).unwrap();
    format!(
        "secwrap runs under distcc (its parent process, `{}`), found through `{links}` before secwrap's `{mask}` on PATH: distcc runs before secwrap, on the command line without secwrap's flags; put `{mask}` before `{links}` on PATH, or take `{links}` off PATH and use launcher = [\"distcc\"] in secwrap.toml",
        distcc.display()
    )
}

/// The records of build `id`.
fn build_records(t: &TestEnv, id: &str) -> Vec<InvocationRecord> {
    t.records()
        .into_iter()
        .filter(|record| record.build.as_deref() == Some(id))
        .collect()
}

compiler_tests! {
    /// `/usr/lib/ccache` after secwrap's directory: ccache is the launcher
    /// of a masquerade build, the second build hits, both recorded.
    /// Before it: strict stops the build with the one line; passthrough
    /// warns once, and the compiles (ccache's misses) go on through
    /// secwrap, split and recorded, each record holding the warning.
    fn ccache_directory_orders(cc) {
        if !require_program("ccache") || !require_program("make") {
            return;
        }
        let ccache_links = Path::new(CCACHE_DIR_LINKS);
        assert!(ccache_links.join(cc).exists(), "the ccache package links {cc} in {CCACHE_DIR_LINKS}");
        let cc_var = format!("CC={cc}");
        let ccache_tree = || {
            let t = tree();
            let ccache_dir = t.path("ccache");
            t.env("CCACHE_DIR", ccache_dir)
        };

        let t = ccache_tree();
        let mask = secwrap_links(&t, cc);
        let t = t.env("PATH", path_with_first(&[&mask, ccache_links]));
        build(&t, "m1", &cc_var);
        build(&t, "m2", &cc_var);
        assert_both_split(&t);
        assert_recorded(&t, "m1", "ccache");
        assert_recorded(&t, "m2", "ccache");
        assert_eq!(ccache_hits_and_misses(&t), (2, 2));

        let t = ccache_tree();
        let mask = secwrap_links(&t, cc);
        let message = link_ahead("ccache", cc, ccache_links, &mask);
        let t = t.env("PATH", path_with_first(&[ccache_links, &mask]));
        // One job at a time: make stops at the first compile, as a user
        // sees it, with no second job racing the first one's failure.
        t.run_program("make", &["-s", cc_var.as_str()])
            .status(2)
            .stderr_contains(&format!("secwrap: error: {message}\n"))
            .go();
        assert!(!t.exists("a.o") && !t.exists("b.o"), "nothing compiled");
        assert!(!t.exists("log.jsonl"), "nothing recorded");

        let t = t.env("SECWRAP_ON_ERROR", "passthrough");
        // Once among the compiles: ccache keeps its `-E` run's stderr.
        t.run(&["run", "--no-shims", "--build-id", "p1", "--", "make", "-s", "-j2", cc_var.as_str()])
            .stderr_any()
            .go().assert_stderr_without_flag_probes(&format!(
                "secwrap: warning: {message}\n{}",
                summary_of(&t, "p1", "4 invocations (2 compile, 2 preprocess_only), flags injected into 2")
            ));
        assert_both_split(&t);
        let records = build_records(&t, "p1");
        let compiles = records.iter().filter(|record| record.kind.is(Classification::Compile)).count();
        assert_eq!(compiles, 2, "{records:#?}");
        for record in &records {
            assert_eq!(record.warnings, [message.as_str()], "{record:#?}");
        }
        assert_eq!(ccache_hits_and_misses(&t), (0, 2), "ccache ran first");
    }

    /// `/usr/lib/distcc` after secwrap's directory: distcc is the launcher,
    /// and the distccd gets the flags. Before it: strict stops the build;
    /// passthrough warns once and the build goes on as distcc makes it,
    /// the distccd compiling without the flags, objects unsplit, only the
    /// `-E` calls recorded: what the warning is about.
    fn distcc_directory_orders(cc) {
        if !require_program("distcc") || !require_program("distccd") || !require_program("make") {
            return;
        }
        let distcc_links = Path::new(DISTCC_DIR_LINKS);
        assert!(distcc_links.join(cc).exists(), "the distcc package links {cc} in {DISTCC_DIR_LINKS}");
        let cc_var = format!("CC={cc}");

        let (t, distccd) = Distccd::client(tree());
        let mask = secwrap_links(&t, cc);
        let t = t.env("PATH", path_with_first(&[&mask, distcc_links]));
        build(&t, "m1", &cc_var);
        assert_distccd_jobs(&distccd, 2);
        assert_both_split(&t);
        assert_recorded(&t, "m1", "distcc");

        let (t, distccd) = Distccd::client(tree());
        let mask = secwrap_links(&t, cc);
        let message = distcc_parent(distcc_links, &mask);
        let t = t.env("PATH", path_with_first(&[distcc_links, &mask]));
        // One job at a time: make stops at the first compile, as a user
        // sees it, with no second job racing the first one's failure.
        t.run_program("make", &["-s", cc_var.as_str()])
            .status(2)
            .stderr_contains(&format!("secwrap: error: {message}\n"))
            .go();
        assert!(!t.exists("a.o") && !t.exists("b.o"), "nothing compiled");
        assert!(!t.exists("log.jsonl"), "nothing recorded");
        // distcc sends the command line while it preprocesses, so the
        // distccd may have read it; it compiled nothing.
        assert_eq!(distccd.jobs_ok(0), 0, "{:#?}", distccd.log_lines());

        // A distccd of its own: the strict build's command lines may reach
        // the first one's log late.
        let (t, distccd) = Distccd::client(tree());
        let mask = secwrap_links(&t, cc);
        let message = distcc_parent(distcc_links, &mask);
        let t = t
            .env("PATH", path_with_first(&[distcc_links, &mask]))
            .env("SECWRAP_ON_ERROR", "passthrough");
        t.run(&["run", "--no-shims", "--build-id", "p1", "--", "make", "-s", "-j2", cc_var.as_str()])
            .stderr_any()
            .go().assert_stderr_without_flag_probes(&format!(
                "secwrap: warning: {message}\n{}",
                summary_of(&t, "p1", "2 invocations (2 preprocess_only), flags injected into 0")
            ));
        t.assert_not_split("a.o");
        assert_eq!(distccd.jobs_ok(2), 2, "{:#?}", distccd.log_lines());
        let sent = distccd.job_arguments();
        assert_eq!(sent.len(), 2, "{sent:#?}");
        assert_flags(&sent, false);
        let records = build_records(&t, "p1");
        for record in &records {
            assert!(record.kind.is(Classification::PreprocessOnly), "{record:#?}");
            assert_eq!(record.warnings, [message.as_str()], "{record:#?}");
        }
        assert_eq!(records.len(), 2, "{records:#?}");
    }
}

/// icecc's masquerade directory (upstream installs it as
/// `/usr/lib/icecc/bin`; Debian 12's package leaves that directory empty,
/// so the test makes its own, the same links to `icecc`) in both orders,
/// in one icecream cluster. After secwrap's: icecc is the launcher and
/// the jobs go remote with the flags. Before it: icecc runs first, so
/// strict stops the build with the one line, and passthrough warns once
/// and lets icecc do what it does with secwrap as its compiler: with
/// `ICECC_VERSION`, send the jobs without the flags (unsplit, only the
/// `-E` recorded); without it, build locally through secwrap.
#[test]
fn icecc_directory_orders() {
    if !require_compiler("gcc") || !require_program("make") {
        return;
    }
    let Some((t, icecream)) = Icecream::start(tree()) else {
        return;
    };
    let mask = secwrap_links(&t, "gcc");
    let icecc_links = links(&t, "icecc-bin", &real("icecc"), &names("gcc"));
    let path = |dirs: &[&Path]| format!("PATH={}", path_with_first(dirs).to_str().unwrap());
    let make_in_netns = |env: &[&str], id: &str| {
        let mut args = vec!["env"];
        args.extend_from_slice(env);
        args.extend([
            SECWRAP,
            "run",
            "--no-shims",
            "--build-id",
            id,
            "--",
            "make",
            "-s",
            "-j2",
            "CC=gcc",
        ]);
        icecream.args(&args)
    };

    let right = path(&[&mask, &icecc_links]);
    t.run_program("nsenter", &make_in_netns(&[&right], "m1"))
        .stderr_any()
        .go()
        .assert_stderr_without_flag_probes(&summary(&t, "m1"));
    let compiles = icecream.remote_compiles();
    assert_eq!(compiles.len(), 2, "{compiles:#?}");
    assert_flags(&compiles, true);
    assert_both_split(&t);
    assert_recorded(&t, "m1", "icecc");

    let message = link_ahead("icecc", "gcc", &icecc_links, &mask);
    let wrong = path(&[&icecc_links, &mask]);
    t.run_program("make", &["-s", "clean"]).go();
    let strict = ["env", wrong.as_str(), "make", "-s", "CC=gcc"];
    t.run_program("nsenter", &icecream.args(&strict))
        .status(2)
        .stderr_contains(&format!("secwrap: error: {message}\n"))
        .go();
    assert!(!t.exists("a.o") && !t.exists("b.o"), "nothing compiled");
    assert_eq!(
        t.records().len(),
        2,
        "only the right order's build recorded"
    );

    // icecc preprocesses through secwrap (`-E`, warned and recorded) and
    // `remoteice` compiles without the flags: what the warning says.
    let remote_before = icecream.remote_compiles().len();
    let passthrough = make_in_netns(&[&wrong, "SECWRAP_ON_ERROR=passthrough"], "p1");
    t.run_program("nsenter", &passthrough)
        .stderr_any()
        .go()
        .assert_stderr_without_flag_probes(&format!(
            "secwrap: warning: {message}\n{}",
            summary_of(
                &t,
                "p1",
                "2 invocations (2 preprocess_only), flags injected into 0"
            )
        ));
    t.assert_not_split("a.o");
    let compiles = icecream.remote_compiles();
    assert_eq!(compiles.len(), remote_before + 2, "{compiles:#?}");
    assert_flags(&compiles[remote_before..], false);
    let records = build_records(&t, "p1");
    assert_eq!(records.len(), 2, "{records:#?}");
    for record in &records {
        assert!(
            record.kind.is(Classification::PreprocessOnly),
            "{record:#?}"
        );
        assert_eq!(record.warnings, [message.as_str()], "{record:#?}");
    }

    // Without `ICECC_VERSION` icecc asks its daemon to pack secwrap as the
    // compiler, which fails, and builds locally through secwrap: split
    // and recorded, with the warning, and nothing remote (the trial's
    // "distribution lost").
    t.run_program("make", &["-s", "clean"]).go();
    let remote_before = icecream.remote_compiles().len();
    let native = make_in_netns(
        &[
            "-u",
            "ICECC_VERSION",
            &wrong,
            "SECWRAP_ON_ERROR=passthrough",
        ],
        "p2",
    );
    // icecc may add a line of its own (`flush_writebuf() failed`) as its
    // daemon gives up on the environment.
    let warning = format!("secwrap: warning: {message}\n");
    let out = t
        .run_program("nsenter", &native)
        .stderr_contains(&warning)
        .stderr_contains(
            "secwrap: build p2: 2 invocations (2 compile), flags injected into 2, 0 failed",
        )
        .go();
    assert_eq!(out.stderr_text().matches(&warning).count(), 1, "once");
    assert_both_split(&t);
    assert_eq!(icecream.remote_compiles().len(), remote_before);
    let records = build_records(&t, "p2");
    assert_eq!(records.len(), 2, "{records:#?}");
    for record in &records {
        assert!(record.kind.is(Classification::Compile), "{record:#?}");
        assert_eq!(record.status, Some(0), "{record:#?}");
        assert_injected_split(record);
        assert_eq!(record.warnings, [message.as_str()], "{record:#?}");
    }
}

/// The daemon guards stop what the test started, on a panic too: after a
/// test body that started a distccd (which forks workers) and an sccache
/// server panics, nothing of their process groups is left.
#[test]
fn daemons_are_stopped_when_a_test_panics() {
    if !require_program("distccd") || !require_program("sccache") {
        return;
    }
    let unwound = std::panic::catch_unwind(|| {
        let (t, distccd) = Distccd::client(TestEnv::new());
        let (_t, sccache) = Sccache::start(t);
        let groups = vec![distccd.pid(), sccache.pid()];
        for group in &groups {
            assert!(!processes_in_group(*group).is_empty(), "{group} runs");
        }
        std::panic::panic_any(groups);
    });
    let groups = *unwound
        .expect_err("the body panicked")
        .downcast::<Vec<u32>>()
        .expect("the groups as the panic's payload");
    for group in groups {
        assert_eq!(
            processes_in_group(group),
            Vec::<u32>::new(),
            "group {group}"
        );
    }
}

/// The stderr of a run, checked whole but for the flag-probe counts of
/// `secwrap run`'s summary (`, 2 flag probes by secwrap (1 run, 1 cached)`),
/// which depend on which of two parallel jobs asked first.
trait StderrWithoutFlagProbes {
    fn assert_stderr_without_flag_probes(&self, expected: &str);
}

impl StderrWithoutFlagProbes for Out {
    #[track_caller]
    fn assert_stderr_without_flag_probes(&self, expected: &str) {
        let stderr = self.stderr_text();
        let lines: Vec<String> = stderr
            .split_inclusive('\n')
            .map(|line| match line.find(" by secwrap (") {
                Some(by) => {
                    let start = line[..by]
                        .rfind(", ")
                        .expect("a summary's `, N flag probes`");
                    let end = by + line[by..].find(')').expect("the counts' `)`") + 1;
                    format!("{}{}", &line[..start], &line[end..])
                }
                None => line.to_string(),
            })
            .collect();
        assert_eq!(
            lines.concat(),
            expected,
            "stderr, flag-probe counts left out"
        );
    }
}
