/* Feeding samples to the reference interpreter, and `liteport run`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qint.h"

lp_status lp_q_data_opts(const lp_options *opt, lp_data_opts *o, lp_err *err) {
    memset(o, 0, sizeof *o);
    o->crop = opt->image_crop != 0;
    o->limit = opt->sample_limit;
    if (opt->sample_limit < 0) return lp_err_set(err, LP_ERR_INVALID, "the sample limit must be positive");
    /* the model's normalization (the same options as the metadata's), on the 0-1 scale the
     * loader applies it on: pixel / 255 first */
    if (opt->n_image_norm < 0 || opt->n_image_norm > 4)
        return lp_err_set(err, LP_ERR_INVALID, "image normalization: 1 to 4 mean/std values, not %d", opt->n_image_norm);
    float k = opt->norm_scale == 255 ? 1.0f / 255.0f : 1.0f;
    o->n_mean = o->n_std = opt->n_image_norm;
    for (int i = 0; i < opt->n_image_norm; i++) {
        o->mean[i] = opt->image_mean[i] * k;
        o->std[i] = opt->image_std[i] * k;
        if (!(o->std[i] != 0.0f) || o->std[i] != o->std[i] || o->mean[i] != o->mean[i])
            return lp_err_set(err, LP_ERR_INVALID, "image std must be a non-zero number and mean a number (channel %d)", i);
    }
    return LP_OK;
}

lp_status lp_q_feed(lp_run *r, lp_dataset *ds, int k) {
    lp_graph *g = r->g;
    lp_array *a = calloc((size_t)g->inputs.n + 1, sizeof(lp_array));
    if (!a) return lp_err_set(r->err, LP_ERR_NOMEM, "out of memory");
    lp_status st = lp_dataset_load(ds, k, a);
    if (st == LP_OK) {
        lp_run_reset(r);
        for (int i = 0; i < g->inputs.n && st == LP_OK; i++) st = lp_run_set_input(r, i, a[i].rank, a[i].dims, a[i].data);
    }
    for (int i = 0; i < g->inputs.n; i++) free(a[i].data);
    free(a);
    return st;
}

/* output value in ONNX layout (inverse of the output's io_perm), appended to a growing buffer */
typedef struct out_acc {
    lp_dtype dtype;
    int rank;
    int64_t dims[LP_MAX_RANK]; /* ONNX dims of one sample's output */
    lp_buf data;
    int64_t rows;              /* total along axis 0 */
} out_acc;

static lp_status append_output(lp_run *r, int oi, out_acc *acc, const char *name, lp_err *err) {
    const lp_tensor *T = &r->g->t[r->g->outputs.v[oi]];
    const lp_value *v = &r->v[r->g->outputs.v[oi]];
    int64_t od[LP_MAX_RANK], ostr[LP_MAX_RANK], s = 1;
    int perm[LP_MAX_RANK];
    for (int d = 0; d < v->rank; d++) perm[d] = T->has_io_perm ? T->io_perm[d] : d;
    for (int d = 0; d < v->rank; d++) od[perm[d]] = v->dims[d];
    if (acc->rows == 0 && acc->data.len == 0) {
        acc->dtype = v->dtype;
        acc->rank = v->rank;
        memcpy(acc->dims, od, sizeof od);
    } else {
        int same = acc->rank == v->rank && acc->dtype == v->dtype;
        for (int d = 1; d < v->rank && same; d++) same = acc->dims[d] == od[d];
        if (!same || v->rank == 0)
            return lp_err_set(err, LP_ERR_INVALID, "output '%s' changes shape between samples; cannot stack the results", name);
    }
    for (int d = v->rank - 1; d >= 0; d--) {
        ostr[d] = s;
        s *= od[d];
    }
    size_t es = lp_dtype_size(v->dtype);
    uint8_t *tmp = malloc((size_t)v->numel * es + 1);
    if (!tmp) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    /* walk the value in TFLite order, writing ONNX positions */
    int64_t idx[LP_MAX_RANK] = {0};
    for (int64_t i = 0; i < v->numel; i++) {
        int64_t o = 0;
        for (int d = 0; d < v->rank; d++) o += idx[d] * ostr[perm[d]];
        memcpy(tmp + (size_t)o * es, (const uint8_t *)v->data + (size_t)i * es, es);
        for (int d = v->rank - 1; d >= 0; d--) {
            if (++idx[d] < v->dims[d]) break;
            idx[d] = 0;
        }
    }
    lp_buf_append(&acc->data, tmp, (size_t)v->numel * es);
    free(tmp);
    if (acc->data.failed) return lp_err_set(err, LP_ERR_NOMEM, "out of memory collecting outputs");
    acc->rows += v->rank ? od[0] : 1;
    return LP_OK;
}

static void safe_name(char *out, size_t n, const char *name) {
    size_t k = 0;
    for (; name[k] && k + 1 < n; k++) {
        unsigned char ch = (unsigned char)name[k];
        out[k] = (isalnum(ch) || ch == '.' || ch == '-' || ch == '_') ? (char)ch : '_';
    }
    out[k] = 0;
    if (!k || !strcmp(out, ".") || !strcmp(out, "..")) snprintf(out, n, "output");
}

lp_status lp_run_samples(lp_graph *g, const lp_options *opt, const char *data_path, const char *out_dir, lp_err *err,
                         lp_buf *json) {
    lp_data_opts dopt;
    LP_Q_TRY(lp_q_data_opts(opt, &dopt, err));
    lp_dataset *ds = NULL;
    LP_Q_TRY(lp_dataset_open(&ds, data_path, g, &dopt, err));
    lp_run r;
    out_acc *acc = calloc((size_t)g->outputs.n + 1, sizeof(out_acc));
    lp_status st = lp_run_init(&r, g, err);
    if (!acc) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    int n = lp_dataset_count(ds);
    for (int k = 0; k < n && st == LP_OK; k++) {
        st = lp_q_feed(&r, ds, k);
        if (st == LP_OK) st = lp_run_invoke(&r);
        for (int i = 0; i < g->outputs.n && st == LP_OK; i++)
            st = append_output(&r, i, &acc[i], g->t[g->outputs.v[i]].name, err);
    }
    if (st == LP_OK) {
        lp_buf_printf(json, "{\"samples\":%d,\"data\":", n);
        lp_buf_json_str(json, data_path);
        lp_buf_puts(json, ",\"outputs\":[");
    }
    for (int i = 0; i < g->outputs.n && st == LP_OK; i++) {
        char nm[256];
        safe_name(nm, sizeof nm, g->t[g->outputs.v[i]].name);
        char *path = malloc(strlen(out_dir) + strlen(nm) + 8);
        if (!path) {
            st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
            break;
        }
        size_t dl = strlen(out_dir);
        while (dl > 1 && out_dir[dl - 1] == '/') dl--; /* "outputs/" -> "outputs/x.npy" */
        sprintf(path, "%.*s/%s.npy", (int)dl, out_dir, nm);
        lp_array a;
        a.dtype = acc[i].dtype;
        a.rank = acc[i].rank;
        memcpy(a.dims, acc[i].dims, sizeof a.dims);
        if (a.rank) a.dims[0] = acc[i].rows;
        a.data = acc[i].data.data;
        st = lp_npy_write(path, &a, err);
        if (st == LP_OK) {
            lp_buf_printf(json, "%s{\"name\":", i ? "," : "");
            lp_buf_json_str(json, g->t[g->outputs.v[i]].name);
            lp_buf_puts(json, ",\"file\":");
            lp_buf_json_str(json, path);
            lp_buf_puts(json, "}");
        }
        free(path);
    }
    if (st == LP_OK) lp_buf_puts(json, "]}");
    for (int i = 0; acc && i < g->outputs.n; i++) lp_buf_free(&acc[i].data);
    free(acc);
    lp_run_free(&r);
    lp_dataset_free(ds);
    return st;
}
