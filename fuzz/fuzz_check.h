/* Checks shared by the fuzz targets: what every result must look like. A broken rule aborts, which
 * libFuzzer (and the replay program) report as a crash with the input saved. */
#ifndef LP_FUZZ_CHECK_H
#define LP_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static inline void fuzz_fail(const char *why) {
    fprintf(stderr, "fuzz check failed: %s\n", why);
    abort();
}

/* st: the returned status; code/msg: what the library recorded */
static inline void fuzz_check_status(lp_status st, lp_status code, const char *msg) {
    if ((unsigned)st >= LP_STATUS_COUNT) fuzz_fail("status out of range");
    if (st == LP_ERR_INTERNAL) {
        fprintf(stderr, "internal error: %s\n", msg);
        fuzz_fail("LP_ERR_INTERNAL (a liteport bug, not a bad input)");
    }
    if (st == LP_OK) return;
    if (code != st) fuzz_fail("returned status differs from the recorded one");
    size_t n = strlen(msg);
    if (n == 0) fuzz_fail("an error without a message");
    if (!lp_utf8_valid(msg, n)) fuzz_fail("message is not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f) fuzz_fail("message is not one printable line");
}

#endif
