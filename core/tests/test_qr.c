/* test_qr.c: the SVG of fsec_qr_svg draws exactly libqrencode's dark
 * modules (parsed back from the path), for the otpauth URI of the worked
 * example: version 6, 41x41 at level M (wave2.md §2.7). */
#include <qrencode.h>

#include "fsec.h"
#include "test.h"

#define URI                                                            \
  "otpauth://totp/fsec-test:alice@example.com?secret=IIUGK3DNVW2XM3VN" \
  "6UPAHIAUMJGITENS&issuer=fsec-test"
#define B FSEC_QR_BORDER

/* Paint the path's rectangles ("M x y h n v1 h -n z", module units) into
 * grid (size x size); every module painted at most once. Returns the
 * number of rectangles. */
static int paint(const char *d, unsigned char *grid, int size) {
  int rects = 0, x, y, n, m, k, used;
  while (*d != '"') {
    ASSERT(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &m, &used) == 4);
    ASSERT(n == m && n > 0 && x >= 0 && y >= 0 && x + n <= size && y < size);
    for (k = 0; k < n; k++) {
      ASSERT(grid[y * size + x + k] == 0);
      grid[y * size + x + k] = 1;
    }
    d += used;
    rects++;
  }
  return rects;
}

static void matches_libqrencode(const char *text, int version) {
  char *svg = NULL, head[256];
  size_t len = 0;
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  int size, x, y;
  unsigned char *grid;
  const char *d;
  ASSERT(q != NULL);
  if (version) ASSERT_EQ(q->version, version);
  ASSERT_OK(fsec_qr_svg(text, strlen(text), &svg, &len));
  ASSERT_EQ(strlen(svg), len);
  size = q->width + 2 * B;
  snprintf(head, sizeof head,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
           "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">",
           size * FSEC_QR_MODULE_PX, size * FSEC_QR_MODULE_PX, size, size);
  ASSERT(strncmp(svg, head, strlen(head)) == 0);
  ASSERT(strstr(svg, "</svg>") != NULL);
  d = strstr(svg, "<path fill=\"#000\" d=\"");
  ASSERT(d != NULL && strstr(d + 1, "<path") == NULL); /* one path */
  ASSERT(strstr(svg, "<rect") != NULL && strstr(strstr(svg, "<rect") + 1, "<rect") == NULL);
  grid = calloc((size_t)size * (size_t)size, 1);
  ASSERT(paint(d + strlen("<path fill=\"#000\" d=\""), grid, size) > 0);
  for (y = 0; y < size; y++)
    for (x = 0; x < size; x++) {
      int in = x >= B && y >= B && x < size - B && y < size - B;
      int dark = in && (q->data[(y - B) * q->width + (x - B)] & 1);
      if (grid[y * size + x] != dark) FAIL_AT("module %d,%d: %d", x, y, dark);
    }
  free(grid);
  fsec_qr_free(svg);
  QRcode_free(q);
}

static void worked_example(void) {
  QRcode *q = QRcode_encodeString(URI, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  ASSERT(q != NULL);
  ASSERT_EQ(strlen(URI), 99);
  ASSERT_EQ(q->version, 6);
  ASSERT_EQ(q->width, 41);
  QRcode_free(q);
  matches_libqrencode(URI, 6);
}

static void case_is_kept(void) {
  /* with casesensitive = 0 these two would be one symbol */
  char *a, *b;
  size_t la, lb;
  ASSERT_OK(fsec_qr_svg("abc123", 6, &a, &la));
  ASSERT_OK(fsec_qr_svg("ABC123", 6, &b, &lb));
  ASSERT(la != lb || memcmp(a, b, la) != 0);
  fsec_qr_free(a);
  fsec_qr_free(b);
  matches_libqrencode("abc123", 0);
}

static void limits(void) {
  char big[FSEC_QR_TEXT_MAX + 2], *svg = (char *)1;
  size_t len = 7;
  memset(big, 'a', sizeof big);
  big[FSEC_QR_TEXT_MAX + 1] = '\0';
  ASSERT_EQ(fsec_qr_svg(big, FSEC_QR_TEXT_MAX + 1, &svg, &len), FSEC_ETOOLONG);
  ASSERT_NULL(svg);
  ASSERT_EQ(len, 0);
  big[FSEC_QR_TEXT_MAX] = '\0'; /* the longest accepted: still one symbol */
  matches_libqrencode(big, 0);
  ASSERT_EQ(fsec_qr_svg("", 0, &svg, &len), FSEC_EINVAL);
  ASSERT_EQ(fsec_qr_svg("a\0b", 3, &svg, &len), FSEC_ENUL);
  fsec_qr_free(NULL);
}

int main(void) {
  RUN(worked_example);
  RUN(case_is_kept);
  RUN(limits);
  return 0;
}
