/* clock: Kasse's one clock, passed in wherever time matters. With --test-clock the control
 * API can move it forward (never back), so 60-minute tokens and 48-hour sessions are testable
 * in seconds. Times are milliseconds since the Unix epoch, UTC. */
#ifndef KASSE_CLOCK_H
#define KASSE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct kclock {
    bool testable;           /* --test-clock: the offset may be advanced (app_clock_advance) */
    int64_t offset_ms;       /* added to the system clock; only ever grows (atomic access) */
    int64_t fixed_ms;        /* unit tests: when non-zero, the clock reads fixed_ms + offset */
};

int64_t clock_now_ms(const struct kclock *c);
/* How far one advance of the test clock may move it (POST /kasse/v1/clock): 0..10 years. */
#define CLOCK_ADVANCE_MAX_S (10LL * 366 * 24 * 3600)
/* The offset now (ms), and raising it to at least offset_ms (never lowering it): how a node
 * takes on the test clock another node advanced (http/app.c app_clock_sync). */
int64_t clock_offset(const struct kclock *c);
void clock_raise(struct kclock *c, int64_t offset_ms);

/* The system's wall clock (CLOCK_REALTIME, no test offset), in ms: for instants several nodes
 * compare (outbox leases), which must not jump when the test clock is advanced. */
int64_t clock_wall_ms(void);
/* Elapsed time for durations and deadlines (CLOCK_MONOTONIC; not Kasse's clock). */
int64_t clock_monotonic_ms(void);
int64_t clock_monotonic_us(void);
/* The CLOCK_REALTIME instant ms from now, as pthread_cond_timedwait and
 * pthread_rwlock_timedwrlock take it. */
struct timespec;
void clock_deadline_in(struct timespec *out, int64_t ms);

/* 2019-05-13T14:51:46.288Z (contract 10.10). out must hold 32 bytes. */
void time_format_iso8601(int64_t ms, char out[32]);

#endif
