//! Build-system probes: a build tool's own test compiles, judged from the
//! whole command line (its inputs and outputs), not from a compile of the
//! tree.
//!
//! The shim keeps its warnings off them (their stderr is parsed), the
//! record marks them (`build_system_probe`), and the readers leave them out
//! of a build's objects. Recognised:
//! - Kbuild's `cc-option` family and Xen's `as-insn`: `-x c /dev/null`, or
//!   a source on stdin (`-`), or output to `/dev/null`;
//! - Kbuild's `try-run`: outputs under a `.tmp_$$` directory
//!   (`scripts/Makefile.compiler`); old Kbuild's `.tmp_foo.o` is a real
//!   object compiled under a temporary name, not a probe;
//! - autoconf: `conftest.c` compiled to `conftest.o` or `conftest`;
//! - Meson: sanity checks and compiler checks under `meson-private/`;
//! - CMake: `try_compile` under `CMakeFiles/CMakeScratch/` or
//!   `CMakeFiles/CMakeTmp/`, and compiler identification (`CompilerIdC/`);
//! - Xen: the EFI toolchain check, `arch/x86/efi/check.c` to `check.o`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Whether a job with these (absolute) inputs and outputs is a build
/// system's probe.
pub fn is_build_system_probe(inputs: &[PathBuf], outputs: &[PathBuf]) -> bool {
    inputs.iter().chain(outputs).any(|path| is_probe_path(path))
}

fn is_probe_path(path: &Path) -> bool {
    if path == Path::new("/dev/null") || path == Path::new("-") {
        return true;
    }
    let name = path.file_name().map_or(&b""[..], |name| name.as_bytes());
    let directories = || {
        path.parent()
            .into_iter()
            .flat_map(Path::components)
            .filter_map(|component| match component {
                Component::Normal(name) => Some(name.as_bytes()),
                _ => None,
            })
    };
    name.starts_with(b"conftest")
        || directories().any(|dir| {
            dir.starts_with(b".tmp_")
                || dir == b"meson-private"
                || dir == b"CMakeScratch"
                || dir == b"CMakeTmp"
                || dir == b"CompilerIdC"
                || dir == b"CompilerIdCXX"
        })
        || path.ends_with("efi/check.c")
        || path.ends_with("efi/check.o")
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
    fn probes_and_compiles() {
        // Kbuild cc-option / try-run, Xen as-insn.
        check(&["/dev/null"], &["/t/.tmp_1234/tmp.o"], true);
        check(&["-"], &["/dev/null"], true);
        check(&["/t/a.c"], &["/t/.tmp_4321/tmp.o"], true);
        // autoconf.
        check(&["/b/conftest.c"], &["/b/conftest.o"], true);
        check(&["/b/conftest.c"], &["/b/conftest"], true);
        // Meson and CMake.
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
            &["/b/CMakeFiles/CMakeScratch/TryCompile-x/src.c.o"],
            true,
        );
        check(
            &["/b/CMakeFiles/3.25.1/CompilerIdC/CMakeCCompilerId.c"],
            &["/b/CMakeFiles/3.25.1/CompilerIdC/a.out"],
            true,
        );
        // Xen's EFI check.
        check(
            &["/x/xen/arch/x86/efi/check.c"],
            &["/x/xen/arch/x86/efi/check.o"],
            true,
        );
        // Compiles of the tree, including renamed temporaries.
        check(&["/t/core/sched.c"], &["/t/core/sched.o"], false);
        check(&["/t/core/sched.c"], &["/t/core/.tmp_sched.o"], false);
        check(&["/t/x.c"], &["/t/.tmp_mc_x.o"], false);
        check(&["/t/arch/x86/.setup.o.tmp"], &[], false);
        check(&["/t/check.c"], &["/t/check.o"], false);
        check(&["/t/a.o", "/t/b.o"], &["/t/prog"], false);
    }
}
