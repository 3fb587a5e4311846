/* floor.c: the cheapest wrapper that can record a compiler's exit status.
 *
 * `floor PROGRAM ARGS...` runs PROGRAM (looked up on PATH, as a wrapper
 * named in CC is) with ARGS, waits for it and exits with its status: the
 * work every shim that must see the exit status does at the least (start,
 * spawn, wait). Built static by benches/bench.py with the system compiler,
 * so its figure is the physical floor of the benchmark's "over_floor"
 * column (issue 12).
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	pid_t pid;
	int status;

	if (argc < 2) {
		fputs("usage: floor PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	if (posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) {
		perror(argv[1]);
		return 127;
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status)) {
		/* Die of the same signal, as a transparent wrapper must. */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}
