//! min_spawn.rs: the floor's work (benches/floor.c) written in Rust, built
//! as secwrap's default build is (static glibc, non-PIE): `min_spawn
//! PROGRAM ARGS...` runs PROGRAM (looked up on PATH) with glibc's
//! `posix_spawnp`, waits and exits with its status. Between it and the C
//! floor is what a Rust binary costs by itself; between it and secwrap is
//! secwrap's own work (issue 12). Built by benches/bench.py with `rustc`.
#![no_main]

use std::ffi::{CString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;

unsafe extern "C" {
    static environ: *const *const c_char;
    fn posix_spawnp(
        pid: *mut c_int,
        file: *const c_char,
        file_actions: *const u8,
        attributes: *const u8,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let args: Vec<CString> = std::env::args_os()
        .skip(1)
        .filter_map(|arg| CString::new(arg.as_bytes()).ok())
        .collect();
    if args.is_empty() {
        eprintln!("usage: min_spawn PROGRAM [ARGS...]");
        return 2;
    }
    let mut argv: Vec<*const c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
    argv.push(std::ptr::null());
    let (mut pid, mut status) = (0, 0);
    // SAFETY: argv is NULL-terminated and outlives the call; environ is
    // the process's environment.
    unsafe {
        if posix_spawnp(
            &mut pid,
            argv[0],
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr(),
            environ,
        ) != 0
        {
            return 127;
        }
        if waitpid(pid, &mut status, 0) != pid {
            return 1;
        }
    }
    // Exited: its code; killed: as a shell reports it.
    if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    }
}
