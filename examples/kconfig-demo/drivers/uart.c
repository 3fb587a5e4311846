/* Fake 8250 UART: "transmits" into a buffer, so the demo needs no I/O. */
#include "demo.h"

#define UART_TX_BUF 256

/* Initialised global: .data.uart_base */
unsigned long uart_base = CONFIG_UART_BASE;

/* Zero-initialised: .bss.uart_txbuf, .bss.uart_txpos. The buffer is
 * global so that the compiler cannot drop the writes into it as dead. */
char uart_txbuf[UART_TX_BUF];
static size_t uart_txpos;

/* Banner built from the Kconfig string CONFIG_LOCALVERSION: a const array,
 * so .rodata.uart_banner (unless the compiler folds it into the code). */
static const char uart_banner[] = "demo" CONFIG_LOCALVERSION "\n";

static void uart_putc(char c)
{
	uart_txbuf[uart_txpos++ % UART_TX_BUF] = c;
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

void uart_init(void)
{
	uart_txpos = 0;
	uart_puts(uart_banner);
}

size_t uart_tx_count(void)
{
	return uart_txpos;
}
