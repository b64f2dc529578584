/* TFLite metadata (TFLITE_METADATA, "M001") and the ZIP of associated files.
 * Field ids and enum values: shared/FORMATS.md section 4 (tflite-support's metadata_schema.fbs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/passes.h"
#include "metadata.h"

/* metadata_schema.fbs numbering */
enum { CP_FEATURE = 1, CP_IMAGE = 2 };      /* ContentProperties union */
enum { PU_NORMALIZATION = 1 };              /* ProcessUnitOptions union */
enum { CS_RGB = 1, CS_GRAYSCALE = 2 };      /* ColorSpaceType */
enum { AF_TENSOR_AXIS_LABELS = 2 };         /* AssociatedFileType */

/* min_parser_version: the oldest metadata parser that knows every member written
 * (tflite-support's metadata_version.cc). Members newer than 1.0.0: subgraph-level input/output
 * process units and the tokenizer options 1.1.0, tensor groups 1.2.0, RegexTokenizerOptions 1.2.1,
 * AudioProperties 1.3.0, the SCANN_INDEX_FILE type 1.4.0, AssociatedFile.version 1.4.1,
 * CustomMetadata 1.5.0. liteport writes per-tensor process units, image and feature properties,
 * stats and TENSOR_AXIS_LABELS files, all 1.0.0 members; a new member goes into this rule. */
static const char *min_parser_version(void) { return "1.0.0"; }

static lp_fb_ref opt_string(lp_fb *b, const char *s) { return s && *s ? lp_fb_string(b, s) : 0; }

typedef struct tensor_md {
    const char *name;
    char description[256];
    int image;           /* ImageProperties content (else FeatureProperties) */
    int color_space;     /* CS_* */
    int64_t width, height;
    int n_norm;          /* NormalizationOptions values, 0 = none */
    float mean[4], std[4];
    int n_stats;         /* Stats values, 0 = none */
    float smin[4], smax[4];
    const char *labels;  /* TENSOR_AXIS_LABELS file name, or NULL */
    char labels_description[256];
} tensor_md;

static lp_fb_ref write_tensor(lp_fb *b, const tensor_md *t) {
    lp_fb_ref name = lp_fb_string(b, t->name);
    lp_fb_ref desc = opt_string(b, t->description);

    /* content: the union value first, then the Content table */
    lp_fb_ref props;
    if (t->image) {
        lp_fb_ref size = 0;
        if (t->width > 0 && t->height > 0 && t->width <= UINT32_MAX && t->height <= UINT32_MAX) {
            lp_fb_start(b);
            lp_fb_add_u32(b, 0, (uint32_t)t->width);
            lp_fb_add_u32(b, 1, (uint32_t)t->height);
            size = lp_fb_end(b);
        }
        lp_fb_start(b);
        lp_fb_add_i8(b, 0, (int8_t)t->color_space);
        lp_fb_add_ref(b, 1, size);
        props = lp_fb_end(b);
    } else {
        lp_fb_start(b);
        props = lp_fb_end(b); /* FeatureProperties has no fields */
    }
    lp_fb_start(b);
    lp_fb_add_u8(b, 0, t->image ? CP_IMAGE : CP_FEATURE);
    lp_fb_add_ref(b, 1, props);
    lp_fb_ref content = lp_fb_end(b);

    lp_fb_ref units = 0;
    if (t->n_norm) {
        lp_fb_ref mean = lp_fb_vec_f32(b, t->mean, t->n_norm);
        lp_fb_ref std = lp_fb_vec_f32(b, t->std, t->n_norm);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, mean);
        lp_fb_add_ref(b, 1, std);
        lp_fb_ref norm = lp_fb_end(b);
        lp_fb_start(b);
        lp_fb_add_u8(b, 0, PU_NORMALIZATION);
        lp_fb_add_ref(b, 1, norm);
        lp_fb_ref unit = lp_fb_end(b);
        units = lp_fb_vec_ref(b, &unit, 1);
    }

    lp_fb_ref stats = 0;
    if (t->n_stats) {
        lp_fb_ref mx = lp_fb_vec_f32(b, t->smax, t->n_stats);
        lp_fb_ref mn = lp_fb_vec_f32(b, t->smin, t->n_stats);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, mx); /* Stats: 0 max, 1 min */
        lp_fb_add_ref(b, 1, mn);
        stats = lp_fb_end(b);
    }

    lp_fb_ref files = 0;
    if (t->labels) {
        lp_fb_ref fname = lp_fb_string(b, t->labels);
        lp_fb_ref fdesc = opt_string(b, t->labels_description);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, fname);
        lp_fb_add_ref(b, 1, fdesc);
        lp_fb_add_i8(b, 2, AF_TENSOR_AXIS_LABELS);
        lp_fb_ref file = lp_fb_end(b);
        files = lp_fb_vec_ref(b, &file, 1);
    }

    lp_fb_start(b);
    lp_fb_add_ref(b, 0, name);
    lp_fb_add_ref(b, 1, desc);
    lp_fb_add_ref(b, 3, content);
    lp_fb_add_ref(b, 4, units);
    lp_fb_add_ref(b, 5, stats);
    lp_fb_add_ref(b, 6, files);
    return lp_fb_end(b);
}

static void describe_image(const lp_graph *g, const lp_options *o, const lp_tensor *t, tensor_md *m) {
    int64_t ch = t->dims[3];
    int cs = lp_image_color_space(o, ch);
    m->image = 1;
    m->color_space = cs == LP_COLOR_GRAYSCALE ? CS_GRAYSCALE : CS_RGB;
    m->height = t->dims[1];
    m->width = t->dims[2];
    char size[64] = "";
    if (m->width > 0 && m->height > 0) snprintf(size, sizeof size, " %lldx%lld", (long long)m->width, (long long)m->height);
    int nn = o->n_image_norm;
    if (t->dtype == LP_DT_U8) {
        /* the model takes raw pixels: no normalization for the app to do */
        snprintf(m->description, sizeof m->description,
                 "%s image%s: 8-bit pixel values 0-255 (normalized inside the model)",
                 cs == LP_COLOR_GRAYSCALE ? "Grayscale" : "RGB", size);
        /* identity normalization: code generators read process_units(0) of an image input
         * unconditionally (tflite-support's codegen), and NormalizeOp(0, 1) leaves uint8 pixels as they are */
        m->n_norm = 1;
        m->mean[0] = 0.0f;
        m->std[0] = 1.0f;
        m->n_stats = 1;
        m->smin[0] = 0.0f;
        m->smax[0] = 255.0f;
    } else {
        snprintf(m->description, sizeof m->description,
                 "%s image%s: pixel values 0-255%s", cs == LP_COLOR_GRAYSCALE ? "Grayscale" : "RGB", size,
                 nn ? ", normalized as (value - mean) / std" : "");
        /* without normalization options the model reads pixel values as they are: mean 0, std 1 */
        m->n_norm = nn ? nn : 1;
        m->n_stats = m->n_norm;
        for (int i = 0; i < m->n_stats; i++) {
            float mean = nn ? o->image_mean[i] : 0.0f, sd = nn ? o->image_std[i] : 1.0f;
            m->mean[i] = mean;
            m->std[i] = sd;
            /* the range the model sees for pixel values 0..255 */
            float a = (0.0f - mean) / sd, z = (255.0f - mean) / sd;
            m->smin[i] = a < z ? a : z;
            m->smax[i] = a < z ? z : a;
        }
    }
    (void)g;
}

lp_status lp_meta_build(const lp_graph *g, const lp_meta_in *in, uint8_t **out, size_t *size,
                        char min_parser[16], lp_err *err) {
    const lp_options *o = in->opt;
    *out = NULL;
    *size = 0;
    int n_in = g->inputs.n, n_out = g->outputs.n;
    tensor_md *md = calloc((size_t)(n_in + n_out) + 1, sizeof *md);
    lp_fb_ref *refs = calloc((size_t)(n_in + n_out) + 1, sizeof *refs);
    lp_fb b;
    lp_fb_init(&b);
    if (!md || !refs) {
        free(md);
        free(refs);
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    int img = lp_image_input_index(g, o);
    for (int i = 0; i < n_in; i++) {
        const lp_tensor *t = &g->t[g->inputs.v[i]];
        md[i].name = t->name;
        if (i == img) describe_image(g, o, t, &md[i]);
    }
    for (int i = 0; i < n_out; i++) {
        tensor_md *m = &md[n_in + i];
        m->name = g->t[g->outputs.v[i]].name;
        if (i == in->labels_output && in->labels_name) {
            m->labels = in->labels_name;
            snprintf(m->description, sizeof m->description, "Scores of the %d labels in %s", in->n_labels,
                     in->labels_name);
            snprintf(m->labels_description, sizeof m->labels_description, "Labels of the %d classes of '%s'",
                     in->n_labels, m->name);
        }
    }

    /* back to front: children before the tables that point at them */
    for (int i = n_in + n_out - 1; i >= 0; i--) refs[i] = write_tensor(&b, &md[i]);
    lp_fb_ref vin = lp_fb_vec_ref(&b, refs, n_in);
    lp_fb_ref vout = lp_fb_vec_ref(&b, refs + n_in, n_out);
    lp_fb_ref sgname = lp_fb_string(&b, "main");
    lp_fb_start(&b);
    lp_fb_add_ref(&b, 0, sgname);
    lp_fb_add_ref(&b, 2, vin);
    lp_fb_add_ref(&b, 3, vout);
    lp_fb_ref sub = lp_fb_end(&b);
    lp_fb_ref subs = lp_fb_vec_ref(&b, &sub, 1);

    snprintf(min_parser, 16, "%s", min_parser_version());
    lp_fb_ref name = lp_fb_string(&b, o->model_name && *o->model_name ? o->model_name : in->default_name);
    lp_fb_ref desc = opt_string(&b, o->model_description);
    lp_fb_ref version = opt_string(&b, o->model_version);
    lp_fb_ref author = opt_string(&b, o->model_author);
    lp_fb_ref license = opt_string(&b, o->model_license);
    lp_fb_ref mpv = lp_fb_string(&b, min_parser);
    lp_fb_start(&b);
    lp_fb_add_ref(&b, 0, name);
    lp_fb_add_ref(&b, 1, desc);
    lp_fb_add_ref(&b, 2, version);
    lp_fb_add_ref(&b, 3, subs);
    lp_fb_add_ref(&b, 4, author);
    lp_fb_add_ref(&b, 5, license);
    lp_fb_add_ref(&b, 7, mpv);
    lp_fb_ref root = lp_fb_end(&b);
    lp_fb_finish(&b, root, "M001");
    free(md);
    free(refs);

    lp_status st = LP_OK;
    uint64_t n = lp_fb_size(&b);
    uint8_t *buf = b.failed ? NULL : malloc((size_t)n);
    if (!buf) {
        st = lp_err_set(err, LP_ERR_NOMEM, "out of memory building the TFLite metadata");
    } else {
        /* no blobs: the literal bytes are the whole buffer, already in file order */
        memcpy(buf, b.buf + b.cap - b.lit, (size_t)n);
        *out = buf;
        *size = (size_t)n;
    }
    lp_fb_free(&b);
    return st;
}

/* ---------------- ZIP (stored entries) ---------------- */

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* the standard reflected polynomial 0xEDB88320; idempotent, so races are harmless */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint8_t *put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static uint8_t *put32(uint8_t *p, uint32_t v) {
    p = put16(p, v & 0xFFFF);
    return put16(p, v >> 16);
}

lp_status lp_zip_stored(const char *const *names, const uint8_t *const *data, const size_t *sizes, int n,
                        uint64_t base, uint8_t **out, size_t *size, lp_err *err) {
    *out = NULL;
    *size = 0;
    if (n <= 0 || n > 0xFFFF) return lp_err_set(err, LP_ERR_INTERNAL, "zip: %d entries", n);
    uint64_t total = 22; /* end of central directory record */
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (nl == 0 || nl > 0xFFFF) return lp_err_set(err, LP_ERR_INVALID, "associated file name of %zu bytes", nl);
        total += 30 + nl + (uint64_t)sizes[i] + 46 + nl;
    }
    /* without ZIP64 every size and offset must fit 32 bits */
    if (base + total > 0xFFFFFFFFull)
        return lp_err_set(err, LP_ERR_LIMIT, "the model and its associated files would pass 4 GB (a ZIP limit)");
    uint8_t *z = malloc((size_t)total);
    uint32_t *crc = malloc(sizeof(uint32_t) * (size_t)n), *at = malloc(sizeof(uint32_t) * (size_t)n);
    if (!z || !crc || !at) {
        free(z);
        free(crc);
        free(at);
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    /* a fixed date (1980-01-01 00:00, the DOS epoch) keeps the output reproducible */
    const unsigned dos_time = 0, dos_date = (0 << 9) | (1 << 5) | 1;
    uint8_t *p = z;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        crc[i] = crc32_of(data[i], sizes[i]);
        at[i] = (uint32_t)(base + (uint64_t)(p - z));
        p = put32(p, 0x04034b50u); /* local file header */
        p = put16(p, 10);          /* version needed: 1.0 (stored) */
        p = put16(p, 0);           /* flags */
        p = put16(p, 0);           /* method: stored */
        p = put16(p, dos_time);
        p = put16(p, dos_date);
        p = put32(p, crc[i]);
        p = put32(p, (uint32_t)sizes[i]); /* compressed size */
        p = put32(p, (uint32_t)sizes[i]); /* uncompressed size */
        p = put16(p, (unsigned)nl);
        p = put16(p, 0);           /* extra field length */
        memcpy(p, names[i], nl);
        p += nl;
        if (sizes[i]) memcpy(p, data[i], sizes[i]);
        p += sizes[i];
    }
    uint32_t cd_at = (uint32_t)(base + (uint64_t)(p - z));
    uint8_t *cd = p;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        p = put32(p, 0x02014b50u); /* central directory header */
        p = put16(p, 20);          /* made by: MS-DOS, spec 2.0 */
        p = put16(p, 10);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, dos_time);
        p = put16(p, dos_date);
        p = put32(p, crc[i]);
        p = put32(p, (uint32_t)sizes[i]);
        p = put32(p, (uint32_t)sizes[i]);
        p = put16(p, (unsigned)nl);
        p = put16(p, 0); /* extra */
        p = put16(p, 0); /* comment */
        p = put16(p, 0); /* disk number */
        p = put16(p, 0); /* internal attributes */
        p = put32(p, 0); /* external attributes */
        p = put32(p, at[i]);
        memcpy(p, names[i], nl);
        p += nl;
    }
    uint32_t cd_size = (uint32_t)(p - cd);
    p = put32(p, 0x06054b50u); /* end of central directory */
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, (unsigned)n);
    p = put16(p, (unsigned)n);
    p = put32(p, cd_size);
    p = put32(p, cd_at);
    p = put16(p, 0); /* no comment: the record ends the file */
    free(crc);
    free(at);
    *out = z;
    *size = (size_t)(p - z);
    return LP_OK;
}
