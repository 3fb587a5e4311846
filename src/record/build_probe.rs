//! Build-system probes: a build tool's own test compiles, judged from the
//! whole command line (what it reads and what it writes together), not
//! from one file name.
//!
//! This is the one classifier. The shim keeps its warnings off probes
//! (their stderr is parsed) and marks their records (`build_system_probe`);
//! for a record written before the mark existed, the readers run this on
//! the record's `inputs` and `output(s)` (the command line as parsed).
//! `log changed` and `diff`/`check --build` leave probes out of a build's
//! objects, `log export` out of `compile_commands.json`, and `log show`,
//! `log builds` and `secwrap run` count them apart. Recognised:
//!
//! - Kbuild's and Kconfig's `cc-option` family, Xen's `cc-option` and
//!   `as-insn`: a compile of `/dev/null` (`-x c /dev/null`), or of a source
//!   on stdin (`-`);
//! - Kbuild's `try-run` temporaries: anything under a `.tmp_<pid>`
//!   directory (`TMPOUT = .tmp_$$$$`, `scripts/Makefile.compiler`, Kconfig's
//!   `mkdir .tmp_$$`), or, before Linux 5.13, the files `.<pid>.tmp` and
//!   `.<pid>.o` (`TMP="$(TMPOUT).$$$$.tmp"`). Old Kbuild's `.tmp_foo.o` is a
//!   real object compiled under a temporary name, and `-o /dev/null` of a
//!   file of the tree (Xen's public-header checks) is a check of the tree:
//!   neither is a probe;
//! - autoconf: `conftest.<ext>` compiled to outputs named `conftest*`
//!   (`conftest`, `conftest.o`, `AC_PROG_CC_C_O`'s `conftest2.o`, libtool's
//!   `out/conftest2.o`) or to the default `a.out` (`_AC_COMPILER_EXEEXT`);
//!   a file named `conftest.c` compiled to anything else is the tree's;
//! - Meson: sanity checks and compiler checks in `meson-private/`;
//! - CMake: `try_compile` under `CMakeFiles/CMakeScratch/` (3.24+) or
//!   `CMakeFiles/CMakeTmp/`, and compiler identification under
//!   `CMakeFiles/<version>/CompilerId<LANG>/`;
//! - Xen: the EFI toolchain check, `arch/x86/efi/check.c` compiled to
//!   `arch/x86/efi/check.o` (`XEN_BUILD_EFI` in `xen/arch/x86/arch.mk`,
//!   `xen/arch/x86/Makefile` before 4.16), which is never linked.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::paths::normalize;

/// Whether a job with these (absolute) inputs and outputs is a build
/// system's probe. `-` among the inputs is stdin.
pub fn is_build_system_probe(inputs: &[PathBuf], outputs: &[PathBuf]) -> bool {
    inputs
        .iter()
        .any(|input| input == Path::new("/dev/null") || input == Path::new("-"))
        || inputs
            .iter()
            .chain(outputs)
            .any(|path| in_kbuild_temporary(path) || in_build_system_scratch(path))
        || is_autoconf_test(inputs, outputs)
        || is_xen_efi_check(inputs, outputs)
}

fn name_of(path: &Path) -> &[u8] {
    path.file_name().map_or(&b""[..], OsStr::as_bytes)
}

/// The directory names on the way to `path`.
fn directories(path: &Path) -> impl Iterator<Item = &[u8]> {
    path.parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|component| match component {
            Component::Normal(name) => Some(name.as_bytes()),
            _ => None,
        })
}

fn is_digits(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(u8::is_ascii_digit)
}

/// Under Kbuild's `.tmp_<pid>/`, or old Kbuild's `.<pid>.tmp`/`.<pid>.o`.
fn in_kbuild_temporary(path: &Path) -> bool {
    let old_name = name_of(path)
        .strip_prefix(b".")
        .and_then(|rest| {
            rest.strip_suffix(b".tmp")
                .or_else(|| rest.strip_suffix(b".o"))
        })
        .is_some_and(is_digits);
    old_name || directories(path).any(|dir| dir.strip_prefix(b".tmp_").is_some_and(is_digits))
}

/// In Meson's `meson-private/`, or in CMake's scratch and compiler-id
/// directories below a `CMakeFiles/`.
fn in_build_system_scratch(path: &Path) -> bool {
    let mut in_cmake_files = false;
    for dir in directories(path) {
        if dir == b"meson-private" {
            return true;
        }
        if in_cmake_files
            && (dir == b"CMakeScratch" || dir == b"CMakeTmp" || dir.starts_with(b"CompilerId"))
        {
            return true;
        }
        in_cmake_files |= dir == b"CMakeFiles";
    }
    false
}

/// `conftest.<ext>` (or `conftest<N>.<ext>`) compiled to `conftest*`
/// outputs, or to a default `a.out`, as autoconf's and libtool's tests.
fn is_autoconf_test(inputs: &[PathBuf], outputs: &[PathBuf]) -> bool {
    let is_conftest_source = |path: &PathBuf| {
        let name = name_of(path);
        name.strip_prefix(b"conftest")
            .and_then(|rest| {
                let dot = rest.iter().position(|&byte| byte == b'.')?;
                let (number, extension) = rest.split_at(dot);
                (number.iter().all(u8::is_ascii_digit) && extension.len() > 1).then_some(())
            })
            .is_some()
    };
    let is_conftest_output = |path: &PathBuf| {
        let name = name_of(path);
        name.starts_with(b"conftest")
            || [&b"a.out"[..], b"a.exe", b"b.out", b"a_out.exe"].contains(&name)
    };
    inputs.iter().any(is_conftest_source) && outputs.iter().all(is_conftest_output)
}

/// Xen's `arch/x86/efi/check.c` compiled to `arch/x86/efi/check.o`, in the
/// tree or out of it (`$(srctree)/$(efi-check).c -o $(efi-check).o`).
fn is_xen_efi_check(inputs: &[PathBuf], outputs: &[PathBuf]) -> bool {
    let ends_with = |paths: &[PathBuf], suffix: &str| {
        paths.iter().any(|path| normalize(path).ends_with(suffix))
    };
    ends_with(inputs, "arch/x86/efi/check.c") && ends_with(outputs, "arch/x86/efi/check.o")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(inputs: &[&str], outputs: &[&str], expected: bool) {
        let paths = |list: &[&str]| list.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            is_build_system_probe(&paths(inputs), &paths(outputs)),
            expected,
            "{inputs:?} -> {outputs:?}"
        );
    }

    #[test]
    fn kbuild_and_kconfig() {
        // Kbuild's cc-option: `-c -x c /dev/null -o "$$TMP"`, TMP under
        // `.tmp_$$$$`.
        check(&["/dev/null"], &["/t/.tmp_1234/tmp.o"], true);
        // Kconfig's cc-option: `-S -x c /dev/null -o /dev/null`.
        check(&["/dev/null"], &["/dev/null"], true);
        // `-E -dM -x c /dev/null`: no output file.
        check(&["/dev/null"], &[], true);
        // Kbuild's as-instr and Xen's as-insn: a source on stdin.
        check(&["-"], &["/dev/null"], true);
        check(&["-"], &["/t/.tmp_99/tmp"], true);
        // `scripts/tools-support-relr.sh`: stdin to a mktemp file.
        check(&["-"], &["/tmp/tmp.Zx81Kq"], true);
        // A file of the tree compiled into try-run's temporary directory.
        check(&["/t/a.c"], &["/t/.tmp_4321/tmp.o"], true);
        // Before Linux 5.13: `TMP="$(TMPOUT).$$$$.tmp"`, `TMPO=...$$$$.o`,
        // TMPOUT possibly an external module's directory.
        check(&["/dev/null"], &["/t/.4711.tmp"], true);
        check(&["/t/arch/x86/x.c"], &["/m/ext/.4711.o"], true);
    }

    #[test]
    fn kbuild_objects_of_the_tree() {
        check(&["/t/core/sched.c"], &["/t/core/sched.o"], false);
        // Old Kbuild's renamed temporary and recordmcount's: real objects.
        check(&["/t/core/sched.c"], &["/t/core/.tmp_sched.o"], false);
        check(&["/t/x.c"], &["/t/.tmp_mc_x.o"], false);
        // `.tmp_` not followed by a pid: not try-run's directory.
        check(&["/t/a.c"], &["/t/.tmp_versions/a.o"], false);
        check(&["/t/a.c"], &["/t/.tmp_/a.o"], false);
        check(&["/t/a.c"], &["/t/.12a.o"], false);
        // Xen's `.foo.o.tmp` before `objcopy`.
        check(
            &["/t/arch/x86/setup.c"],
            &["/t/arch/x86/.setup.o.tmp"],
            false,
        );
        // A check of the tree (Xen's public-header checks compile each
        // header `-S -o /dev/null`): not a probe, and writes no object.
        check(&["/x/xen/include/public/xen.h"], &["/dev/null"], false);
        // A link.
        check(&["/t/a.o", "/t/b.o"], &["/t/prog"], false);
        check(&[], &[], false);
    }

    #[test]
    fn autoconf() {
        check(&["/b/conftest.c"], &["/b/conftest.o"], true);
        check(&["/b/conftest.c"], &["/b/conftest"], true);
        check(&["/b/conftest.cpp"], &["/b/conftest.o"], true);
        // With a library named by path on the link line.
        check(
            &["/b/conftest.c", "/usr/lib/x86_64-linux-gnu/libm.a"],
            &["/b/conftest"],
            true,
        );
        // AC_PROG_CC_C_O, libtool's `_LT_COMPILER_C_O` (from `conftest/`).
        check(&["/b/conftest.c"], &["/b/conftest2.o"], true);
        check(
            &["/b/conftest/conftest.c"],
            &["/b/conftest/out/conftest2.o"],
            true,
        );
        // `_AC_COMPILER_EXEEXT_DEFAULT` links without `-o`; `$CPP` writes
        // to stdout.
        check(&["/b/conftest.c"], &["/b/a.out"], true);
        check(&["/b/conftest.c"], &[], true);
        // The name alone is not enough.
        check(&["/b/conftest.c"], &["/b/prog.o"], false);
        check(&["/t/a.c"], &["/t/conftest.o"], false);
        check(&["/t/conftest_helper.c"], &["/t/conftest_helper.o"], false);
        check(&["/t/conftest"], &["/t/conftest.o"], false);
        check(&["/t/conftest."], &["/t/conftest.o"], false);
    }

    #[test]
    fn meson_and_cmake() {
        check(
            &["/b/meson-private/sanitycheckc.c"],
            &["/b/meson-private/sanitycheckc.exe"],
            true,
        );
        check(
            &["/b/meson-private/tmpab12/testfile.c"],
            &["/b/meson-private/tmpab12/output.obj"],
            true,
        );
        check(
            &["/b/CMakeFiles/CMakeScratch/TryCompile-x/src.c"],
            &["/b/CMakeFiles/CMakeScratch/TryCompile-x/CMakeFiles/cmTC_1.dir/src.c.o"],
            true,
        );
        // CheckTypeSize's source lives beside, the object in CMakeTmp.
        check(
            &["/b/CMakeFiles/CheckTypeSize/SIZEOF_INT.c"],
            &["/b/CMakeFiles/CMakeTmp/CMakeFiles/cmTC_2.dir/SIZEOF_INT.c.o"],
            true,
        );
        check(
            &["/b/CMakeFiles/3.25.1/CompilerIdC/CMakeCCompilerId.c"],
            &["/b/CMakeFiles/3.25.1/CompilerIdC/a.out"],
            true,
        );
        check(
            &["/b/CMakeFiles/3.25.1/CompilerIdCUDA/CMakeCUDACompilerId.cu"],
            &["/b/CMakeFiles/3.25.1/CompilerIdCUDA/a.out"],
            true,
        );
        // A project's own compile, through CMake's object directories.
        check(&["/s/main.c"], &["/b/CMakeFiles/prog.dir/main.c.o"], false);
        // `CMakeTmp` that is not CMake's.
        check(&["/s/CMakeTmp/x.c"], &["/s/CMakeTmp/x.o"], false);
    }

    #[test]
    fn xen_efi_check() {
        check(
            &["/x/xen/arch/x86/efi/check.c"],
            &["/x/xen/arch/x86/efi/check.o"],
            true,
        );
        // Before 4.16, from `xen/arch/x86`; out of the tree since.
        check(
            &["/x/xen/arch/x86/./efi/check.c"],
            &["/x/xen/arch/x86/efi/../efi/check.o"],
            true,
        );
        check(
            &["/src/xen/xen/arch/x86/efi/check.c"],
            &["/build/xen/arch/x86/efi/check.o"],
            true,
        );
        // Other `check.c` files are the tree's.
        check(&["/t/check.c"], &["/t/check.o"], false);
        check(
            &["/t/drivers/efi/check.c"],
            &["/t/drivers/efi/check.o"],
            false,
        );
        check(
            &["/x/xen/arch/x86/efi/check.c"],
            &["/x/xen/arch/x86/efi/other.o"],
            false,
        );
    }
}
