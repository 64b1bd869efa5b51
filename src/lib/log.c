/* log: timestamped lines on stderr. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int quiet;
static FILE *stream;

void log_set_quiet(int q)
{
    quiet = q;
}

void log_set_stream(FILE *f)
{
    stream = f;
}

static void emit(const char *level, const char *fmt, va_list ap)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stream ? stream : stderr, "%s kasse %s %s\n", when, level, line);
}

void log_info(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error", fmt, ap);
    va_end(ap);
}
