/* liteport command-line tool: a thin wrapper over the library.
 *   liteport convert MODEL.onnx [-o OUT.tflite] [options]
 *   liteport run MODEL.onnx --data DATA -o OUTDIR [options]
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
#include <sys/stat.h>
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
            "                        [--input-shape NAME:D1,D2,...]... [--weights-outside] [--json] [--quiet]\n"
            "                        [--metadata] [--model-name S] [--model-description S] [--model-version S]\n"
            "                        [--author S] [--license S] [--image-input NAME] [--color-space rgb|grayscale]\n"
            "                        [--mean M1,M2,M3] [--std S1,S2,S3] [--norm-scale 1|255] [--uint8-input]\n"
            "                        [--labels FILE] [--labels-output NAME]\n"
            "                        [--quantize float16|dynamic|int8] [--calibration DATA]\n"
            "                        [--eval-data DATA] [--percentile P] [--io-type float32|int8|uint8]\n"
            "                        [--samples N] [--crop]\n"
            "       liteport run MODEL.onnx --data DATA -o OUTDIR [convert options]\n"
            "       liteport version\n"
            "DATA: a folder (or file) of .npy arrays (ONNX layout) or PNG/JPEG/BMP/PGM/PPM images;\n"
            "images are scaled to 0..1, normalised by --mean/--std (the model's normalization, also\n"
            "written to the metadata) and resized to the input size.\n");
}

/* "0.485,0.456,0.406" -> up to 4 floats; returns the count, or -1 */
static int parse_floats(const char *s, float *v) {
    int n = 0;
    while (*s) {
        char *e;
        double x = strtod(s, &e);
        if (e == s || n == 4) return -1;
        v[n++] = (float)x;
        s = e;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
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
    int run = strcmp(argv[1], "run") == 0;
    if (strcmp(argv[1], "convert") != 0 && !run) {
        fprintf(stderr, "liteport: error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    lp_options opt = {0};
    const char *in = NULL, *out = NULL, *data = NULL;
    int json = 0, quiet = 0, n_mean = 0, n_std = 0;
    char shapes[4096] = "";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_next) out = argv[++i];
        else if (strcmp(a, "--keep-io-layout") == 0) opt.keep_io_layout = 1;
        else if (strcmp(a, "--no-layout-pass") == 0) opt.no_layout_pass = 1;
        else if (strcmp(a, "--no-fusions") == 0) opt.no_fusions = 1;
        else if (strcmp(a, "--weights-outside") == 0) opt.weights_outside = 1;
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
        } else if (strcmp(a, "--metadata") == 0) opt.metadata = 1;
        else if (strcmp(a, "--model-name") == 0 && has_next) opt.model_name = argv[++i];
        else if (strcmp(a, "--model-description") == 0 && has_next) opt.model_description = argv[++i];
        else if (strcmp(a, "--model-version") == 0 && has_next) opt.model_version = argv[++i];
        else if (strcmp(a, "--author") == 0 && has_next) opt.model_author = argv[++i];
        else if (strcmp(a, "--license") == 0 && has_next) opt.model_license = argv[++i];
        else if (strcmp(a, "--image-input") == 0 && has_next) opt.image_input = argv[++i];
        else if (strcmp(a, "--labels") == 0 && has_next) opt.labels_file = argv[++i];
        else if (strcmp(a, "--labels-output") == 0 && has_next) opt.labels_output = argv[++i];
        else if (strcmp(a, "--uint8-input") == 0) opt.image_uint8 = 1;
        else if (strcmp(a, "--color-space") == 0 && has_next) {
            const char *v = argv[++i];
            if (strcmp(v, "rgb") == 0) opt.image_color_space = LP_COLOR_RGB;
            else if (strcmp(v, "grayscale") == 0) opt.image_color_space = LP_COLOR_GRAYSCALE;
            else {
                fprintf(stderr, "liteport: error: --color-space is rgb or grayscale, not '%s'\n", v);
                return 2;
            }
        } else if ((strcmp(a, "--mean") == 0 || strcmp(a, "--std") == 0) && has_next) {
            int is_mean = a[2] == 'm';
            int n = parse_floats(argv[++i], is_mean ? opt.image_mean : opt.image_std);
            if (n <= 0) {
                fprintf(stderr, "liteport: error: %s needs 1 to 4 comma-separated numbers\n", a);
                return 2;
            }
            if (is_mean) n_mean = n;
            else n_std = n;
        } else if (strcmp(a, "--norm-scale") == 0 && has_next) {
            const char *v = argv[++i];
            if (strcmp(v, "1") == 0) opt.norm_scale = 1;
            else if (strcmp(v, "255") == 0) opt.norm_scale = 255;
            else {
                fprintf(stderr, "liteport: error: --norm-scale is 1 (PyTorch's 0-1 scale) or 255, not '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--quantize") == 0 && has_next) {
            const char *m = argv[++i];
            if (strcmp(m, "float16") == 0) opt.quantize = LP_QUANTIZE_FLOAT16;
            else if (strcmp(m, "dynamic") == 0) opt.quantize = LP_QUANTIZE_DYNAMIC;
            else if (strcmp(m, "int8") == 0) opt.quantize = LP_QUANTIZE_INT8;
            else {
                fprintf(stderr, "liteport: error: --quantize takes float16, dynamic or int8, not '%s'\n", m);
                return 2;
            }
        } else if (strcmp(a, "--io-type") == 0 && has_next) {
            const char *m = argv[++i];
            if (strcmp(m, "float32") == 0) opt.io_type = LP_IO_FLOAT32;
            else if (strcmp(m, "int8") == 0) opt.io_type = LP_IO_INT8;
            else if (strcmp(m, "uint8") == 0) opt.io_type = LP_IO_UINT8;
            else {
                fprintf(stderr, "liteport: error: --io-type takes float32, int8 or uint8, not '%s'\n", m);
                return 2;
            }
        } else if (strcmp(a, "--calibration") == 0 && has_next) opt.calibration = argv[++i];
        else if (strcmp(a, "--eval-data") == 0 && has_next) opt.eval_data = argv[++i];
        else if (strcmp(a, "--data") == 0 && has_next) data = argv[++i];
        else if (strcmp(a, "--crop") == 0) opt.image_crop = 1;
        else if (strcmp(a, "--percentile") == 0 && has_next) {
            char *e;
            double v = strtod(argv[++i], &e);
            if (*e || !(v >= 50 && v < 100)) {
                fprintf(stderr, "liteport: error: --percentile needs a number in [50, 100), e.g. 99.99\n");
                return 2;
            }
            opt.percentile = (float)v;
        } else if (strcmp(a, "--samples") == 0 && has_next) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v <= 0 || v > 1 << 30) {
                fprintf(stderr, "liteport: error: --samples needs a positive integer\n");
                return 2;
            }
            opt.sample_limit = (int)v;
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
    if (n_mean != n_std) {
        fprintf(stderr, "liteport: error: --mean and --std must come together with as many values\n");
        return 2;
    }
    opt.n_image_norm = n_mean;
    if (run && (!data || !out)) {
        fprintf(stderr, "liteport: error: run needs --data DATA and -o OUTDIR\n");
        return 2;
    }
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
    int rc = 0, made_dir = 0;
    catch_sigbus(in);
#if defined(__unix__) || defined(__APPLE__)
    /* run: the outputs folder is made when missing (and removed again if the run fails) */
    if (run) made_dir = mkdir(out, 0777) == 0;
#endif
    lp_status st = run ? lp_run_file(c, in, data, out) : lp_convert_file(c, in, out);
    /* the IR dump helps most when the conversion failed; with --json it goes to stderr so that
     * stdout stays one JSON document */
    if (opt.dump_after) fputs(lp_converter_dump(c), json ? stderr : stdout);
    if (st != LP_OK) {
        fprintf(stderr, "liteport: error: %s\n", lp_converter_message(c));
        rc = 1;
#if defined(__unix__) || defined(__APPLE__)
        if (made_dir) rmdir(out);
#endif
    } else {
        if (json) printf("%s\n", lp_converter_report_json(c));
        else if (!quiet) fputs(lp_converter_report_text(c), stdout);
    }
    lp_converter_free(c);
    free(def);
    return rc;
}
