/* Bump allocator over a static heap. */
#include "demo.h"

/* Initialised global: .data.mem_limit */
size_t mem_limit = CONFIG_HEAP_SIZE;

/* Zero-initialised globals: .bss.mem_heap, .bss.mem_used */
static unsigned char mem_heap[CONFIG_HEAP_SIZE] __attribute__((aligned(16)));
size_t mem_used;

/* Const table: .rodata.mem_size_class */
const size_t mem_size_class[] = { 16, 32, 64, 128, 256, 512, 1024 };

/* Same name as the static validate() in core/sched.c (see there). */
static __attribute__((noinline)) int validate(size_t size)
{
	return size != 0 && size <= mem_limit - mem_used;
}

static size_t round_to_class(size_t size)
{
	for (size_t i = 0; i < sizeof(mem_size_class) / sizeof(mem_size_class[0]); i++)
		if (size <= mem_size_class[i])
			return mem_size_class[i];
	return (size + 15) & ~(size_t)15;
}

void *mem_alloc(size_t size)
{
	size = round_to_class(size);
	if (!validate(size))
		return NULL;
	void *p = &mem_heap[mem_used];
	mem_used += size;
	return p;
}

/* Only rewinds the bump pointer: clearing the heap in a loop would make gcc
 * emit a memset() call, and this freestanding image has no memset. */
void mem_reset(void)
{
	mem_used = 0;
}

size_t mem_in_use(void)
{
	return mem_used;
}
