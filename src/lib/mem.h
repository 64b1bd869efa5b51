/* mem: the allocator entry point for jansson values, with per-request arenas and a fault
 * injector (see mem.c). Ownership rule: a JSON value made while an arena is current must be
 * dead before that arena is freed; values that must outlive a request are made with no arena
 * current. */
#ifndef KASSE_MEM_H
#define KASSE_MEM_H

#include <stddef.h>

#define MEM_ARENA_CHUNK (16 * 1024)
#define MEM_ARENA_MAX (1024 * 1024)      /* bytes one arena holds; past it, malloc (mem.c) */

struct mem_chunk;

struct arena {
    struct mem_chunk *head;
    size_t bytes;                /* handed out, at most MEM_ARENA_MAX */
};

/* Routes jansson's allocations through mem_alloc/mem_free; call once at start. */
void mem_install(void);
void *mem_alloc(size_t n);
void mem_free(void *p);

/* Makes a the current arena of this thread (NULL: none) and returns the previous one, to be
 * given back to mem_arena_leave. */
struct arena *mem_arena_enter(struct arena *a);
void mem_arena_leave(struct arena *prev);
/* Frees every block of a at once; a is empty and reusable afterwards. */
void mem_arena_free(struct arena *a);

/* Tests: the nth allocation from now on this thread fails (0 turns it off). */
void mem_fail_after(long n);

#endif
