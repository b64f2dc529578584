/* Fuzz target: the whole pipeline (lp_convert_buffer: import, every pass, lowering, the TFLite
 * writer) on one input. Any input must give LP_OK with a non-empty flatbuffer or an error with a
 * one-line printable message; never a crash, a sanitizer report or a leak. External data is
 * refused (no base folder): the target reads no files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "liteport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_converter *c = lp_converter_new(NULL);
    if (!c) return 0;
    const void *out = NULL;
    size_t out_size = 0;
    lp_status st = lp_convert_buffer(c, data, size, NULL, &out, &out_size);
    fuzz_check_status(st, lp_converter_status(c), lp_converter_message(c));
    if (st == LP_OK && (!out || out_size < 8)) fuzz_fail("LP_OK without an output");
    lp_converter_free(c);
    return 0;
}
