//! ELF analysis with the real compilers: `secwrap::diff` (which functions
//! and data items changed between two builds of an object, as
//! create-diff-object sees it), its refusals, and the `secwrap::check`
//! checks (split objects, special function names, orphan sections of a
//! linked image). Every C source is compiled in a temporary tree with
//! `-O2 -ffunction-sections -fdata-sections -c`, unless a test says
//! otherwise. The compilers run through the harness (`common`), so a warning
//! on stderr fails the test as any other run's would.
//!
//! What the compilers do that the expectations below depend on (gcc 12,
//! clang 14, x86-64):
//! - gcc splits a function whose cold path calls a cold function: the hot
//!   part `f` in `.text.f`, the cold part local `f.cold` in
//!   `.text.unlikely.f`; clang does not split without profile data;
//! - gcc clones a static function called with a constant
//!   (`f.constprop.0`) or taking a struct by value (`f.isra.0`), each in
//!   its own `.text.<clone>`; clang keeps the one function `f`;
//! - gcc puts string literals in per-function `.rodata.<fn>.str1.1`
//!   sections, clang in one shared `.rodata.str1.1`, where inserting a
//!   string moves every later one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use secwrap::livepatch::check::{Finding, check_image, check_special_names, check_split};
use secwrap::livepatch::diff::{
    Change, DiffError, ObjectDiff, diff_objects, diff_pair, diff_trees, render,
};
use secwrap::livepatch::elf::{ItemKind, ObjectError, read_items};

use crate::common::*;

/// The flags secwrap adds, after `-O2` as a build would have it.
const SPLIT: &[&str] = &["-O2", "-ffunction-sections", "-fdata-sections"];
const UNSPLIT: &[&str] = &["-O2"];

/// Compiling and linking in a test's tree.
trait Build {
    /// Compiles `source` into `object` (relative), with the source written
    /// beside it under the same stem and compiled from that directory, so
    /// two builds of one file in two directories differ only by the source.
    fn compile(&self, cc: &str, object: &str, source: &str, flags: &[&str]) -> PathBuf;

    /// Links `objects` into `image` with linker script `script`, as the
    /// kconfig-demo links a freestanding image.
    fn link(&self, cc: &str, image: &str, script: &Path, objects: &[PathBuf]) -> PathBuf;
}

impl Build for TestEnv {
    fn compile(&self, cc: &str, object: &str, source: &str, flags: &[&str]) -> PathBuf {
        let object_path = self.path(object);
        let source_path = object_path.with_extension("c");
        self.write(&source_path, source);
        let file_name = |path: &Path| path.file_name().unwrap().to_str().unwrap().to_string();
        let mut args: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        args.extend([
            "-c".to_string(),
            file_name(&source_path),
            "-o".to_string(),
            file_name(&object_path),
        ]);
        self.run_program(cc, &args)
            .cwd(object_path.parent().unwrap())
            .go();
        object_path
    }

    fn link(&self, cc: &str, image: &str, script: &Path, objects: &[PathBuf]) -> PathBuf {
        let image_path = self.path(image);
        let mut args: Vec<OsString> = vec![
            "-nostdlib".into(),
            "-static".into(),
            format!("-Wl,-T,{}", script.display()).into(),
            "-o".into(),
            image_path.clone().into(),
        ];
        args.extend(objects.iter().map(|object| object.clone().into_os_string()));
        self.run_program(cc, &args).go();
        image_path
    }
}

/// `source` built as `orig/<name>.o` and `patched` as `patched/<name>.o`.
fn two_builds(
    cc: &str,
    tree: &TestEnv,
    name: &str,
    original: &str,
    patched: &str,
) -> (PathBuf, PathBuf) {
    (
        tree.compile(cc, &format!("orig/{name}.o"), original, SPLIT),
        tree.compile(cc, &format!("patched/{name}.o"), patched, SPLIT),
    )
}

/// The changes as `render` words them, without the path.
fn summary(diff: &ObjectDiff) -> Vec<String> {
    diff.changes
        .iter()
        .map(|change| format!("{} {} `{}`", change.change, change.kind, change.name))
        .collect()
}

#[track_caller]
fn check_diff(cc: &str, original: &str, patched: &str, expected: &[&str]) {
    let tree = TestEnv::new();
    let (original, patched) = two_builds(cc, &tree, "unit", original, patched);
    let diff = diff_objects(&original, &patched).unwrap_or_else(|error| panic!("{cc}: {error}"));
    assert_eq!(summary(&diff), expected, "{cc}");
}

fn items_of(findings: &[Finding]) -> Vec<&str> {
    let mut items: Vec<&str> = findings
        .iter()
        .map(|finding| finding.item.as_str())
        .collect();
    items.sort_unstable();
    items
}

const THREE_FUNCTIONS: &str = "\
int counter = 1;
int get(void) { return counter; }
int scale(int x) { return x * 3; }
int add(int x, int y) { return x + y; }
";

const STRINGS: &str = "\
extern int puts(const char *);
void hello(void) { puts(\"hello\"); }
void other(void) { puts(\"other\"); }
";

/// A cold path calling a cold function: gcc moves it to `account.cold`.
const COLD_PATH: &str = "\
extern void report(const char *what, int value) __attribute__((cold));
extern int limit;
int total;
int account(int x)
{
	if (__builtin_expect(x > limit, 0)) {
		report(\"over limit\", x + 1);
		return -1;
	}
	total += x;
	return total;
}
";

/// A static function always called with the same constant: gcc clones it
/// as `scale.constprop.0`.
const CONSTANT_ARGUMENT: &str = "\
extern void sink(int);
static __attribute__((noinline)) int scale(int x, int factor)
{
	for (int i = 0; i < factor; i++)
		sink(x + i);
	return x * factor;
}
int run(int x) { return scale(x, 4); }
";

/// A static function taking a struct by value and using a few fields: gcc
/// clones it as `pick.isra.0`, passing only those fields.
const STRUCT_ARGUMENT: &str = "\
extern void sink(int);
struct sample { int a, b, c, d, e; long pad[8]; };
static __attribute__((noinline)) int pick(struct sample s)
{
	sink(s.a);
	sink(s.e);
	return s.c;
}
int use(struct sample *p) { return pick(*p) + pick(p[1]); }
";

/// Functions and data for the split checks and the images.
const PROGRAM: &str = "\
int counter = 1;
int zeroed;
const int table[4] = {1, 2, 3, 4};
static __attribute__((noinline)) int helper(int x) { return x * table[x & 3]; }
__attribute__((cold, noinline)) void report(int x) { zeroed = x; }
int work(int x)
{
	if (x > 100)
		report(x);
	return helper(x) + counter++;
}
";

/// The image's entry, in `.head.text` with or without the flags, as the
/// kconfig-demo's `boot/start.c`; and a variable placed by name in
/// `.data.read_mostly`, which Xen keeps as an output section of its own.
/// Orphaned by the scripts here, it is no split section: no finding.
const START: &str = "\
int work(int x);
extern int zeroed;
__attribute__((section(\".data.read_mostly\"))) int boot_mostly = 1;
__attribute__((section(\".head.text\"), noreturn)) void _start(void)
{
	zeroed = work(zeroed + boot_mostly);
	for (;;) {
	}
}
";

compiler_tests! {
    /// One changed function body: exactly that function.
    fn diff_changed_function_body(cc) {
        check_diff(
            cc,
            THREE_FUNCTIONS,
            &THREE_FUNCTIONS.replace("x * 3", "x * 5"),
            &["changed function `scale`"],
        );
    }
}

compiler_tests! {
    /// A changed literal changes the function using it, even when (clang)
    /// the literal lives in a shared `.rodata.str1.1` and the longer string
    /// moves the other function's literal.
    fn diff_changed_string_literal(cc) {
        check_diff(
            cc,
            STRINGS,
            &STRINGS.replace("\"hello\"", "\"hello, world\""),
            &["changed function `hello`"],
        );
    }
}

compiler_tests! {
    /// A new string before the others moves them all in clang's shared
    /// `.rodata.str1.1`; only the new function is reported.
    fn diff_inserted_string_moves_nothing(cc) {
        let patched = STRINGS.replace(
            "void hello",
            "void first(void) { puts(\"first, and long\"); }\nvoid hello",
        );
        check_diff(cc, STRINGS, &patched, &["added function `first`"]);
    }
}

compiler_tests! {
    /// A changed initialiser: the variable, not the functions reading it.
    fn diff_changed_initialiser(cc) {
        check_diff(
            cc,
            THREE_FUNCTIONS,
            &THREE_FUNCTIONS.replace("counter = 1", "counter = 2"),
            &["changed data `counter`"],
        );
    }
}

compiler_tests! {
    /// A function added and another removed.
    fn diff_function_added_and_removed(cc) {
        let patched = THREE_FUNCTIONS.replace(
            "int add(int x, int y) { return x + y; }",
            "int sub(int x, int y) { return x - y; }",
        );
        check_diff(
            cc,
            THREE_FUNCTIONS,
            &patched,
            &["removed function `add`", "added function `sub`"],
        );
    }
}

compiler_tests! {
    /// Two files with a `static helper` each; only `b.c`'s changes. Each
    /// object is diffed on its own, so the names never meet.
    fn diff_same_static_name_in_two_files(cc) {
        let file = |entry: &str, step: u32| {
            format!(
                "static __attribute__((noinline)) int helper(int x) {{ return x + {step}; }}\n\
                 int {entry}(int x) {{ return helper(x) * 2; }}\n"
            )
        };
        let tree = TestEnv::new();
        let (a_original, a_patched) =
            two_builds(cc, &tree, "a", &file("a_entry", 1), &file("a_entry", 1));
        let (b_original, b_patched) =
            two_builds(cc, &tree, "b", &file("b_entry", 2), &file("b_entry", 3));
        let a = diff_objects(&a_original, &a_patched).unwrap();
        let b = diff_objects(&b_original, &b_patched).unwrap();
        assert_eq!(summary(&a), Vec::<String>::new());
        assert_eq!(summary(&b), ["changed function `helper`"]);
        assert_eq!(b.changes[0].section, ".text.helper");
    }
}

compiler_tests! {
    /// Only the cold path changes. gcc: the cold part `account.cold` (in
    /// `.text.unlikely.account`) is reported, not its parent `account`,
    /// whose bytes and relocations stay the same (it jumps to the cold part
    /// through a relocation against `.text.unlikely.account`). A livepatch
    /// tool still has to replace the parent, the only way into the cold part:
    /// kpatch links the two as parent and child, klp-build counts the child's
    /// instructions in the parent's checksum. clang does not split, so the
    /// whole `account` changes.
    fn diff_cold_part(cc) {
        let patched = COLD_PATH.replace("x + 1", "x + 2");
        let expected: &[&str] = match cc {
            "gcc" => &["changed function `account.cold`"],
            _ => &["changed function `account`"],
        };
        check_diff(cc, COLD_PATH, &patched, expected);
        if cc == "gcc" {
            let tree = TestEnv::new();
            let object = tree.compile(cc, "cold.o", COLD_PATH, SPLIT);
            let items = read_items(&object).unwrap();
            let cold = items
                .items
                .iter()
                .find(|item| item.name == "account.cold")
                .unwrap();
            assert_eq!(cold.section, ".text.unlikely.account");
            assert!(items.unsplit.is_empty(), "{:?}", items.unsplit);
        }
    }
}

compiler_tests! {
    /// A changed constprop clone is reported under the clone's name (gcc);
    /// clang has no clone and reports the function.
    fn diff_constprop_clone(cc) {
        let patched = CONSTANT_ARGUMENT.replace("sink(x + i)", "sink(x - i)");
        let expected: &[&str] = match cc {
            "gcc" => &["changed function `scale.constprop.0`"],
            _ => &["changed function `scale`"],
        };
        check_diff(cc, CONSTANT_ARGUMENT, &patched, expected);
    }
}

compiler_tests! {
    /// A changed isra clone is reported under the clone's name (gcc);
    /// clang has no clone and reports the function. The change keeps the
    /// fields used, so the callers' argument passing stays the same.
    fn diff_isra_clone(cc) {
        let patched = STRUCT_ARGUMENT.replace("sink(s.a)", "sink(s.a + 1)");
        let expected: &[&str] = match cc {
            "gcc" => &["changed function `pick.isra.0`"],
            _ => &["changed function `pick`"],
        };
        check_diff(cc, STRUCT_ARGUMENT, &patched, expected);
    }
}

compiler_tests! {
    /// The same source built twice: no changes, exit status 0.
    fn diff_identical_rebuild(cc) {
        let tree = TestEnv::new();
        let source = format!("{STRINGS}{COLD_PATH}{CONSTANT_ARGUMENT}{STRUCT_ARGUMENT}");
        let (original, patched) = two_builds(cc, &tree, "same", &source, &source);
        let diff = diff_objects(&original, &patched).unwrap();
        assert_eq!(summary(&diff), Vec::<String>::new());
        let report = diff_pair(&original, &patched);
        assert_eq!(render(&report), (String::new(), String::new()));
        assert_eq!(report.status(), 0);
    }
}

compiler_tests! {
    /// An object compiled without the flags is refused, naming the function
    /// and its shared section.
    fn refuses_unsplit_object(cc) {
        let tree = TestEnv::new();
        let source = "int twice(int x) { return 2 * x; }\n";
        let original = tree.compile(cc, "orig/twice.o", source, SPLIT);
        let patched = tree.compile(cc, "patched/twice.o", source, UNSPLIT);
        let error = diff_objects(&original, &patched).unwrap_err();
        assert_eq!(
            error,
            DiffError::NotSplit {
                path: patched.clone(),
                symbol: "twice".to_string(),
                kind: ItemKind::Function,
                section: ".text".to_string(),
            }
        );
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` is not split: function `twice` is in `.text`; compile it with -ffunction-sections -fdata-sections",
                patched.display()
            )
        );
        let report = diff_pair(&original, &patched);
        assert_eq!(
            render(&report),
            (String::new(), format!("secwrap: error: {error}\n"))
        );
        assert_eq!(report.status(), 2);
    }
}

compiler_tests! {
    /// `-flto` objects hold IR, not code: gcc's are ELF with `.gnu.lto_*`
    /// sections, clang's are LLVM bitcode.
    fn refuses_lto_object(cc) {
        let tree = TestEnv::new();
        let object = tree.compile(
            cc,
            "lto.o",
            THREE_FUNCTIONS,
            &["-O2", "-flto", "-ffunction-sections", "-fdata-sections"],
        );
        let detail = match cc {
            "gcc" => ".gnu.lto_ sections",
            _ => "LLVM bitcode",
        };
        let expected = ObjectError::LtoIr {
            path: object.clone(),
            detail,
        };
        assert_eq!(read_items(&object).unwrap_err(), expected);
        assert_eq!(
            diff_objects(&object, &object).unwrap_err(),
            DiffError::Object(expected.clone())
        );
        assert_eq!(check_split(&object).unwrap_err(), expected);
        assert_eq!(
            expected.to_string(),
            format!(
                "`{}` holds LTO IR ({detail}), not code: livepatch diffs need objects compiled without -flto",
                object.display()
            )
        );
    }
}

compiler_tests! {
    /// Two trees of three objects, one changed: only that one is listed.
    fn tree_diff_one_of_three_changed(cc) {
        let tree = TestEnv::new();
        let b_source = "int b_work(int x) { return x + 1; }\nint b_data = 3;\n";
        for side in ["orig", "patched"] {
            tree.compile(cc, &format!("{side}/core/a.o"), THREE_FUNCTIONS, SPLIT);
            tree.compile(cc, &format!("{side}/drivers/c.o"), STRINGS, SPLIT);
        }
        tree.compile(cc, "orig/core/b.o", b_source, SPLIT);
        tree.compile(
            cc,
            "patched/core/b.o",
            &b_source.replace("x + 1", "x + 7"),
            SPLIT,
        );
        let report = diff_trees(&tree.path("orig"), &tree.path("patched"), &|_: &Path| None);
        let listed: Vec<(&Path, Vec<String>)> = report
            .objects
            .iter()
            .map(|object| (object.label.as_path(), summary(object.outcome.as_ref().unwrap())))
            .collect();
        assert_eq!(
            listed,
            [(
                Path::new("core/b.o"),
                vec!["changed function `b_work`".to_string()]
            )]
        );
        // The two identical objects are skipped unread, and counted.
        assert_eq!(
            render(&report),
            (
                "core/b.o: changed function `b_work`\n".to_string(),
                "secwrap: skipped 2 files: 2 identical\n".to_string(),
            )
        );
        assert_eq!(report.status(), 1);
    }
}

compiler_tests! {
    /// Objects on one side only are all added or all removed; an unsplit
    /// object that differs is refused, and the exit status says so; an
    /// identical one is skipped unread.
    fn tree_diff_one_sided_and_refused_objects(cc) {
        let tree = TestEnv::new();
        tree.compile(cc, "orig/gone.o", "int gone(void) { return 1; }\n", SPLIT);
        tree.compile(
            cc,
            "patched/new.o",
            "int fresh = 4;\nint made(void) { return fresh; }\n",
            SPLIT,
        );
        // Unsplit on both sides: skipped when identical, refused when not.
        tree.compile(cc, "orig/flat.o", THREE_FUNCTIONS, UNSPLIT);
        tree.compile(cc, "patched/flat.o", &THREE_FUNCTIONS.replace("x * 3", "x * 5"), UNSPLIT);
        tree.compile(cc, "orig/same.o", THREE_FUNCTIONS, UNSPLIT);
        tree.compile(cc, "patched/same.o", THREE_FUNCTIONS, UNSPLIT);
        let report = diff_trees(&tree.path("orig"), &tree.path("patched"), &|_: &Path| None);
        let paths: Vec<&Path> = report.objects.iter().map(|object| object.label.as_path()).collect();
        assert_eq!(
            paths,
            [Path::new("flat.o"), Path::new("gone.o"), Path::new("new.o")]
        );
        assert!(
            matches!(&report.objects[0].outcome, Err(DiffError::NotSplit { section, .. }) if section == ".text" || section == ".data")
        );
        assert_eq!(report.objects[1].patched, None);
        assert_eq!(report.objects[2].original, None);
        let (stdout, stderr) = render(&report);
        let status = report.status();
        assert_eq!(
            stdout,
            "gone.o: removed function `gone`\nnew.o: added data `fresh`\nnew.o: added function `made`\n"
        );
        assert!(
            stderr.starts_with("secwrap: error: `") && stderr.contains("flat.o` is not split"),
            "{stderr}"
        );
        assert!(
            stderr.ends_with("\nsecwrap: skipped 1 file: 1 identical\n"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 2, "{stderr}");
        assert_eq!(status, 2);
    }
}

compiler_tests! {
    /// (a) A split object: nothing to report.
    fn check_split_of_split_object(cc) {
        let tree = TestEnv::new();
        let object = tree.compile(cc, "program.o", PROGRAM, SPLIT);
        assert_eq!(check_split(&object).unwrap(), Vec::<Finding>::new());
    }
}

compiler_tests! {
    /// (a) An object built without the flags: one finding per function and
    /// data item, naming its shared section.
    fn check_split_of_unsplit_object(cc) {
        let tree = TestEnv::new();
        let object = tree.compile(cc, "program.o", PROGRAM, UNSPLIT);
        let findings = check_split(&object).unwrap();
        // gcc splits `work` even without the flags: its cold part
        // `work.cold` sits in the shared `.text.unlikely`. clang puts the
        // cold `report` in `.text.unlikely.` (trailing dot), also shared.
        let expected: &[&str] = match cc {
            "gcc" => &[
                "counter",
                "helper",
                "report",
                "table",
                "work",
                "work.cold",
                "zeroed",
            ],
            _ => &["counter", "helper", "report", "table", "work", "zeroed"],
        };
        assert_eq!(items_of(&findings), expected);
        let report = findings
            .iter()
            .find(|finding| finding.item == "report")
            .unwrap();
        let cold_section = match cc {
            "gcc" => ".text.unlikely",
            _ => ".text.unlikely.",
        };
        assert!(
            report
                .message
                .contains(&format!("shared section `{cold_section}`")),
            "{}",
            report.message
        );
        let work = findings
            .iter()
            .find(|finding| finding.item == "work")
            .unwrap();
        assert_eq!(
            work.to_string(),
            format!(
                "{}: work: function `work` is in the shared section `.text`, so -ffunction-sections did not take effect; \
                 rebuild the object with -ffunction-sections -fdata-sections last on the line \
                 (a later -fno-function-sections/-fno-data-sections wins)",
                object.display()
            )
        );
        let zeroed = findings
            .iter()
            .find(|finding| finding.item == "zeroed")
            .unwrap();
        assert!(
            zeroed
                .message
                .starts_with("data `zeroed` is in the shared section `.bss`, so -fdata-sections"),
            "{}",
            zeroed.message
        );
    }
}

compiler_tests! {
    /// (b) Functions named like the compiler's special sections, as Linux's
    /// check-function-names.sh finds them; `startup_late` is fine. gcc
    /// clones the static `exit` (called with a constant) as
    /// `exit.constprop.0`, in `.text.exit.constprop.0`.
    fn check_special_names_finds_collisions(cc) {
        let tree = TestEnv::new();
        let source = "\
    extern void sink(int);
    void startup(void) { sink(1); }
    void unlikely(void) { sink(2); }
    void hot(void) { sink(3); }
    void split(void) { sink(4); }
    void unknown(void) { sink(5); }
    void startup_late(void) { sink(6); }
    static __attribute__((noinline)) void exit(int code) { for (int i = 0; i < code; i++) sink(i); }
    void leave(void) { exit(3); }
    ";
        let mut flags = SPLIT.to_vec();
        flags.push("-ffreestanding");
        let object = tree.compile(cc, "names.o", source, &flags);
        let findings = check_special_names(&object).unwrap();
        let exit = match cc {
            "gcc" => "exit.constprop.0",
            _ => "exit",
        };
        let mut expected = vec![exit, "hot", "split", "startup", "unknown", "unlikely"];
        expected.sort_unstable();
        assert_eq!(items_of(&findings), expected);
        let message = |item: &str| {
            findings
                .iter()
                .find(|finding| finding.item == item)
                .unwrap()
                .message
                .clone()
        };
        assert_eq!(
            message("startup"),
            "function `startup` lands in `.text.startup`, the section gcc uses for constructors and main \
             (linker scripts send it to .init.text); rename it"
        );
        if cc == "gcc" {
            assert_eq!(
                message("exit.constprop.0"),
                "function `exit.constprop.0` lands in `.text.exit.constprop.0`, which `.text.exit.*` patterns \
                 take for `.text.exit`, the section gcc uses for destructors (linker scripts send it to \
                 .exit.text or discard it); rename `exit`"
            );
        }
    }
}

compiler_tests! {
    /// (d) Split objects, linker script without catch-alls: every split
    /// section is an orphan output section, reported once, with where ld
    /// put it and the fix.
    fn check_image_without_catch_alls(cc) {
        let tree = TestEnv::new();
        let objects = image_objects(cc, &tree, SPLIT);
        let image = tree.link(cc, "image", &lacking_script(&tree), &objects);
        let findings = check_image(&image).unwrap();
        assert_eq!(
            items_of(&findings),
            [".bss.zeroed", ".data.counter", ".text.helper", ".text.work"]
        );
        let work = findings
            .iter()
            .find(|finding| finding.item == ".text.work")
            .unwrap();
        let opening = "orphan section: the linker script does not gather split `.text.*` sections, \
                       so ld placed it at 0x";
        assert!(work.message.starts_with(opening), "{}", work.message);
        assert!(
            work.message
                .contains("after `_etext`, outside the executable range"),
            "{}",
            work.message
        );
        assert!(
            work.message.ends_with(
                "add `*(.text.*)` after the special `.text.*` patterns in the linker script's `.text` output section, as Xen 6ff9a7e62b does"
            ),
            "{}",
            work.message
        );
        let zeroed = findings
            .iter()
            .find(|finding| finding.item == ".bss.zeroed")
            .unwrap();
        assert!(
            zeroed
                .message
                .contains("`__bss_end`, outside the range boot code zeroes"),
            "{}",
            zeroed.message
        );
    }
}

compiler_tests! {
    /// (d) The same objects through the script with catch-alls: clean.
    fn check_image_with_catch_alls(cc) {
        let tree = TestEnv::new();
        let objects = image_objects(cc, &tree, SPLIT);
        let image = tree.link(cc, "image", &catch_all_script(), &objects);
        assert_eq!(check_image(&image).unwrap(), Vec::<Finding>::new());
    }
}

compiler_tests! {
    /// (d) Unsplit objects through the script without catch-alls: nothing
    /// split to orphan (`.text.unlikely`, `.rodata.str1.1` are not per-item).
    fn check_image_of_unsplit_objects(cc) {
        let tree = TestEnv::new();
        let objects = image_objects(cc, &tree, UNSPLIT);
        let image = tree.link(cc, "image", &lacking_script(&tree), &objects);
        assert_eq!(check_image(&image).unwrap(), Vec::<Finding>::new());
    }
}

compiler_tests! {
    /// (d) A relocatable object is not an image; (a) an image is not an
    /// object.
    fn check_image_and_check_split_want_the_right_file(cc) {
        let tree = TestEnv::new();
        let objects = image_objects(cc, &tree, SPLIT);
        let image = tree.link(cc, "image", &catch_all_script(), &objects);
        assert_eq!(
            check_image(&objects[0]).unwrap_err(),
            ObjectError::NotLinked {
                path: objects[0].clone()
            }
        );
        assert_eq!(
            check_split(&image).unwrap_err(),
            ObjectError::NotRelocatable {
                path: image.clone()
            }
        );
    }
}

/// A text file named like an object is refused as not ELF.
#[test]
fn refuses_text_file() {
    let tree = TestEnv::new();
    tree.write("notes.o", "not an object\n");
    let text = tree.path("notes.o");
    let expected = ObjectError::NotElf { path: text.clone() };
    assert_eq!(read_items(&text).unwrap_err(), expected);
    assert_eq!(check_image(&text).unwrap_err(), expected);
    assert_eq!(
        expected.to_string(),
        format!(
            "`{}` is not an ELF file: pass objects written by gcc or clang",
            text.display()
        )
    );
    let missing = tree.path("missing.o");
    assert!(matches!(read_items(&missing), Err(ObjectError::Io { path, .. }) if path == missing));
}

/// `check` judges the split from the symbol table and the section names
/// alone, reading no section contents: an object whose relocation names a
/// symbol that does not exist is refused by `diff`, which compares
/// relocations, and passes `check`.
#[test]
fn check_split_reads_no_relocations() {
    use object::{Object, ObjectSection};
    if !require_compiler("gcc") {
        return;
    }
    let tree = TestEnv::new();
    tree.compile(
        "gcc",
        "call.o",
        "int g(int);\nint f(int x) { return g(x) + 1; }\n",
        SPLIT,
    );
    let mut bytes = tree.read("call.o");
    let relocations = object::File::parse(&*bytes)
        .expect("an ELF object")
        .section_by_name(".rela.text.f")
        .and_then(|section| section.file_range())
        .expect("the relocations of `f`")
        .0;
    // The first Elf64_Rela's r_info: its symbol index is the upper half.
    let symbol_index = usize::try_from(relocations).unwrap() + 12;
    bytes[symbol_index..symbol_index + 4].copy_from_slice(&0x00ff_ffff_u32.to_le_bytes());
    tree.write("bad.o", &bytes);
    let bad = tree.path("bad.o");
    assert!(
        matches!(read_items(&bad), Err(ObjectError::Malformed { .. })),
        "{:?}",
        read_items(&bad)
    );
    assert_eq!(check_split(&bad).unwrap(), Vec::<Finding>::new());
}

/// Freestanding, non-PIE, like a hypervisor image (the kconfig-demo's
/// flags), plus `extra`.
fn image_objects(cc: &str, tree: &TestEnv, extra: &[&str]) -> Vec<PathBuf> {
    let mut flags = vec!["-ffreestanding", "-fno-pie", "-fno-stack-protector"];
    flags.extend_from_slice(extra);
    vec![
        tree.compile(cc, "program.o", PROGRAM, &flags),
        tree.compile(cc, "start.o", START, &flags),
    ]
}

/// The kconfig-demo's `xen-like.lds`, with the catch-alls Xen 6ff9a7e62b
/// added.
fn catch_all_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kconfig-demo/xen-like.lds")
}

/// `xen-like.lds` without its `*(.text.*)`, `*(.data.*)` and `*(.bss.*)`
/// lines: Xen's script before 6ff9a7e62b.
fn lacking_script(tree: &TestEnv) -> PathBuf {
    let script = std::fs::read_to_string(catch_all_script()).unwrap();
    let catch_alls = ["*(.text.*)", "*(.data.*)", "*(.bss.*)"];
    let kept: Vec<&str> = script
        .lines()
        .filter(|line| !catch_alls.contains(&line.trim()))
        .collect();
    assert_eq!(
        script.lines().count() - kept.len(),
        catch_alls.len(),
        "xen-like.lds should hold each catch-all on a line of its own"
    );
    tree.write("lacking.lds", kept.join("\n"));
    tree.path("lacking.lds")
}

/// `Change` and `ItemKind` print as `render` words them.
#[test]
fn change_words() {
    assert_eq!(
        [
            Change::Changed.to_string(),
            Change::Added.to_string(),
            Change::Removed.to_string()
        ],
        ["changed", "added", "removed"]
    );
    assert_eq!(
        [ItemKind::Function.to_string(), ItemKind::Data.to_string()],
        ["function", "data"]
    );
}
