/* mem: Kasse's allocator entry point for jansson, with a per-request arena.
 *
 * A request builds and drops hundreds of small JSON values; with glibc malloc under many
 * threads that was about a seventh of a create-session request. While a request is being
 * handled its thread has a current arena: jansson's allocations come from it by bumping a
 * pointer, frees of them cost nothing, and the whole arena goes back in one step when the
 * request completes (http/server.c). Without a current arena (the store's writer thread, the
 * command line, unit tests) allocations come from malloc. Every block carries a one-word tag,
 * so a value can be freed on any thread whatever it came from. A thread-local fault injector
 * lets tests fail the Nth allocation, or every one from the Nth on (style habit 8); it counts
 * jansson's allocations and Kasse's own request-path ones (mem_malloc and friends), and the
 * store's writer runs a request's transaction with that request's injection state.
 *
 * An arena holds at most MEM_ARENA_MAX bytes. Past that (a request that parses thousands of
 * rows one after another) allocations come from malloc again and their frees are real: in an
 * arena nothing is given back before the request ends, so a request walking 10,000 orders kept
 * every parsed order alive at once (tens of MB per request, issue 9's RSS growth). Ordinary
 * requests use well under 64 KiB and never reach the bound. */
#include "lib/mem.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEM_ALIGN 16
#define TAG_MALLOC 0x6d616c6cu   /* "mall" */
#define TAG_ARENA 0x6172656eu    /* "aren" */

struct mem_chunk {
    struct mem_chunk *next;
    size_t size;                 /* usable bytes after this header */
    size_t used;
};

struct header {                  /* MEM_ALIGN bytes in front of every block */
    uint32_t tag;
    uint32_t pad[3];
};

static _Thread_local struct arena *current;
static _Thread_local struct mem_fault fault;

static void *tag_block(void *base, uint32_t tag)
{
    struct header *h = base;
    h->tag = tag;
    return (char *)base + sizeof *h;
}

static struct mem_chunk *chunk_new(size_t usable)
{
    struct mem_chunk *c = malloc(sizeof *c + MEM_ALIGN + usable);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = usable;
    c->used = 0;
    return c;
}

static char *chunk_data(struct mem_chunk *c)
{
    uintptr_t p = (uintptr_t)(c + 1);
    p = (p + MEM_ALIGN - 1) & ~(uintptr_t)(MEM_ALIGN - 1);
    return (char *)p;
}

/* The bytes a block of n takes in an arena (header and alignment), or 0 on overflow. */
static size_t arena_need(size_t n)
{
    size_t need = (sizeof(struct header) + n + MEM_ALIGN - 1) & ~(size_t)(MEM_ALIGN - 1);
    return need < n ? 0 : need;
}

static int arena_fits(const struct arena *a, size_t n)
{
    size_t need = arena_need(n);
    return need && need <= MEM_ARENA_MAX - a->bytes;
}

/* Call only when arena_fits(a, n); NULL when out of memory. */
static void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = arena_need(n);
    struct mem_chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        size_t usable = need > MEM_ARENA_CHUNK / 2 ? need : MEM_ARENA_CHUNK;
        struct mem_chunk *fresh = chunk_new(usable);
        if (!fresh)
            return NULL;
        if (usable == need && c) {          /* a big block: keep bumping in the current chunk */
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->head = fresh;
        }
        c = fresh;
    }
    void *base = chunk_data(c) + c->used;
    c->used += need;
    a->bytes += need;
    return tag_block(base, TAG_ARENA);
}

/* True when a test asked this allocation to fail. */
static bool injected_failure(void)
{
    if (fault.fired && fault.sticky)
        return true;
    if (fault.countdown > 0 && --fault.countdown == 0) {
        fault.fired = true;
        return true;
    }
    return false;
}

void *mem_alloc(size_t n)
{
    if (injected_failure())
        return NULL;
    if (current && arena_fits(current, n))
        return arena_alloc(current, n);
    if (n > SIZE_MAX - sizeof(struct header))
        return NULL;
    void *base = malloc(sizeof(struct header) + n);
    return base ? tag_block(base, TAG_MALLOC) : NULL;
}

void mem_free(void *p)
{
    if (!p)
        return;
    struct header *h = (struct header *)((char *)p - sizeof *h);
    if (h->tag == TAG_MALLOC) {
        h->tag = 0;
        free(h);
    }
    /* TAG_ARENA: returned with its arena. */
}

void mem_install(void)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
}

struct arena *mem_arena_enter(struct arena *a)
{
    struct arena *prev = current;
    current = a;
    return prev;
}

void mem_arena_leave(struct arena *prev)
{
    current = prev;
}

void mem_arena_free(struct arena *a)
{
    for (struct mem_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->bytes = 0;
}

void *mem_malloc(size_t n)
{
    return injected_failure() ? NULL : malloc(n);
}

void *mem_calloc(size_t n, size_t size)
{
    return injected_failure() ? NULL : calloc(n, size);
}

void *mem_realloc(void *p, size_t n)
{
    return injected_failure() ? NULL : realloc(p, n);
}

char *mem_strdup(const char *s)
{
    return injected_failure() ? NULL : strdup(s);
}

char *mem_strndup(const char *s, size_t n)
{
    return injected_failure() ? NULL : strndup(s, n);
}

void mem_fail_after(long n)
{
    fault = (struct mem_fault){.countdown = n};
}

void mem_fail_from(long n)
{
    fault = (struct mem_fault){.countdown = n, .sticky = true};
}

bool mem_fail_stop(void)
{
    bool fired = fault.fired;
    fault = (struct mem_fault){0};
    return fired;
}

struct mem_fault mem_fault_swap(struct mem_fault f)
{
    struct mem_fault old = fault;
    fault = f;
    return old;
}
