/* log: one-line diagnostics to stderr (never request bodies or credentials). */
#ifndef KASSE_LOG_H
#define KASSE_LOG_H

#include <stdio.h>

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silences log_info (tests, benchmarks); errors are always printed. */
void log_set_quiet(int quiet);
/* Where lines go (NULL: stderr). Tests that provoke thousands of expected errors send them
 * elsewhere; sanitizer reports still reach stderr. */
void log_set_stream(FILE *f);

#endif
