/* Shared declarations for the kconfig-demo tree.
 *
 * The image is freestanding (no libc): only compiler-provided headers are
 * used, and nothing here may make the compiler call memset/memcpy, since
 * nothing provides them at link time. */
#ifndef DEMO_H
#define DEMO_H

#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* cold: gcc puts the function in .text.unlikely (.text.unlikely.<fn> with
 * -ffunction-sections). noinline keeps it a separate function to look at. */
#define __cold       __attribute__((cold, noinline))
#define __noreturn   __attribute__((noreturn))
/* Double dot on purpose (as Linux does): with -fdata-sections a variable
 * called read_mostly would get ".data.read_mostly", so a single-dot name
 * could not be told apart from the compiler's per-variable sections. */
#define __read_mostly __attribute__((section(".data..read_mostly")))

/* boot/start.c */
__noreturn void panic(const char *msg);

/* core/sched.c */
extern unsigned int sched_quantum;
int sched_init(unsigned int nr_cpus);
unsigned int sched_pick(unsigned int cpu);

/* core/mem.c */
void *mem_alloc(size_t size);
void mem_reset(void);
size_t mem_in_use(void);

/* drivers/uart.c */
void uart_init(void);
void uart_puts(const char *s);
size_t uart_tx_count(void);

/* drivers/timer.c */
void timer_init(unsigned int hz);
void timer_tick(void);
unsigned long timer_jiffies(void);

#endif /* DEMO_H */
