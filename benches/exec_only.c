/* exec_only.c: a wrapper that only replaces itself with the compiler.
 *
 * `exec_only PROGRAM ARGS...` execvp()s PROGRAM: one exec and no second
 * process, what `#!/bin/sh` + `exec "$@"` does without the shell. It
 * cannot record an exit status, so it is below the floor a recording shim
 * can reach; the benchmark shows it to split the floor's cost into the exec
 * of a wrapper and the extra process (issue 12).
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: exec_only PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
