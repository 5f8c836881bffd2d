/* qr.c: QR codes as SVG through libqrencode (fsec/qr.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <qrencode.h>

#include "internal.h"

/* A growing string; on allocation failure it stays failed. */
typedef struct buf {
  char *p;
  size_t len, cap;
  int failed;
} buf;

static void put(buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(buf *b, const char *fmt, ...) {
  char tmp[192];
  va_list ap;
  int k;
  va_start(ap, fmt);
  k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (b->failed || k < 0 || (size_t)k >= sizeof tmp) {
    b->failed = 1;
    return;
  }
  if (b->len + (size_t)k + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    char *p;
    while (cap < b->len + (size_t)k + 1) cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, tmp, (size_t)k + 1);
  b->len += (size_t)k;
}

/* The path: for each row, "M x y h n v1 h -n z" per run of dark modules
 * (module (x,y) is dark when data[y*width+x] & 1), shifted by the border. */
static void runs(buf *b, const QRcode *q) {
  int x, y, w = q->width;
  for (y = 0; y < w; y++) {
    for (x = 0; x < w;) {
      int n = 0;
      while (x + n < w && (q->data[y * w + x + n] & 1)) n++;
      if (n > 0) {
        put(b, "M%d %dh%dv1h-%dz", x + FSEC_QR_BORDER, y + FSEC_QR_BORDER, n, n);
        x += n;
      } else {
        x++;
      }
    }
  }
}

int fsec_qr_svg(const char *text, size_t len, char **svg, size_t *svglen) {
  char copy[FSEC_QR_TEXT_MAX + 1];
  QRcode *q;
  buf b = {NULL, 0, 0, 0};
  int size;
  *svg = NULL;
  *svglen = 0;
  if (len > FSEC_QR_TEXT_MAX) return FSEC_ETOOLONG;
  if (len == 0 || text == NULL) return FSEC_EINVAL;
  if (memchr(text, '\0', len)) return FSEC_ENUL;
  memcpy(copy, text, len);
  copy[len] = '\0';
  /* casesensitive = 1: with 0 libqrencode upper-cases the letters */
  q = QRcode_encodeString(copy, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (q == NULL) return errno == ERANGE ? FSEC_ETOOLONG : FSEC_ENOMEM;
  size = q->width + 2 * FSEC_QR_BORDER;
  put(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">",
      size * FSEC_QR_MODULE_PX, size * FSEC_QR_MODULE_PX, size, size);
  put(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
      size, size);
  runs(&b, q);
  put(&b, "%s", "\"/></svg>\n");
  QRcode_free(q);
  if (b.failed) {
    free(b.p);
    return FSEC_ENOMEM;
  }
  *svg = b.p;
  *svglen = b.len;
  return FSEC_OK;
}

void fsec_qr_free(char *svg) { free(svg); }
