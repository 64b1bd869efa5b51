/* Unit tests for lib/mem: arena blocks are aligned and live until the arena is freed, frees of
 * arena blocks are no-ops on any thread, malloc blocks are freed for real, jansson values built
 * in an arena work and can be dropped in any order, and the fault injector fails the Nth
 * allocation (or every one from the Nth on), and its state moves between threads whole. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mem.h"

/* Rule: arena blocks are 16-byte aligned, distinct, writable, and big blocks work too. */
static void test_arena_blocks(void **state)
{
    (void)state;
    struct arena a = {0};
    struct arena *prev = mem_arena_enter(&a);
    char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = mem_alloc((size_t)i * 37 + 1);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        memset(p[i], i, (size_t)i * 37 + 1);
    }
    char *big = mem_alloc(3 * MEM_ARENA_CHUNK);
    assert_non_null(big);
    memset(big, 0x5a, 3 * MEM_ARENA_CHUNK);
    for (int i = 0; i < 100; i++)
        assert_int_equal((unsigned char)p[i][(size_t)i * 37], (unsigned char)i);
    mem_free(p[3]);                      /* a no-op for arena blocks */
    mem_arena_leave(prev);
    mem_arena_free(&a);
    assert_null(a.head);
}

/* Rule: with no arena current, blocks come from malloc and are freed (LSan checks it). */
static void test_malloc_blocks(void **state)
{
    (void)state;
    void *p = mem_alloc(64);
    assert_non_null(p);
    memset(p, 1, 64);
    mem_free(p);
    mem_free(NULL);
}

static void *drop_value(void *arg)
{
    json_decref(arg);
    return NULL;
}

/* Rule: jansson values made in an arena can be dropped on another thread (a store writer),
 * and values made outside it stay valid after the arena is freed. */
static void test_jansson_in_arena_across_threads(void **state)
{
    (void)state;
    mem_install();
    json_t *outside = json_pack("{s:s}", "kept", "yes");
    struct arena a = {0};
    struct arena *prev = mem_arena_enter(&a);
    json_t *v = json_pack("{s:[i,i,i], s:s}", "n", 1, 2, 3, "s", "text");
    assert_non_null(v);
    json_object_set(v, "outside", outside);   /* an arena value holding a malloc value */
    pthread_t t;
    pthread_create(&t, NULL, drop_value, v);
    pthread_join(t, NULL);
    mem_arena_leave(prev);
    mem_arena_free(&a);
    assert_string_equal(json_string_value(json_object_get(outside, "kept")), "yes");
    json_decref(outside);
    json_set_alloc_funcs(malloc, free);
}

/* Rule: an arena holds at most MEM_ARENA_MAX bytes; past that, blocks come from malloc and a
 * free gives them back at once (a request that parses many rows one after another must not
 * keep them all; LSan checks the frees). */
static void test_arena_is_bounded(void **state)
{
    (void)state;
    struct arena a = {0};
    struct arena *prev = mem_arena_enter(&a);
    enum { N = 4 * MEM_ARENA_MAX / 4096 };
    static void *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = mem_alloc(4096 - 16);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0x3c, 4096 - 16);
    }
    assert_true(a.bytes <= MEM_ARENA_MAX);
    assert_true(a.bytes > MEM_ARENA_MAX - 4096);
    for (int i = 0; i < N; i++)
        mem_free(blocks[i]);             /* the ones past the bound are freed for real */
    /* jansson: a long loop of parse-and-drop stays within the bound too. */
    mem_install();
    for (int i = 0; i < 2000; i++) {
        json_t *v = json_pack("{s:i, s:s, s:[i,i,i]}", "i", i, "s", "a string of some length", "a",
                              1, 2, 3);
        assert_non_null(v);
        json_decref(v);
    }
    assert_true(a.bytes <= MEM_ARENA_MAX);
    json_set_alloc_funcs(malloc, free);
    mem_arena_leave(prev);
    mem_arena_free(&a);
}

/* Rule: the fault injector fails exactly the Nth allocation, then allocation works again. */
static void test_fail_after(void **state)
{
    (void)state;
    mem_fail_after(3);
    void *a = mem_alloc(8), *b = mem_alloc(8), *c = mem_alloc(8), *d = mem_alloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    mem_free(a);
    mem_free(b);
    mem_free(d);
    mem_fail_after(0);
}

/* Rule: from the Nth allocation on, every allocation fails until injection stops; stop says
 * whether a failure happened. */
static void test_fail_from(void **state)
{
    (void)state;
    mem_fail_from(2);
    void *a = mem_alloc(8), *b = mem_malloc(8), *c = mem_alloc(8);
    assert_non_null(a);
    assert_null(b);
    assert_null(c);
    assert_true(mem_fail_stop());
    void *d = mem_strdup("d");
    assert_non_null(d);
    mem_free(a);
    free(d);
    mem_fail_after(5);
    assert_false(mem_fail_stop());
}

/* Rule: the injection state moves between threads whole (the store's writer runs a caller's
 * job with it): a countdown swapped out counts nothing here, and comes back as it was left. */
static void test_fault_swap(void **state)
{
    (void)state;
    mem_fail_after(2);
    struct mem_fault f = mem_fault_swap((struct mem_fault){0});
    void *a = mem_alloc(8), *b = mem_alloc(8);       /* not counted: injection swapped out */
    assert_non_null(a);
    assert_non_null(b);
    mem_fault_swap(f);
    void *c = mem_alloc(8), *d = mem_alloc(8);
    assert_non_null(c);
    assert_null(d);
    assert_true(mem_fail_stop());
    mem_free(a);
    mem_free(b);
    mem_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_blocks),
        cmocka_unit_test(test_malloc_blocks),
        cmocka_unit_test(test_jansson_in_arena_across_threads),
        cmocka_unit_test(test_arena_is_bounded),
        cmocka_unit_test(test_fail_after),
        cmocka_unit_test(test_fail_from),
        cmocka_unit_test(test_fault_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
