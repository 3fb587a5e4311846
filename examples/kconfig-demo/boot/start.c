/* Entry point. secwrap.toml excludes everything under boot/, so this
 * object is compiled without -ffunction-sections/-fdata-sections: its code
 * stays in plain .text (plus the explicit .head.text), its data in .data/.bss. */
#include "demo.h"

/* Zero-initialised: plain .bss here because this file is never split. */
unsigned int boot_stage;

static __noreturn void sys_exit(int code)
{
#if defined(__x86_64__) && defined(__linux__)
	__asm__ volatile("syscall" : : "a"(60 /* __NR_exit */), "D"(code)
			 : "rcx", "r11", "memory");
#else
	(void)code;
#endif
	for (;;)
		__asm__ volatile("" : : : "memory");
}

void panic(const char *msg)
{
	uart_puts("panic: ");
	uart_puts(msg);
	sys_exit(1);
}

/* First thing in the image: xen-like.lds places .head.text before every
 * other text section. ".head.text" rather than ".text.head" because under
 * -ffunction-sections a function called head() would also be ".text.head"
 * (the ambiguity Jan Beulich points out for .text.startup).
 * The kernel enters _start with a 16-byte aligned stack, not the 16n+8 a
 * call leaves, so on x86 ask the compiler to realign it. */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((force_align_arg_pointer))
#endif
__attribute__((section(".head.text"), used)) __noreturn void _start(void)
{
	boot_stage = 1;
	uart_init();
	timer_init(CONFIG_HZ);
	if (sched_init(CONFIG_NR_CPUS) != 0)
		panic("sched_init failed");

	boot_stage = 2;
	for (unsigned int cpu = 0; cpu < CONFIG_NR_CPUS; cpu++) {
		if (!mem_alloc(24 + cpu))
			panic("out of memory");
		sched_pick(cpu);
		timer_tick();
	}

	/* Exit status 0 when every step did what it should. */
	sys_exit(timer_jiffies() == CONFIG_NR_CPUS && mem_in_use() > 0 &&
		 uart_tx_count() > 0 ? 0 : 2);
}
