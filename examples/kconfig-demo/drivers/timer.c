/* Software timer counting ticks at CONFIG_HZ. */
#include "demo.h"

/* Zero-initialised: .bss.timer_jiffies_count */
unsigned long timer_jiffies_count;

/* Initialised: .data.timer_hz */
unsigned int timer_hz = CONFIG_HZ;

void timer_init(unsigned int hz)
{
	if (hz == 0)
		panic("timer: hz must be non-zero");
	timer_hz = hz;
	timer_jiffies_count = 0;
}

void timer_tick(void)
{
	timer_jiffies_count++;
}

unsigned long timer_jiffies(void)
{
	return timer_jiffies_count;
}
