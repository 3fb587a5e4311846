/* Toy round-robin scheduler. Under -ffunction-sections -fdata-sections each
 * item below gets its own section, named in the comment next to it. */
#include "demo.h"

/* Initialised global: .data.sched_quantum */
unsigned int sched_quantum = 10;

/* Zero-initialised global: .bss.sched_runqueue */
unsigned int sched_runqueue[CONFIG_NR_CPUS];

/* Const table: .rodata.sched_prio_weight (nice-level weights, as in Linux) */
const unsigned short sched_prio_weight[8] = {
	1024, 820, 655, 526, 423, 335, 272, 215,
};

/* Explicitly placed: stays .data..read_mostly with or without the flags and
 * is matched by its own rule before the .data.* catch-all. */
unsigned int sched_nr_cpus __read_mostly = 1;

/* Same name as the static validate() in core/mem.c: both objects get a
 * ".text.validate" section and a local symbol "validate", so a livepatch tool
 * has to tell them apart by object file, not by name. */
static __attribute__((noinline)) int validate(unsigned int cpu)
{
	return cpu < sched_nr_cpus;
}

/* Error path: the cold attribute sends it to .text.unlikely.sched_bad_cpu.
 * gcc -O2 also clones it without the unused argument, so the section seen
 * is .text.unlikely.sched_bad_cpu.constprop.0: the kind of compiler-made
 * name livepatch tools have to cope with. */
static __cold __noreturn void sched_bad_cpu(unsigned int cpu)
{
	(void)cpu;
	panic("sched: bad cpu");
}

int sched_init(unsigned int nr_cpus)
{
	if (nr_cpus == 0 || nr_cpus > CONFIG_NR_CPUS)
		return -1;
	sched_nr_cpus = nr_cpus;
	return 0;
}

/* The unlikely() branch calling a cold function lets gcc -O2 split the
 * function: the hot part stays in .text.sched_pick, the error path becomes
 * "sched_pick.cold" in .text.unlikely.sched_pick (plain .text.unlikely
 * without -ffunction-sections). clang 14 does not split without profile
 * data. */
unsigned int sched_pick(unsigned int cpu)
{
	if (unlikely(!validate(cpu)))
		sched_bad_cpu(cpu);
	sched_runqueue[cpu] += sched_prio_weight[sched_runqueue[cpu] & 7];
	return sched_runqueue[cpu] / sched_quantum;
}
