/* maxrss OUT PROG ARGV0 ARGS...: run PROG, write "<ru_maxrss KiB> <exit status>" to OUT. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int st;
	pid_t pid;
	FILE *f;

	if (argc < 4)
		return 2;
	pid = fork();
	if (pid < 0)
		return 3;
	if (pid == 0) {
		execv(argv[2], argv + 3);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		return 4;
	f = fopen(argv[1], "w");
	if (!f)
		return 5;
	fprintf(f, "%ld %d\n", ru.ru_maxrss, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return fclose(f) ? 6 : 0;
}
