//! `secwrap check` on what real trees hold (issue 10): code the flags cannot
//! split (top-level `asm()`, an explicit `__section(".data")`), objects no
//! record describes, the bodies of overridden weak functions left as
//! orphans, one summary line per orphan family, `--lds` on Xen-shaped
//! scripts and on ld's own default script, `--json`, and a bare `check`.
//!
//! The linker scripts in `fixtures/lds/` have the shape of Xen's x86
//! `xen.lds` before and at the seed (6ff9a7e62b), cut down so that a small
//! freestanding program links with them; each test that links one runs
//! real ld on it, so what `--lds` says is checked against what ld does.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SymbolSection};

use crate::common::*;

/// Xen's `arch/x86/lib/generic-hweightl.c` in miniature: a function defined
/// in top-level `asm()`, typed and sized, and nothing else.
const TOP_LEVEL_ASM: &str = r#"asm (
    ".type arch_generic_hweightl, STT_FUNC\n\t"
    ".globl arch_generic_hweightl\n\t"
    ".hidden arch_generic_hweightl\n\t"
    ".balign 16, 0x90\n"
    "arch_generic_hweightl:\n\t"
    "push %rdi\n\t"
    "mov %rdi, %rax\n\t"
    "pop %rdi\n\t"
    "ret\n\t"
    ".size arch_generic_hweightl, . - arch_generic_hweightl\n\t"
);
"#;

/// The same, next to C functions the flags do split.
const TOP_LEVEL_ASM_AND_C: &str = r#"int popcount_table(int x) { return x & 0x55; }
asm (
    ".type arch_generic_hweightl, STT_FUNC\n\t"
    ".globl arch_generic_hweightl\n\t"
    ".balign 16, 0x90\n"
    "arch_generic_hweightl:\n\t"
    "ret\n\t"
    ".size arch_generic_hweightl, . - arch_generic_hweightl\n\t"
);
int after_asm(int x) { return x + 1; }
"#;

/// Linux's `arch/x86/boot/compressed/misc.c` in miniature: two variables
/// placed in `.data` by the source ("These might be accessed before .bss is
/// cleared, so use .data instead"), next to ordinary ones.
const EXPLICIT_DATA: &str = r#"static int vidport;
static int lines __attribute__((section(".data")));
static int cols __attribute__((section(".data")));
int putstr(const char *s)
{
    while (*s) {
        lines++;
        cols += *s++;
        vidport++;
    }
    return lines + cols + vidport;
}
"#;

/// Assembly, as a `.S` file holds it.
const ASSEMBLY: &str = "\t.text\n\t.globl entry64\n\t.type entry64, @function\nentry64:\n\tret\n\t.size entry64, .-entry64\n";

/// The section holding symbol `name` in `path`.
fn symbol_section(path: &Path, name: &str) -> String {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let symbol = file
        .symbols()
        .find(|symbol| symbol.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol `{name}` in {}", path.display()));
    let SymbolSection::Section(index) = symbol.section() else {
        panic!("`{name}` is not in a section");
    };
    file.section_by_index(index)
        .unwrap()
        .name()
        .unwrap()
        .to_string()
}

/// The address of symbol `name` in image `path`.
fn symbol_address(path: &Path, name: &str) -> u64 {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.symbols()
        .find(|symbol| symbol.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol `{name}` in {}", path.display()))
        .address()
}

/// The names of the symbols section `section` of image `path` holds.
fn symbols_in(path: &Path, section: &str) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let index = file.section_by_name(section).unwrap().index();
    file.symbols()
        .filter(|symbol| symbol.section() == SymbolSection::Section(index))
        .filter_map(|symbol| symbol.name().ok().map(str::to_string))
        .filter(|name| !name.is_empty())
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/lds")
        .join(name)
}

/// `secwrap check` with nothing to check is a usage error, as clap words
/// it, not a silent success.
#[test]
fn no_subject_is_a_usage_error() {
    let t = TestEnv::new();
    t.run(&["check"])
        .status(2)
        .stderr(
            "secwrap: error: the following required arguments were not provided:\n  \
             <OBJECTS|--build <BUILD>|--image <IMAGE>|--lds <SCRIPT>>\n\n\
             Usage: secwrap check <OBJECTS|--build <BUILD>|--image <IMAGE>|--lds <SCRIPT>>\n\n\
             For more information, try '--help'.\n",
        )
        .go();
    // `--verbose` or `--json` alone name nothing to check either.
    t.run(&["check", "--json", "--verbose"])
        .status(2)
        .stderr_contains("the following required arguments were not provided")
        .go();
}

compiler_tests! {
    /// Xen's `arch_generic_hweightl`: compiled through secwrap with the
    /// flags, the asm function stays in `.text`, since no flag splits
    /// top-level asm; `check` and `check --build` say nothing.
    fn top_level_asm_is_no_finding(cc) {
        let t = TestEnv::livepatch()
            .env("SECWRAP_BUILD_ID", "b")
            .file("hweightl.c", TOP_LEVEL_ASM);
        t.run(&[cc, "-O2", "-c", "hweightl.c", "-o", "hweightl.o"]).go();
        assert_injected_split(&t.only_record());
        assert_eq!(symbol_section(&t.path("hweightl.o"), "arch_generic_hweightl"), ".text");
        t.run(&["check", "hweightl.o"]).go();
        t.run(&["check", "--build", "b"]).go();
    }
}

compiler_tests! {
    /// Top-level asm next to split C functions: the object shows the flag
    /// took effect, so the asm function was placed by the source, with or
    /// without a record.
    fn top_level_asm_next_to_split_functions_is_no_finding(cc) {
        let t = TestEnv::livepatch()
            .env("SECWRAP_BUILD_ID", "b")
            .file("hweightl.c", TOP_LEVEL_ASM_AND_C);
        t.run(&[cc, "-O2", "-c", "hweightl.c", "-o", "hweightl.o"]).go();
        let object = t.path("hweightl.o");
        assert_eq!(symbol_section(&object, "arch_generic_hweightl"), ".text");
        assert_eq!(symbol_section(&object, "after_asm"), ".text.after_asm");
        t.run(&["check", "hweightl.o"]).go();
        t.run(&["check", "--build", "b"]).go();
        // Compiled with the flags behind secwrap's back: no record, and
        // still nothing to say.
        t.run_program(cc, &["-O2", "-ffunction-sections", "-fdata-sections", "-c", "hweightl.c", "-o", "plain.o"])
            .go();
        t.run(&["check", "plain.o"]).go();
    }
}

compiler_tests! {
    /// Linux misc.c's `lines` and `cols`: in `.data` because the source
    /// says so, next to split data; no finding, recorded or not.
    fn explicit_data_section_is_no_finding(cc) {
        let t = TestEnv::livepatch()
            .env("SECWRAP_BUILD_ID", "b")
            .file("misc.c", EXPLICIT_DATA);
        t.run(&[cc, "-O2", "-c", "misc.c", "-o", "misc.o"]).go();
        let object = t.path("misc.o");
        assert_eq!(symbol_section(&object, "lines"), ".data");
        assert_eq!(symbol_section(&object, "cols"), ".data");
        assert_eq!(symbol_section(&object, "vidport"), ".bss.vidport");
        t.run(&["check", "misc.o"]).go();
        t.run(&["check", "--build", "b"]).go();
        t.run_program(cc, &["-O2", "-ffunction-sections", "-fdata-sections", "-c", "misc.c", "-o", "plain.o"])
            .go();
        t.run(&["check", "plain.o"]).go();
    }
}

compiler_tests! {
    /// An object recorded as split and rebuilt without the flags behind
    /// secwrap's back is still found: its functions carry call-frame
    /// information (x86-64 unwind tables by default), which proves the
    /// compiler put them in `.text`; its data goes with them.
    fn unsplit_object_recorded_as_split_is_found(cc) {
        let t = TestEnv::livepatch();
        t.run(&[cc, "-O2", "-c", "a.c", "-o", "a.o"]).go();
        t.run(&["check", "a.o"]).go();
        t.run_program(cc, &["-O2", "-c", "a.c", "-o", "a.o"]).go();
        t.assert_not_split("a.o");
        let out = t.run(&["check", "a.o"]).status(1).stdout_any().go();
        let stdout = out.stdout_text();
        let mut items: Vec<&str> = stdout
            .lines()
            .map(|line| line.split(": ").nth(1).unwrap())
            .collect();
        items.sort_unstable();
        assert_eq!(items, ["counter", "get", "set"], "{stdout}");
        assert!(
            stdout.contains(
                "a.o: get: function `get` is in the shared section `.text`, so -ffunction-sections did not take effect; "
            ),
            "{stdout}"
        );
        assert!(
            stdout.contains("a.o: counter: data `counter` is in the shared section `.data`, so -fdata-sections did not take effect; "),
            "{stdout}"
        );
    }
}

compiler_tests! {
    /// Rebuilt without the flags and without unwind tables (a kernel's
    /// `-fno-asynchronous-unwind-tables`): the object alone cannot tell
    /// its C from top-level asm, so the record is believed; once the
    /// object is written after its record (past the grace for a build's
    /// own steps), `check` says no record describes it.
    fn unsplit_object_without_frame_information_leans_on_the_record(cc) {
        let t = TestEnv::livepatch();
        let kernel_like = ["-O2", "-fno-asynchronous-unwind-tables", "-c", "a.c", "-o", "a.o"];
        t.run(&[&[cc][..], &kernel_like].concat()).go();
        t.run_program(cc, &kernel_like).go();
        t.assert_not_split("a.o");
        t.run(&["check", "a.o"]).go();
        t.run_program("touch", &["-d", "+120 seconds", "a.o"]).go();
        let out = t.run(&["check", "a.o"]).status(1).stdout_any().go();
        let stdout = out.stdout_text();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.starts_with(&format!(
                "{}: record: written after its last recorded compile (",
                t.path("a.o").display()
            )),
            "{stdout}"
        );
    }
}

compiler_tests! {
    /// An object no record describes (compiled by a launcher ahead of
    /// secwrap, by hand, by `make CC=gcc`) is judged from the object: not
    /// split is a finding that says so, split or assembled is fine.
    fn unrecorded_objects_are_judged_from_the_object(cc) {
        let t = TestEnv::livepatch().file("b.c", B_C).file("entry.S", ASSEMBLY);
        t.run(&[cc, "-O2", "-c", "a.c", "-o", "a.o"]).go();
        t.run_program(cc, &["-O2", "-c", "b.c", "-o", "b.o"]).go();
        let log = t.path("log.jsonl");
        let out = t.run(&["check", "a.o", "b.o"]).status(1).stdout_any().go();
        assert_eq!(
            out.stdout_text(),
            format!(
                "b.o: bget: not split and not recorded: 2 items in shared sections (function `bget` in `.text`, data `bvar` in `.data`), and no record in `{}` says how it was compiled; was it compiled through secwrap? (ccache or distcc ahead of secwrap on PATH compiles without it): rebuild it through secwrap\n",
                log.display()
            )
        );
        t.run_program(cc, &["-O2", "-ffunction-sections", "-fdata-sections", "-c", "b.c", "-o", "split.o"])
            .go();
        t.run_program(cc, &["-c", "entry.S", "-o", "entry.o"]).go();
        assert_eq!(symbol_section(&t.path("entry.o"), "entry64"), ".text");
        t.run(&["check", "split.o", "entry.o"]).go();
        // No log at all: the object alone, and the message says why.
        let bare = TestEnv::new().env_remove("SECWRAP_LOG").file("b.c", B_C);
        bare.run_program(cc, &["-O2", "-c", "b.c", "-o", "b.o"]).go();
        bare.run(&["check", "b.o"])
            .status(1)
            .stdout(
                "b.o: bget: not split and not recorded: 2 items in shared sections (function `bget` in `.text`, data `bvar` in `.data`), and no invocation log says how it was compiled (none written here yet, or give --log); was it compiled through secwrap? (ccache or distcc ahead of secwrap on PATH compiles without it): rebuild it through secwrap\n",
            )
            .go();
    }
}

/// A weak `sched_clock` with its own body, overridden by a strong one that
/// the script gathers (Linux x86: the strong one is `noinstr`), and a
/// variable in a section the script names as an output section (Xen's
/// `.data.read_mostly`).
const WEAK_C: &str = r#"__attribute__((weak)) unsigned long sched_clock(void) { return 1; }
unsigned long use_clock(void) { return sched_clock() + 1; }
__attribute__((section(".data.read_mostly"))) int opt_quiet = 1;
int counter = 5;
"#;
const STRONG_C: &str = r#"__attribute__((section(".noinstr.text"))) unsigned long sched_clock(void) { return 2; }
void _start(void) { for (;;) ; }
"#;
/// A script without catch-alls.
const BARE_LDS: &str = "SECTIONS {\n  . = 0x400000;\n  .text : { *(.text) *(.noinstr.text) }\n  _etext = .;\n  .data.read_mostly : { *(.data.read_mostly) }\n  .data : { *(.data) }\n  _edata = .;\n  .bss : { *(.bss) }\n  __bss_end = .;\n  /DISCARD/ : { *(.eh_frame) *(.note.GNU-stack) }\n}\n";

/// Compiles `sources` as a freestanding kernel would, split, and links them
/// with `script` into `image`.
fn link_split(t: &TestEnv, cc: &str, sources: &[&str], script: &Path, image: &str) {
    let mut objects = Vec::new();
    for source in sources {
        let object = source.replace(".c", ".o");
        t.run_program(
            cc,
            &[
                "-O2",
                "-ffreestanding",
                "-fno-pie",
                "-fno-stack-protector",
                "-ffunction-sections",
                "-fdata-sections",
                "-c",
                source,
                "-o",
                &object,
            ],
        )
        .go();
        objects.push(object);
    }
    let script = format!("-Wl,-T,{}", script.display());
    // One segment for everything, as these scripts make: ld (binutils
    // 2.39 on) would warn it is RWX.
    let mut args = vec![
        "-nostdlib",
        "-static",
        &script,
        "-Wl,--no-warn-rwx-segments",
        "-o",
        image,
    ];
    args.extend(objects.iter().map(String::as_str));
    t.run_program(cc, &args).go();
}

compiler_tests! {
    /// The body of an overridden weak function is an orphan too: its
    /// `.text.sched_clock` holds no symbol, the strong `sched_clock` won
    /// elsewhere. The script's own `.data.read_mostly` is spared, without
    /// the script and with it.
    fn overridden_weak_bodies_are_orphans(cc) {
        let t = TestEnv::new()
            .file("weak.c", WEAK_C)
            .file("strong.c", STRONG_C)
            .file("bare.lds", BARE_LDS);
        link_split(&t, cc, &["weak.c", "strong.c"], &t.path("bare.lds"), "image");
        let image = t.path("image");
        assert_eq!(symbols_in(&image, ".text.sched_clock"), Vec::<String>::new());
        assert_eq!(symbol_section(&image, "sched_clock"), ".text");
        assert!(symbols_in(&image, ".data.read_mostly").contains(&"opt_quiet".to_string()));
        let orphans = |args: &[&str]| -> Vec<String> {
            let out = t.run(args).status(1).stdout_any().go();
            out.stdout_text()
                .lines()
                .filter(|line| line.starts_with("image: "))
                .map(|line| line.split(": ").nth(1).unwrap().to_string())
                .collect()
        };
        let expected = [".text.sched_clock", ".text.use_clock", ".text._start", ".data.counter"];
        assert_eq!(orphans(&["check", "--image", "image", "--verbose"]), expected);
        assert_eq!(
            orphans(&["check", "--image", "image", "--verbose", "--lds", "bare.lds"]),
            expected
        );
    }
}

/// Split objects for the Xen-shaped scripts: `start` (their entry), code,
/// data, zeroed data, a constant table, entry text and read-mostly data
/// placed by the source.
const KERNEL_C: &str = r#"int counter = 1;
int zeroed;
const int table[4] = {1, 2, 3, 4};
__attribute__((section(".data.read_mostly"))) int opt_quiet = 1;
int helper(int x) { return x * table[x & 3]; }
int work(int x) { zeroed += x; return helper(x) + counter + opt_quiet; }
__attribute__((section(".text.entry"))) int entry_stub(int x) { return x + 1; }
void start(void) { for (;;) work(entry_stub(1)); }
"#;

compiler_tests! {
    /// Xen before the seed: `check --image` prints one line per family
    /// (count, examples, where ld put them, the seed's catch-all);
    /// `--verbose` every section; `--json` every section as JSON. With the
    /// seed's catch-alls: clean.
    fn image_orphans_summarised_per_family(cc) {
        let t = TestEnv::new().file("kernel.c", KERNEL_C);
        link_split(&t, cc, &["kernel.c"], &fixture("xen-pre-seed.lds"), "xen-syms");
        let out = t.run(&["check", "--image", "xen-syms"]).status(1).stdout_any().go();
        assert_eq!(
            out.stdout_text(),
            "xen-syms: .text.*: 3 orphan sections, `.text.helper`, `.text.work` and `.text.start`: the linker script does not gather split `.text.*` sections, so ld made each an output section of its own outside `.text` (all after `_etext`, outside the executable range); add `*(.text.*)` to the `.text` output section after the special text sections, in the seed's order `*(.text.cold)` `*(.text.unlikely)` `*(.text.*)` (Xen 6ff9a7e62b); `--verbose` lists every section\n\
             xen-syms: .data.*: 1 orphan section, `.data.counter`: the linker script does not gather split `.data.*` sections, so ld made each an output section of its own outside `.data`; add `*(.data.*)` to the `.data` output section after the special data sections, in the seed's order `*(.data)` `*(.data.rel)` `*(.data.rel.*)` `*(.data.*)` (Xen 6ff9a7e62b); `--verbose` lists every section\n\
             xen-syms: .bss.*: 1 orphan section, `.bss.zeroed`: the linker script does not gather split `.bss.*` sections, so ld made each an output section of its own outside `.bss` (all after `__bss_end`, outside the range boot code zeroes); add `*(.bss.*)` to the `.bss` output section after the special bss sections, in the seed's order `*(.bss)` `*(.bss.*)` (Xen 6ff9a7e62b); `--verbose` lists every section\n"
        );
        let out = t.run(&["check", "--image", "xen-syms", "--verbose"]).status(1).stdout_any().go();
        let verbose = out.stdout_text();
        let sections: Vec<&str> = verbose.lines().map(|line| line.split(": ").nth(1).unwrap()).collect();
        assert_eq!(sections, [".text.helper", ".text.work", ".text.start", ".data.counter", ".bss.zeroed"]);
        assert!(
            verbose.lines().all(|line| line.contains(": orphan section: the linker script does not gather split `")),
            "{verbose}"
        );
        let out = t.run(&["check", "--image", "xen-syms", "--json"]).status(1).stdout_any().go();
        let json: Vec<serde_json::Value> = out
            .stdout_text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(json.len(), 5);
        for (value, (section, line)) in json.iter().zip(sections.iter().zip(verbose.lines())) {
            assert_eq!(value["check"], "orphan");
            assert_eq!(value["subject"], "xen-syms");
            assert_eq!(value["line"], serde_json::Value::Null);
            assert_eq!(value["item"], *section);
            assert_eq!(format!("xen-syms: {section}: {}", value["message"].as_str().unwrap()), line);
            assert_eq!(value.as_object().unwrap().len(), 5);
        }
        link_split(&t, cc, &["kernel.c"], &fixture("xen-post-seed.lds"), "xen-syms");
        t.run(&["check", "--image", "xen-syms"]).go();
        t.run(&["check", "--image", "xen-syms", "--lds", &fixture("xen-post-seed.lds").display().to_string()]).go();
    }
}

/// `--lds` on the three Xen-shaped scripts: before the seed, each family
/// missing is named at its output section with the seed's fix; at the
/// seed, clean; with the catch-alls in the wrong places, each special
/// statement they take is named.
#[test]
fn linker_scripts_before_at_and_against_the_seed() {
    let t = TestEnv::new();
    let pre = fixture("xen-pre-seed.lds");
    t.run(&["check", "--lds", pre.to_str().unwrap()])
        .status(1)
        .stdout(format!(
            "{pre}:18: .text.*: no input-section pattern gathers split `.text.*` sections (such as `.text.do_work`), so ld makes each an orphan output section and places it by guesswork; add `*(.text.*)` to the `.text` output section after the special text sections, in the seed's order `*(.text.cold)` `*(.text.unlikely)` `*(.text.*)` (Xen 6ff9a7e62b)\n\
             {pre}:70: .data.*: no input-section pattern gathers split `.data.*` sections (such as `.data.counter`), so ld makes each an orphan output section and places it by guesswork; add `*(.data.*)` to the `.data` output section after the special data sections, in the seed's order `*(.data)` `*(.data.rel)` `*(.data.rel.*)` `*(.data.*)` (Xen 6ff9a7e62b)\n\
             {pre}:78: .bss.*: no input-section pattern gathers split `.bss.*` sections (such as `.bss.zeroed`), so ld makes each an orphan output section and places it by guesswork; add `*(.bss.*)` to the `.bss` output section after the special bss sections, in the seed's order `*(.bss)` `*(.bss.*)` (Xen 6ff9a7e62b)\n",
            pre = pre.display()
        ))
        .go();
    t.run(&[
        "check",
        "--lds",
        fixture("xen-post-seed.lds").to_str().unwrap(),
    ])
    .go();
    let wrong = fixture("wrong-order.lds");
    let out = t
        .run(&["check", "--lds", wrong.to_str().unwrap()])
        .status(1)
        .stdout_any()
        .go();
    let stdout = out.stdout_text();
    let located: Vec<&str> = stdout
        .lines()
        .map(|line| {
            let line = line.strip_prefix(&format!("{}:", wrong.display())).unwrap();
            &line[..line.find(": the catch-all").unwrap()]
        })
        .collect();
    assert_eq!(
        located,
        [
            "29: .text.entry",
            "33: .text.cold",
            "34: .text.unlikely",
            "79: .data.read_mostly"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains(":79: .data.read_mostly: the catch-all `*(.data.*)` at line 73 in `.data` comes first, so ld puts `.data.read_mostly` sections in `.data`, not in `.data.read_mostly` where this line wants them; the catch-all must come after every special section it would match: add `*(.data.*)` to the `.data` output section after the special data sections, in the seed's order `*(.data)` `*(.data.rel)` `*(.data.rel.*)` `*(.data.*)` (Xen 6ff9a7e62b)\n"),
        "{stdout}"
    );
}

compiler_tests! {
    /// What `--lds` says about order is what ld does: with the catch-all
    /// before `*(.text.entry)`, the entry code lands before `_stextentry`
    /// (ld takes the first matching pattern in script order); at the seed
    /// it lands inside the range; the read-mostly variable leaves
    /// `.data.read_mostly` for `.data`.
    fn catch_all_order_is_what_ld_does(cc) {
        let t = TestEnv::new().file("kernel.c", KERNEL_C);
        link_split(&t, cc, &["kernel.c"], &fixture("xen-post-seed.lds"), "right");
        let right = t.path("right");
        let entry = symbol_address(&right, "entry_stub");
        assert!(symbol_address(&right, "_stextentry") <= entry, "entry_stub at {entry:#x}");
        assert!(entry < symbol_address(&right, "_etextentry"), "entry_stub at {entry:#x}");
        assert_eq!(symbol_section(&right, "opt_quiet"), ".data.read_mostly");
        link_split(&t, cc, &["kernel.c"], &fixture("wrong-order.lds"), "wrong");
        let wrong = t.path("wrong");
        assert!(
            symbol_address(&wrong, "entry_stub") < symbol_address(&wrong, "_stextentry"),
            "the catch-all took `.text.entry`"
        );
        assert_eq!(symbol_section(&wrong, "opt_quiet"), ".data");
    }
}

/// GNU ld's own default script, as `ld --verbose` prints it: it gathers
/// `.text.*` after `.text.unlikely`, `.text.exit`, `.text.startup` and
/// `.text.hot`, and `.data.rel.ro` before `.data`, so it passes.
#[test]
fn ld_default_script_passes() {
    if !require_program("ld") {
        return;
    }
    let t = TestEnv::new();
    let out = t.run_program("ld", &["--verbose"]).stdout_any().go();
    let verbose = out.stdout_text();
    assert!(
        verbose.contains("*(.text.unlikely .text.*_unlikely .text.unlikely.*)"),
        "{verbose}"
    );
    t.write("ld-verbose.txt", &verbose);
    t.run(&["check", "--lds", "ld-verbose.txt"]).go();
    // The script alone, without ld's banner, reads the same.
    let script = verbose
        .split("==================================================")
        .nth(1)
        .unwrap();
    t.write("default.lds", script);
    t.run(&["check", "--lds", "default.lds"]).go();
}

/// A script `check --lds` cannot read is an error at its line and column,
/// exit 2; a missing one names the file.
#[test]
fn unreadable_linker_scripts_are_errors() {
    let t = TestEnv::new()
        .file(
            "open.lds",
            "SECTIONS {\n  .text : {\n    /* never closed\n    *(.text)\n  }\n}\n",
        )
        .file(
            "brace.lds",
            "SECTIONS {\n  .text : { *(.text) }\n  .data : { *(.data)\n}\n",
        )
        .file("none.lds", "MEMORY { ram : ORIGIN = 0, LENGTH = 1M }\n");
    t.run(&["check", "--lds", "open.lds"])
        .status(2)
        .stderr("secwrap: error: open.lds:3:5: unterminated comment: no `*/` after this `/*`\n")
        .go();
    t.run(&["check", "--lds", "brace.lds"])
        .status(2)
        .stderr("secwrap: error: brace.lds:1:10: this `{` is never closed\n")
        .go();
    t.run(&["check", "--lds", "none.lds"])
        .status(2)
        .stderr("secwrap: error: none.lds:1:1: no `SECTIONS` command: give the linker script ld reads (the preprocessed `xen.lds` or `vmlinux.lds`, or `ld --verbose` output)\n")
        .go();
    t.run(&["check", "--lds", "missing.lds"])
        .status(2)
        .stderr("secwrap: error: missing.lds: cannot read the linker script: No such file or directory\n")
        .go();
}

/// `--json` for every kind of finding at once: one object per line, with
/// `check`, `subject`, `line`, `item` and `message`.
#[test]
fn json_for_every_kind() {
    if !require_compiler("gcc") {
        return;
    }
    let t = TestEnv::new()
        .env_remove("SECWRAP_LOG")
        .file("names.c", "int startup(void) { return 1; }\n")
        .file("b.c", B_C);
    t.run_program(
        "gcc",
        &[
            "-O2",
            "-ffunction-sections",
            "-c",
            "names.c",
            "-o",
            "names.o",
        ],
    )
    .go();
    t.run_program("gcc", &["-O2", "-c", "b.c", "-o", "b.o"])
        .go();
    let wrong = fixture("wrong-order.lds");
    let pre = fixture("xen-pre-seed.lds");
    let out = t
        .run(&[
            "check",
            "--json",
            "names.o",
            "b.o",
            "--lds",
            pre.to_str().unwrap(),
            "--lds",
            wrong.to_str().unwrap(),
        ])
        .status(1)
        .stdout_any()
        .go();
    let findings: Vec<serde_json::Value> = out
        .stdout_text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<(&str, &str, Option<u64>, &str)> = findings
        .iter()
        .map(|finding| {
            (
                finding["check"].as_str().unwrap(),
                finding["subject"].as_str().unwrap(),
                finding["line"].as_u64(),
                finding["item"].as_str().unwrap(),
            )
        })
        .collect();
    let (pre, wrong) = (pre.to_str().unwrap(), wrong.to_str().unwrap());
    assert_eq!(
        kinds,
        [
            ("special_name", "names.o", None, "startup"),
            ("not_recorded", "b.o", None, "bget"),
            ("not_gathered", pre, Some(18), ".text.*"),
            ("not_gathered", pre, Some(70), ".data.*"),
            ("not_gathered", pre, Some(78), ".bss.*"),
            ("catch_all_first", wrong, Some(29), ".text.entry"),
            ("catch_all_first", wrong, Some(33), ".text.cold"),
            ("catch_all_first", wrong, Some(34), ".text.unlikely"),
            ("catch_all_first", wrong, Some(79), ".data.read_mostly"),
        ]
    );
    for finding in &findings {
        let object = finding.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["check", "item", "line", "message", "subject"]);
        assert!(!finding["message"].as_str().unwrap().is_empty());
    }
}
