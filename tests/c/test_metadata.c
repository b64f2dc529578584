/* Unit test of the Android options through the public API (include/liteport.h): the TFLITE_METADATA
 * buffer, the appended ZIP of labels (checked against the ZIP format with a CRC-32 computed bit by
 * bit here, independently of the writer's table), option strings copied, determinism, and the
 * errors for bad options. Also lp_zip_stored directly (src/tflite/metadata.h).
 *
 *   build/tests/test_metadata FIXTURE_DIR     (fixtures: tests/c/make_onnx_fixtures.py)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liteport.h"
#include "tflite/metadata.h"

static int n_checks, n_failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        n_checks++;                                                           \
        if (!(cond)) {                                                        \
            n_failed++;                                                       \
            printf("FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);          \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

static const char *fx;
static const char *LABELS = "north\nsouth\neast\nwest\n";

static uint8_t *read_file(const char *rel, size_t *size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fx, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("cannot open %s (run tests/c/make_onnx_fixtures.py)\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    *size = (size_t)n;
    return p;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static unsigned rd16(const uint8_t *p) { return p[0] | p[1] << 8; }

/* CRC-32 (ISO 3309), one bit at a time */
static uint32_t crc_bits(const void *data, size_t n) {
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* Checks a whole ZIP at the end of buf: one stored entry `name` holding `data`. */
static void check_zip(const uint8_t *buf, size_t size, const char *name, const char *data) {
    CHECK(size > 22 && rd32(buf + size - 22) == 0x06054b50u, "end record at size - 22");
    const uint8_t *e = buf + size - 22;
    CHECK(rd16(e + 8) == 1 && rd16(e + 10) == 1, "one entry");
    CHECK(rd16(e + 20) == 0, "no comment");
    uint32_t cd_size = rd32(e + 12), cd_at = rd32(e + 16);
    CHECK(cd_at + cd_size == size - 22, "central directory right before the end record: %u + %u", cd_at, cd_size);
    const uint8_t *c = buf + cd_at;
    CHECK(rd32(c) == 0x02014b50u, "central directory header");
    CHECK(rd16(c + 10) == 0, "stored");
    size_t nl = strlen(name), dl = strlen(data);
    CHECK(rd32(c + 16) == crc_bits(data, dl), "crc %08x", rd32(c + 16));
    CHECK(rd32(c + 20) == dl && rd32(c + 24) == dl, "sizes");
    CHECK(rd16(c + 28) == nl && memcmp(c + 46, name, nl) == 0, "name");
    uint32_t at = rd32(c + 42);
    const uint8_t *l = buf + at; /* offsets count from the start of the file */
    CHECK(rd32(l) == 0x04034b50u, "local header at %u", at);
    CHECK(rd16(l + 8) == 0 && rd32(l + 14) == crc_bits(data, dl), "local header method and crc");
    CHECK(rd16(l + 26) == nl && rd16(l + 28) == 0, "local name length, no extra");
    CHECK(memcmp(l + 30, name, nl) == 0 && memcmp(l + 30 + nl, data, dl) == 0, "stored bytes");
    CHECK(l + 30 + nl + dl == c, "the central directory follows the entry");
}

static lp_options android_options(void) {
    lp_options o;
    memset(&o, 0, sizeof o);
    o.model_name = "compass";
    o.model_author = "tests";
    o.image_input = "image";
    o.n_image_norm = 1;
    o.image_mean[0] = 0.5f;
    o.image_std[0] = 0.25f;
    o.image_uint8 = 1;
    return o;
}

static void test_metadata_and_zip(const uint8_t *onnx, size_t n, const char *labels_path) {
    lp_options o = android_options();
    char name[32] = "compass";
    o.model_name = name;
    o.labels_file = labels_path;
    lp_converter *c = lp_converter_new(&o);
    strcpy(name, "XXXXXXX"); /* the converter keeps its own copy */
    const void *out;
    size_t size;
    lp_status st = lp_convert_buffer(c, onnx, n, NULL, &out, &size);
    CHECK(st == LP_OK, "%s", lp_converter_message(c));
    if (st != LP_OK) {
        lp_converter_free(c);
        return;
    }
    const uint8_t *b = out;
    CHECK(memcmp(b + 4, "TFL3", 4) == 0, "TFLite identifier");
    check_zip(b, size, "labels4.txt", LABELS);
    CHECK(find(b, size, "M001", 4) != NULL, "metadata identifier");
    CHECK(find(b, size, "TFLITE_METADATA", 15) != NULL, "metadata entry");
    CHECK(find(b, size, "compass", 7) != NULL && !find(b, size, "XXXXXXX", 7), "model name copied");
    const char *js = lp_converter_report_json(c);
    CHECK(strstr(js, "\"metadata\":{\"name\":\"compass\"") != NULL, "%s", js);
    CHECK(strstr(js, "\"uint8\":true,\"mean\":[127.5,127.5,127.5],\"std\":[63.75,63.75,63.75]") != NULL, "%s", js);
    CHECK(strstr(js, "\"labels\":{\"file\":\"labels4.txt\",\"output\":\"probability\",\"count\":4}") != NULL, "%s", js);
    CHECK(strstr(js, "\"tflite_dtype\":\"uint8\"") != NULL, "%s", js);
    CHECK(strstr(lp_converter_report_text(c), "image input 'image' RGB uint8 pixels, 4 labels") != NULL, "%s",
          lp_converter_report_text(c));

    /* the same conversion again gives the same bytes */
    uint8_t *first = malloc(size);
    memcpy(first, b, size);
    size_t size1 = size;
    st = lp_convert_buffer(c, onnx, n, NULL, &out, &size);
    CHECK(st == LP_OK && size == size1 && memcmp(out, first, size) == 0, "deterministic output");
    free(first);
    lp_converter_free(c);

    /* without metadata options: no metadata, no ZIP */
    c = lp_converter_new(NULL);
    st = lp_convert_buffer(c, onnx, n, NULL, &out, &size);
    CHECK(st == LP_OK && !find(out, size, "M001", 4) && rd32((const uint8_t *)out + size - 22) != 0x06054b50u,
          "plain model");
    CHECK(strstr(lp_converter_report_json(c), "\"metadata\":null") != NULL, "%s", lp_converter_report_json(c));
    lp_converter_free(c);
}

static void expect_error(const uint8_t *onnx, size_t n, const lp_options *o, lp_status want, const char *sub) {
    lp_converter *c = lp_converter_new(o);
    const void *out = (const void *)1;
    size_t size = 1;
    lp_status st = lp_convert_buffer(c, onnx, n, NULL, &out, &size);
    CHECK(st == want, "status %s, want %s: %s", lp_status_name(st), lp_status_name(want), lp_converter_message(c));
    CHECK(strstr(lp_converter_message(c), sub) != NULL, "message '%s' lacks '%s'", lp_converter_message(c), sub);
    CHECK(out == NULL && size == 0, "no output on failure");
    lp_converter_free(c);
}

static void test_errors(const uint8_t *onnx, size_t n, const char *labels_path) {
    char missing[1100], three[1100];
    snprintf(missing, sizeof missing, "%s/no_such_labels.txt", fx);
    snprintf(three, sizeof three, "%s/labels3.txt", fx);
    FILE *f = fopen(three, "wb");
    fputs("a\nb\nc\n", f);
    fclose(f);
    lp_options o = android_options();
    o.image_mean[0] = 127.0f;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "not on the 0-1 scale");
    o = android_options();
    o.image_std[0] = 0;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "std must be positive");
    o = android_options();
    o.n_image_norm = 5;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "at most 4");
    o = android_options();
    o.norm_scale = 100;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "norm scale 100");
    o = android_options();
    o.image_color_space = 9;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "unknown image color space 9");
    o = android_options();
    o.image_color_space = LP_COLOR_GRAYSCALE;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "color space grayscale needs 1");
    o = android_options();
    o.image_input = "nope";
    expect_error(onnx, n, &o, LP_ERR_INVALID, "--image-input 'nope' is not a model input (inputs: 'image')");
    o = android_options();
    o.keep_io_layout = 1;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "not height x width x channels");
    o = android_options();
    o.labels_file = missing;
    expect_error(onnx, n, &o, LP_ERR_IO, "no_such_labels.txt");
    o = android_options();
    o.labels_file = three;
    expect_error(onnx, n, &o, LP_ERR_INVALID, "has 3 labels; output 'probability' [batch,4] has 4 values");
    o = android_options();
    o.labels_file = labels_path;
    o.labels_output = "logits";
    expect_error(onnx, n, &o, LP_ERR_INVALID, "--labels-output 'logits' is not a model output");
    o = android_options();
    o.labels_output = "probability";
    expect_error(onnx, n, &o, LP_ERR_INVALID, "needs a labels file");
    o = android_options();
    o.model_license = "\xff\xfe";
    expect_error(onnx, n, &o, LP_ERR_INVALID, "the model license is not valid UTF-8");
}

static void test_zip_direct(void) {
    const char *names[2] = {"a.txt", "dir_less_name.bin"};
    const uint8_t d0[] = "alpha", d1[] = {0, 1, 2, 255};
    const uint8_t *data[2] = {d0, d1};
    size_t sizes[2] = {5, 4};
    lp_err err;
    lp_err_clear(&err);
    uint8_t *z;
    size_t n;
    /* as if 100 bytes of model came first: offsets are relative to that file */
    CHECK(lp_zip_stored(names, data, sizes, 2, 100, &z, &n, &err) == LP_OK, "%s", err.msg);
    uint8_t *file = calloc(100 + n, 1);
    memcpy(file + 100, z, n);
    const uint8_t *e = file + 100 + n - 22;
    CHECK(rd32(e) == 0x06054b50u && rd16(e + 10) == 2, "two entries");
    const uint8_t *c = file + rd32(e + 16);
    CHECK(rd32(c) == 0x02014b50u && rd32(c + 42) == 100, "first entry at 100");
    CHECK(rd32(file + rd32(c + 42)) == 0x04034b50u, "local header");
    const uint8_t *c2 = c + 46 + rd16(c + 28);
    CHECK(rd32(c2) == 0x02014b50u && rd32(c2 + 16) == crc_bits(d1, 4), "second entry crc");
    CHECK(rd32(file + rd32(c2 + 42)) == 0x04034b50u && memcmp(file + rd32(c2 + 42) + 30 + 17, d1, 4) == 0,
          "second entry data");
    free(file);
    free(z);
    CHECK(lp_zip_stored(names, data, sizes, 2, 0xFFFFFFF0ull, &z, &n, &err) == LP_ERR_LIMIT, "4 GB limit");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        printf("usage: test_metadata FIXTURE_DIR\n");
        return 2;
    }
    fx = argv[1];
    size_t n;
    uint8_t *onnx = read_file("classifier.onnx", &n);
    char labels[1100];
    snprintf(labels, sizeof labels, "%s/labels4.txt", fx);
    test_metadata_and_zip(onnx, n, labels);
    test_errors(onnx, n, labels);
    test_zip_direct();
    free(onnx);
    printf("test_metadata: %d checks, %d failed\n", n_checks, n_failed);
    return n_failed != 0;
}
