/* errors.c: name and message tables generated from FSEC_ERRNO_MAP. */
#include "fsec/errors.h"

const char *fsec_errname(int rc) {
  switch (rc) {
  case FSEC_OK: return "OK";
#define XX(name, val, msg) \
  case val: return #name;
    FSEC_ERRNO_MAP(XX)
#undef XX
  default: return "EUNKNOWN";
  }
}

const char *fsec_strerror(int rc) {
  switch (rc) {
  case FSEC_OK: return "success";
#define XX(name, val, msg) \
  case val: return msg;
    FSEC_ERRNO_MAP(XX)
#undef XX
  default: return "unknown error";
  }
}
