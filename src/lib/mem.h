/* mem: the allocator entry point for jansson values, with per-request arenas and a fault
 * injector (see mem.c). Ownership rule: a JSON value made while an arena is current must be
 * dead before that arena is freed; values that must outlive a request are made with no arena
 * current. */
#ifndef KASSE_MEM_H
#define KASSE_MEM_H

#include <stdbool.h>
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

/* Kasse's own allocations on request paths (buffers, copied strings, store rows, scratch):
 * plain malloc blocks, freed with free(), that count toward mem_fail_after like jansson's, so
 * a test reaches their failure paths too. */
void *mem_malloc(size_t n);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);

/* Tests (style habit 8): the nth allocation from now on this thread fails (0 turns it off). */
void mem_fail_after(long n);
/* The same, but the nth and every later allocation fail (memory stays exhausted) until
 * mem_fail_stop. */
void mem_fail_from(long n);
/* Turns injection off; true when an injected failure happened since it was set. */
bool mem_fail_stop(void);

/* A thread's injection state. The store's writer runs a caller's transaction with the caller's
 * state: it swaps it in for the job and hands back what the job left of it. */
struct mem_fault {
    long countdown;               /* > 0: that many allocations succeed, then one fails */
    bool sticky;                  /* after the failure, every allocation fails */
    bool fired;                   /* a failure happened */
};
struct mem_fault mem_fault_swap(struct mem_fault f);

#endif
