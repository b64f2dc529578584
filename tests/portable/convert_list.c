/* Converts many models in one process (a qemu-user or sanitizer start-up is paid once, not per model).
 *
 *   convert_list [--misalign N] < LIST
 *
 * LIST holds one "MODEL.onnx<TAB>OUT.tflite" pair per line. For each pair one line is printed:
 * "ok" or "error <status name>: <message>". By default each model goes through lp_convert_file (the
 * CLI's path: the file is mapped). With --misalign N (1..63) the model is read into a heap buffer at
 * N bytes past a 64-byte boundary and converted with lp_convert_buffer_to_file, so every payload of
 * the file sits at a different alignment than in the mapped file: run under UBSan
 * (-fsanitize=alignment), a typed load from an unaligned payload stops the run.
 * Exit status: 0 when every line was processed (conversions may fail), 2 on a usage or I/O problem. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liteport.h"

static unsigned char *read_file(const char *path, size_t pad, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(pad + cap);
    while (b) {
        size_t got = fread(b + pad + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        unsigned char *nb = realloc(b, pad + cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return NULL;
    }
    *size = n;
    return b;
}

int main(int argc, char **argv) {
    size_t misalign = 0;
    if (argc == 3 && strcmp(argv[1], "--misalign") == 0) {
        misalign = (size_t)strtoul(argv[2], NULL, 10);
        if (misalign < 1 || misalign > 63) argc = 0;
    }
    if (argc != 1 && !(argc == 3 && misalign)) {
        fprintf(stderr, "usage: convert_list [--misalign 1..63] < LIST  (lines: MODEL.onnx<TAB>OUT.tflite)\n");
        return 2;
    }
    lp_converter *c = lp_converter_new(NULL);
    if (!c) return 2;
    static char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            fprintf(stderr, "convert_list: no tab in line '%s'\n", line);
            return 2;
        }
        *tab = 0;
        const char *in = line, *out = tab + 1;
        lp_status st;
        if (!misalign) {
            st = lp_convert_file(c, in, out);
        } else {
            /* 64 spare bytes so that base + misalign is off every alignment up to 64 */
            size_t size = 0;
            unsigned char *raw = read_file(in, 64 + 63, &size);
            if (!raw) {
                fprintf(stderr, "convert_list: cannot read '%s'\n", in);
                return 2;
            }
            unsigned char *base = raw + (64 - (size_t)((uintptr_t)raw % 64)) % 64 + misalign;
            memmove(base, raw + 64 + 63, size);
            char dir[sizeof line];
            snprintf(dir, sizeof dir, "%s", in);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0;
            else snprintf(dir, sizeof dir, ".");
            st = lp_convert_buffer_to_file(c, base, size, dir, out);
            free(raw);
        }
        if (st == LP_OK) printf("ok\n");
        else printf("error %s: %s\n", lp_status_name(st), lp_converter_message(c));
        fflush(stdout);
    }
    lp_converter_free(c);
    return 0;
}
