/* floor.c: the cheapest wrapper that can record a compiler's exit status.
 *
 * `floor PROGRAM ARGS...` runs PROGRAM (looked up on PATH, as a wrapper
 * named in CC is) with ARGS, waits for it and exits with its status: the
 * work every shim that must see the exit status does at the least (start,
 * spawn, wait). Built static by benches/bench.py with the system compiler,
 * so its figure is the physical floor of the benchmark's "over_floor"
 * column (issue 12).
 *
 * Built with -DSTAGE_TIMES (benches/stages.py), it notes the
 * CLOCK_MONOTONIC time of the stages it shares with secwrap's shim and
 * prints them at the end, as secwrap's `stage-timing` build does
 * (src/stages.rs), when SECWRAP_STAGE_TIMES is set. With FLOOR_TOUCH=FILE:N
 * it also maps FILE and reads one byte in each of its first N 64 KiB
 * windows before spawning, as a bigger program's code would be faulted in
 * (the kernel maps up to 16 pages around each fault): what that costs, at
 * the fault and at exit, shows apart from everything else a program does.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

extern char **environ;

#ifdef STAGE_TIMES
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
static struct { const char *stage; long long ns; } marks[8];
static int nmarks;
static void mark(const char *stage)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	marks[nmarks].stage = stage;
	marks[nmarks++].ns = now.tv_sec * 1000000000LL + now.tv_nsec;
}
static void report(void)
{
	char text[512];
	int len = 0;

	if (!getenv("SECWRAP_STAGE_TIMES"))
		return;
	for (int i = 0; i < nmarks; i++)
		len += snprintf(text + len, sizeof(text) - len, "stage %s %lld\n",
				marks[i].stage, marks[i].ns);
	fwrite(text, 1, len, stderr);
}
static void touch_windows(void)
{
	char *spec = getenv("FLOOR_TOUCH"), *colon;
	volatile const char *map;
	struct stat st;
	long windows, sum = 0;
	int fd;

	if (!spec || !(colon = strrchr(spec, ':')))
		return;
	*colon = 0;
	windows = atol(colon + 1);
	fd = open(spec, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return;
	for (long at = 0; at < st.st_size && at / 65536 < windows; at += 65536)
		sum += map[at];
	(void)sum;
}
#else
#define mark(stage) ((void)0)
#define report() ((void)0)
#define touch_windows() ((void)0)
#endif

int main(int argc, char **argv)
{
	pid_t pid;
	int status;

	mark("main");
	if (argc < 2) {
		fputs("usage: floor PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	touch_windows();
	mark("spawn");
	if (posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) {
		perror(argv[1]);
		return 127;
	}
	mark("spawned");
	while (waitpid(pid, &status, 0) < 0)
		;
	mark("waited");
	mark("exit");
	report();
	if (WIFSIGNALED(status)) {
		/* Die of the same signal, as a transparent wrapper must. */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}
