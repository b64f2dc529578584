/* liteport command-line tool: a thin wrapper over the library.
 *   liteport convert MODEL.onnx [-o OUT.tflite] [options]
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liteport.h"

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <unistd.h>

/* A model (or external data file) above LP_READ_MAX is memory-mapped; if another process
 * truncates it during the conversion, the next read of a vanished page raises SIGBUS. The library
 * installs no handlers (it may live in someone else's process); the tool turns the signal into
 * the usual one-line error. The output is an unnamed file until the very end (src/base/base.c),
 * so nothing is left behind. */
static const char *bus_input = "the model";

static void on_sigbus(int sig) {
    (void)sig;
    static const char a[] = "liteport: error: ", b[] = ": an input file shrank while it was being converted "
                                                         "(a memory-mapped model or external data file must not "
                                                         "change during a conversion)\n";
    (void)!write(2, a, sizeof a - 1);
    (void)!write(2, bus_input, strlen(bus_input));
    (void)!write(2, b, sizeof b - 1);
    _exit(1);
}

static void catch_sigbus(const char *input) {
    bus_input = input;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigaction(SIGBUS, &sa, NULL);
}
#else
static void catch_sigbus(const char *input) { (void)input; }
#endif

static void usage(FILE *f) {
    fprintf(f,
            "usage: liteport convert MODEL.onnx [-o OUT.tflite] [--keep-io-layout] [--no-layout-pass]\n"
            "                        [--no-fusions] [--dump-after PASS|all] [--batch N]\n"
            "                        [--input-shape NAME:D1,D2,...]... [--json] [--quiet]\n"
            "       liteport version\n");
}

/* MODEL.onnx -> MODEL.tflite beside it */
static char *default_output(const char *in) {
    size_t n = strlen(in);
    char *out = malloc(n + 8);
    if (!out) return NULL;
    memcpy(out, in, n + 1);
    if (n > 5 && strcmp(in + n - 5, ".onnx") == 0) out[n - 5] = 0;
    strcat(out, ".tflite");
    return out;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("liteport %s\n", LITEPORT_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "convert") != 0) {
        fprintf(stderr, "liteport: error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    lp_options opt = {0};
    const char *in = NULL, *out = NULL;
    int json = 0, quiet = 0;
    char shapes[4096] = "";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_next) out = argv[++i];
        else if (strcmp(a, "--keep-io-layout") == 0) opt.keep_io_layout = 1;
        else if (strcmp(a, "--no-layout-pass") == 0) opt.no_layout_pass = 1;
        else if (strcmp(a, "--no-fusions") == 0) opt.no_fusions = 1;
        else if (strcmp(a, "--dump-after") == 0 && has_next) opt.dump_after = argv[++i];
        else if (strcmp(a, "--batch") == 0 && has_next) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v <= 0 || v > 1 << 30) {
                fprintf(stderr, "liteport: error: --batch needs a positive integer\n");
                return 2;
            }
            opt.fix_batch = (int)v;
        } else if (strcmp(a, "--input-shape") == 0 && has_next) {
            size_t used = strlen(shapes), add = strlen(argv[i + 1]);
            if (used + add + 2 > sizeof shapes) {
                fprintf(stderr, "liteport: error: too many --input-shape values\n");
                return 2;
            }
            if (used) strcat(shapes, ";");
            strcat(shapes, argv[++i]);
        } else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) quiet = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "liteport: error: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!in) in = a;
        else {
            fprintf(stderr, "liteport: error: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!in) {
        usage(stderr);
        return 2;
    }
    if (shapes[0]) opt.input_shapes = shapes;
    char *def = NULL;
    if (!out) {
        def = default_output(in);
        if (!def) {
            fprintf(stderr, "liteport: error: out of memory\n");
            return 1;
        }
        out = def;
    }
    lp_converter *c = lp_converter_new(&opt);
    if (!c) {
        fprintf(stderr, "liteport: error: out of memory\n");
        free(def);
        return 1;
    }
    int rc = 0;
    catch_sigbus(in);
    lp_status st = lp_convert_file(c, in, out);
    /* the IR dump helps most when the conversion failed; with --json it goes to stderr so that
     * stdout stays one JSON document */
    if (opt.dump_after) fputs(lp_converter_dump(c), json ? stderr : stdout);
    if (st != LP_OK) {
        fprintf(stderr, "liteport: error: %s\n", lp_converter_message(c));
        rc = 1;
    } else {
        if (json) printf("%s\n", lp_converter_report_json(c));
        else if (!quiet) fputs(lp_converter_report_text(c), stdout);
    }
    lp_converter_free(c);
    free(def);
    return rc;
}
