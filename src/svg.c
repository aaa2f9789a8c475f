#include "src/svg.h"

#include <math.h>
#include <stdio.h>

#include "common/safe_file.h"

enum { W = 640, H = 420, L = 70, R = 20, T = 40, B = 60 };

static void bounds(const SvgSeries* s, int count, double* x0, double* x1, double* y0, double* y1) {
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
    for (int k = 0; k < count; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            *x0 = fmin(*x0, s[k].x[i]), *x1 = fmax(*x1, s[k].x[i]);
            *y0 = fmin(*y0, s[k].y[i]), *y1 = fmax(*y1, s[k].y[i]);
        }
    if (!isfinite(*x0)) *x0 = 0, *x1 = 1, *y0 = 0, *y1 = 1;
    double px = (*x1 - *x0) * 0.05 + 1e-9, py = (*y1 - *y0) * 0.05 + 1e-9;
    *x0 -= px, *x1 += px, *y0 -= py, *y1 += py;
}

void svg_axis(double lo, double hi, int ticks, SvgAxis* out) {
    if (!(hi > lo)) hi = lo + 1;
    double raw = (hi - lo) / (ticks > 0 ? ticks : 1);
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    int mult = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
    out->step = mult * mag;
    // A small tolerance so that a value on a tick (0.6 / 0.2 = 2.9999...) stays on it.
    double a = lo / out->step, b = hi / out->step;
    out->lo = floor(a + 1e-9 * fmax(1, fabs(a))) * out->step;
    out->hi = ceil(b - 1e-9 * fmax(1, fabs(b))) * out->step;
    out->count = (int)lround((out->hi - out->lo) / out->step) + 1;
    int e = (int)floor(log10(out->step) + 1e-9);
    out->decimals = e < 0 ? -e : 0;
}

// Tick i, exactly 0 where it should be (not -0.0 or 1e-17 from rounding).
static double tick(const SvgAxis* a, int i) {
    double v = a->lo + a->step * i;
    return fabs(v) < 1e-9 * a->step ? 0 : v;
}

static void write_series(SafeFile* svg, const SvgSeries* q, int k, double x0, double x1, double y0, double y1) {
#define PX(v) (L + ((v) - x0) / (x1 - x0) * (W - L - R))
#define PY(v) (H - B - ((v) - y0) / (y1 - y0) * (H - T - B))
    if (q->line) {
        safe_file_printf(svg, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%d\" points=\"", q->color,
                         q->radius ? q->radius : 2);
        for (int i = 0; i < q->n; i++)
            if (isfinite(q->x[i]) && isfinite(q->y[i])) safe_file_printf(svg, "%.1f,%.1f ", PX(q->x[i]), PY(q->y[i]));
        safe_file_printf(svg, "\"/>\n");
    } else {
        for (int i = 0; i < q->n; i++)
            if (isfinite(q->x[i]) && isfinite(q->y[i]))
                safe_file_printf(svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" fill-opacity=\"0.7\"/>\n",
                                 PX(q->x[i]), PY(q->y[i]), q->radius ? q->radius : 3, q->color);
    }
    safe_file_printf(svg, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>", W - R - 170,
                     T + 8 + 16 * k, q->color);
    safe_file_printf(svg, "<text x=\"%d\" y=\"%d\">%s</text>\n", W - R - 154, T + 17 + 16 * k, q->label);
#undef PX
#undef PY
}

int svg_plot(const char* path, const char* title, const char* xlabel, const char* ylabel, const SvgSeries* s,
             int count, HwErr* err) {
    SafeFile f;  // a temporary file renamed into place: no planted link is followed
    if (safe_file_begin(&f, path, err) < 0) return -1;
    SafeFile* svg = &f;
    double x0, x1, y0, y1;
    bounds(s, count, &x0, &x1, &y0, &y1);
    SvgAxis ax, ay;
    svg_axis(x0, x1, 5, &ax);
    svg_axis(y0, y1, 5, &ay);
    x0 = ax.lo, x1 = ax.hi, y0 = ay.lo, y1 = ay.hi;
#define PX(v) (L + ((v) - x0) / (x1 - x0) * (W - L - R))
#define PY(v) (H - B - ((v) - y0) / (y1 - y0) * (H - T - B))
    safe_file_printf(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "font-family=\"sans-serif\" font-size=\"12\">\n"
                          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    safe_file_printf(svg, "<text x=\"%d\" y=\"22\" font-size=\"15\">%s</text>\n", L, title);
    safe_file_printf(svg, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", L,
                     T, W - L - R, H - T - B);
    for (int i = 0; i < ax.count; i++) {
        double vx = tick(&ax, i);
        safe_file_printf(svg, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n", PX(vx), H - B + 18,
                         ax.decimals, vx);
    }
    for (int i = 0; i < ay.count; i++) {
        double vy = tick(&ay, i);
        safe_file_printf(svg, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", L - 6, PY(vy) + 4,
                         ay.decimals, vy);
        safe_file_printf(svg, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, W - R,
                         PY(vy), PY(vy));
    }
#undef PX
#undef PY
    safe_file_printf(svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (L + W - R) / 2, H - 18,
                     xlabel);
    safe_file_printf(svg, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">%s</text>\n",
                     (T + H - B) / 2, (T + H - B) / 2, ylabel);
    for (int k = 0; k < count; k++) write_series(svg, &s[k], k, x0, x1, y0, y1);
    safe_file_printf(svg, "</svg>\n");
    return safe_file_commit(&f, err);
}
