/*
 * lfsec.c: luaopen_fsec_core and the module table (the helpers every
 * binding file shares are in lhelp.c; each userdata type has its file).
 */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include <errno.h>
#include <string.h>

#include <stdio.h>
#include <pthread.h>
#ifdef __linux__
#  include <dlfcn.h>
#  include <sys/resource.h>
#  include <sys/syscall.h>
#  include <unistd.h>
#endif

#include "lcounter.h"
#include "lengine.h"
#include "lhelp.h"
#include "litsd.h"
#include "lotp.h"
#include "lpolicy.h"
#include "lstore.h"
#include "lwan.h"

/* core.random_id([nbytes=16]) -> base64url string of nbytes random bytes */
static int lfsec_random_id(lua_State *L) {
  char buf[FSEC_RANDOM_ID_MAX_BYTES * 2];
  int64_t n = lfsec_optint(L, 1, FSEC_RANDOM_ID_MIN_BYTES);
  if (n < FSEC_RANDOM_ID_MIN_BYTES || n > FSEC_RANDOM_ID_MAX_BYTES)
    return luaL_argerror(L, 1, "random_id needs 16..64 bytes");
  if (fsec_random_id(buf, sizeof buf, (size_t)n) != FSEC_OK)
    return luaL_error(L, "random_id failed");
  lua_pushstring(L, buf);
  return 1;
}

/* The symbolic name of an errno value setpriority(2) documents. */
static const char *nice_errname(int err) {
  switch (err) {
  case EACCES: return "EACCES"; /* lowering it needs CAP_SYS_NICE */
  case EPERM: return "EPERM";
  case ESRCH: return "ESRCH";
  case EINVAL: return "EINVAL";
  case ENOSYS: return "ENOSYS"; /* a kernel without it (or a filter) */
  default: return "EUNKNOWN";
  }
}

/* core.thread_nice(n) -> true | nil, "ENAME: msg", "ENAME": give the
 * calling thread (not the whole process) nice value n, 0..19. fsec.thread
 * calls it in nginx's hashing threads, so that a burst of logins leaves
 * the event loop on the CPU when both want it (Linux: nice is per
 * thread). The code is setpriority's errno name (EACCES: the thread's
 * value is already higher and may not be lowered), or ENOSYS where a
 * thread has no nice value of its own. */
static int lfsec_thread_nice(lua_State *L) {
  int64_t n = lfsec_optint(L, 1, 10);
  const char *name = "ENOSYS", *why = "not supported on this system";
  if (n < 0 || n > 19) return luaL_argerror(L, 1, "nice must be 0..19");
#ifdef __linux__
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), (int)n) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  name = nice_errname(errno);
  why = strerror(errno);
#endif
  lua_pushnil(L);
  lua_pushfstring(L, "%s: thread_nice: %s", name, why);
  lua_pushstring(L, name);
  return 3;
}

/* core.create_private_file(path, data) -> true | nil, msg, code: a new
 * file of mode 0600 (never an existing one, never through a link) and
 * core.make_private_dir(path) -> true | nil, msg, code: mkdir -p, 0700.
 * The development mailer's files hold reset links (fsec/file.h). */
static int file_result(lua_State *L, int rc, const char *path) {
  if (rc == FSEC_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, rc == FSEC_EEXIST ? "already exists" : strerror(errno));
  lua_pushstring(L, fsec_errname(rc));
  return 3;
}

static int lfsec_create_private_file(lua_State *L) {
  size_t plen, dlen;
  const char *path = lfsec_checkstring(L, 1, &plen);
  const char *data = lfsec_checkstring(L, 2, &dlen);
  if (plen == 0 || memchr(path, '\0', plen)) return luaL_argerror(L, 1, "a path without NUL bytes");
  return file_result(L, fsec_file_create_private(path, data, dlen), path);
}

static int lfsec_make_private_dir(lua_State *L) {
  size_t plen;
  const char *path = lfsec_checkstring(L, 1, &plen);
  if (plen == 0 || memchr(path, '\0', plen)) return luaL_argerror(L, 1, "a path without NUL bytes");
  return file_result(L, fsec_dir_create_private(path), path);
}

/* core.fold_email(s) / core.fold_username(s) -> folded | nil, msg, code:
 * the checked, folded form the store uses as a unique key (emails: IDNA
 * domain, NFC lowercase local part; usernames: NFKC case-folded). */
static int fold(lua_State *L, int email) {
  char out[1024], msg[160];
  const char *why = NULL;
  size_t len;
  const char *v = lfsec_checkstring(L, 1, &len);
  int rc = email ? fsec_identity_email_why(v, len, out, sizeof out, &why)
                 : fsec_identity_username(v, len, out, sizeof out);
  snprintf(msg, sizeof msg, "%s is not valid%s%s", email ? "email" : "username",
           why ? ": " : "", why ? why : "");
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, msg);
  lua_pushstring(L, out);
  return 1;
}
static int lfsec_fold_email(lua_State *L) { return fold(L, 1); }

/* core.email_display(s) -> the form to store and mail to (local part NFC,
 * domain IDNA-mapped U-labels) | nil, msg, code. */
static int lfsec_email_display(lua_State *L) {
  char out[1024];
  size_t len;
  const char *v = lfsec_checkstring(L, 1, &len);
  int rc = fsec_identity_email_display(v, len, out, sizeof out);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, "email is not valid");
  lua_pushstring(L, out);
  return 1;
}
static int lfsec_fold_username(lua_State *L) { return fold(L, 0); }

/* core.check_text(s, max) -> true | nil, msg, code */
static int lfsec_check_text(lua_State *L) {
  size_t len;
  const char *v = lfsec_checkstring(L, 1, &len);
  int64_t max = lfsec_optint(L, 2, FSEC_TEXT_MAX);
  int rc = fsec_text_check(v, len, (size_t)max);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* core.base64_decode(s) -> bytes | nil: strict standard Base64 with
 * padding (as HTTP Basic credentials use), at most 8 KiB of input
 * (fsec/codec.h). */
static int lfsec_base64_decode(lua_State *L) {
  size_t len, outlen = 0;
  const char *s = lfsec_checkstring(L, 1, &len);
  unsigned char buf[6144];
  if (len > 8192 || fsec_base64_decode(FSEC_BASE64_STANDARD, s, len, buf,
                                       sizeof buf, &outlen) != FSEC_OK) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, (const char *)buf, outlen);
  fsec_wipe(buf, outlen); /* Basic credentials: a password */
  return 1;
}

/* core.base64_encode(s) -> standard Base64 with padding (for tests and
 * clients building Basic credentials). */
static int lfsec_base64_encode(lua_State *L) {
  size_t len;
  const char *s = lfsec_checkstring(L, 1, &len);
  size_t n;
  char *out;
  if (len > 65536) return luaL_argerror(L, 1, "too long");
  n = fsec_base64_encoded_len(FSEC_BASE64_STANDARD, len) + 1;
  out = lua_newuserdata(L, n);
  if (fsec_base64_encode(FSEC_BASE64_STANDARD, s, len, out, n) != FSEC_OK)
    return luaL_error(L, "base64_encode failed");
  lua_pushstring(L, out);
  return 1;
}

/* core.digest(s[, key]) -> 32 hex chars of BLAKE2b-128(s): binds tokens
 * to a value (an email, a password hash) without carrying it. With a key
 * (16..64 bytes) it is a MAC: a name no one without the key can compute
 * (the login-attempt keys of unknown identities). */
static int lfsec_digest(lua_State *L) {
  size_t len, klen = 0;
  const char *s = lfsec_checkstring(L, 1, &len);
  const char *key = lua_isnoneornil(L, 2) ? NULL : lfsec_checkstring(L, 2, &klen);
  char hex[FSEC_DIGEST_HEX_BYTES];
  int rc = fsec_digest_hex(s, len, key, klen, hex);
  if (rc == FSEC_EINVAL) return luaL_argerror(L, 2, "key must be 16..64 bytes");
  if (rc != FSEC_OK) return luaL_error(L, "digest: %s", fsec_strerror(rc));
  lua_pushlstring(L, hex, FSEC_DIGEST_HEX_BYTES - 1);
  return 1;
}

/* core.sha1_hex(s) -> 40 upper-case hex chars of SHA-1(s): only to look a
 * password up in a breached-password list (Have I Been Pwned format). */
static int lfsec_sha1_hex(lua_State *L) {
  size_t len;
  const char *s = lfsec_checkstring(L, 1, &len);
  char hex[FSEC_SHA1_HEX_BYTES];
  if (fsec_sha1_hex(s, len, hex) != FSEC_OK) return luaL_error(L, "sha1_hex failed");
  lua_pushlstring(L, hex, FSEC_SHA1_HEX_BYTES - 1);
  return 1;
}

/* core.equal(a, b) -> boolean: the same bytes, compared in time that
 * depends on the lengths only (a secret a client sends against the
 * stored one: Lua's == stops at the first byte that differs). */
static int lfsec_equal(lua_State *L) {
  size_t alen, blen;
  const char *a = lfsec_checkstring(L, 1, &alen);
  const char *b = lfsec_checkstring(L, 2, &blen);
  lua_pushboolean(L, fsec_equal(a, alen, b, blen));
  return 1;
}

/* core.errname(rc) -> "EINVAL" */
static int lfsec_errname(lua_State *L) {
  lua_pushstring(L, fsec_errname((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* How many Lua states of this process have opened fsec.core (each of
 * nginx's worker-thread Lua states opens it once, and nginx never closes
 * them: the OpenResty adapter reports the count as memory accounting).
 * Counted atomically: pool threads open the module concurrently. */
static int open_count;

static int lfsec_open_count(lua_State *L) {
  lua_pushinteger(L, __atomic_load_n(&open_count, __ATOMIC_RELAXED));
  return 1;
}

static const luaL_Reg lfsec_funcs[] = {
    {"new", lfsec_engine_new},
    {"argon2_helper_pid", lfsec_argon2_helper_pid},
    {"argon2_helper_path", lfsec_argon2_helper_path},
    {"open_store", lfsec_store_open},
    {"is_database_uri", lfsec_is_database_uri},
    {"sync_wal", lfsec_sync_wal},
    {"random_id", lfsec_random_id},
    {"thread_nice", lfsec_thread_nice},
    {"create_private_file", lfsec_create_private_file},
    {"make_private_dir", lfsec_make_private_dir},
    {"errname", lfsec_errname},
    {"fold_email", lfsec_fold_email},
    {"email_display", lfsec_email_display},
    {"check_text", lfsec_check_text},
    {"base64_decode", lfsec_base64_decode},
    {"base64_encode", lfsec_base64_encode},
    {"digest", lfsec_digest},
    {"sha1_hex", lfsec_sha1_hex},
    {"equal", lfsec_equal},
    {"fold_username", lfsec_fold_username},
    {"open_count", lfsec_open_count},
    {"shared_counter", lfsec_shared_counter},
    {"shared_counter_get", lfsec_shared_counter_get},
    {"shared_counter_bump", lfsec_shared_counter_bump},
    {"password_strength", lfsec_password_strength},
    {"breached_open", lfsec_breached_open},
    {"breached_build", lfsec_breached_build},
    {NULL, NULL}};

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_fsec_core(lua_State *L);

/* The addresses of fsec_header_find, fsec_cookie_find,
 * fsec_header_cookie and fsec_shared_counter_get, for LuaJIT's FFI (the OpenResty adapter calls
 * them on every checked request: an FFI
 * call compiles into the request's trace, a Lua C function would not).
 * Copied through memcpy: C has no cast from a function pointer to void *. */
typedef char fn_pointer_fits_void_pointer[sizeof(void *) == sizeof(int (*)(void)) ? 1 : -1];

static void push_ffi_functions(lua_State *L) {
  int (*header)(const fsec_header *, int, const char *, size_t) = fsec_header_find;
  int (*cookie)(const char *, size_t, const char *, size_t, size_t *, size_t *) = fsec_cookie_find;
  void *p;
  memcpy(&p, &header, sizeof p);
  lua_pushlightuserdata(L, p);
  lua_setfield(L, -2, "header_find_ptr");
  memcpy(&p, &cookie, sizeof p);
  lua_pushlightuserdata(L, p);
  lua_setfield(L, -2, "cookie_find_ptr");
  int (*header_cookie)(const fsec_header *, int, const char *, size_t, const char *, size_t,
                       int *, size_t *, size_t *) = fsec_header_cookie;
  memcpy(&p, &header_cookie, sizeof p);
  lua_pushlightuserdata(L, p);
  lua_setfield(L, -2, "header_cookie_ptr");
  uint32_t (*get)(const uint32_t *) = fsec_shared_counter_get;
  memcpy(&p, &get, sizeof p);
  lua_pushlightuserdata(L, p);
  lua_setfield(L, -2, "shared_counter_get_ptr");
}

/* core.LIMITS: the store's limits on values (bytes; roles_per_user a
 * count), from the C headers that enforce them, so that the Lua layers
 * (the memory store, form checks) never repeat them as literals. Names:
 * FSEC_<NAME>_MAX lower-cased. */
static void push_limits(lua_State *L) {
  static const struct {
    const char *name;
    lua_Integer max;
  } limits[] = {
      {"email", FSEC_EMAIL_MAX},
      {"username", FSEC_USERNAME_MAX},
      {"hash", FSEC_HASH_MAX},
      {"ip", FSEC_IP_MAX},
      {"uniquifier", FSEC_UNIQUIFIER_MAX},
      {"role_name", FSEC_ROLE_NAME_MAX},
      {"description", FSEC_DESCRIPTION_MAX},
      {"permissions", FSEC_PERMISSIONS_MAX},
      {"text", FSEC_TEXT_MAX},
      {"roles_per_user", FSEC_ROLES_PER_USER_MAX},
      {"attempt_key", FSEC_ATTEMPT_KEY_MAX},
      {"meta", FSEC_META_MAX},
      {"otp_method", FSEC_OTP_METHOD_MAX},
      {"session_data", FSEC_SESSION_DATA_MAX},
      {"fields", FSEC_FIELDS_MAX},
      {"outbox_message", FSEC_OUTBOX_MESSAGE_MAX},
      {"outbox_address", FSEC_OUTBOX_ADDRESS_MAX},
      {"outbox_kind", FSEC_OUTBOX_KIND_MAX},
      {"outbox_owner", FSEC_OUTBOX_OWNER_MAX},
      {"outbox_message_id", FSEC_OUTBOX_MESSAGE_ID_MAX},
      {"webauthn_id", FSEC_WEBAUTHN_ID_MAX},
      {"webauthn_key", FSEC_WEBAUTHN_KEY_MAX},
      {"webauthn_name", FSEC_WEBAUTHN_NAME_MAX},
      {"webauthn_handle", FSEC_WEBAUTHN_HANDLE_MAX},
      {"webauthn_text", FSEC_WEBAUTHN_TEXT_MAX},
      {"webauthn_sign_count", FSEC_WEBAUTHN_SIGN_COUNT_MAX},
      {"wan_attestation", FSEC_WAN_ATTESTATION_MAX},
      {"wan_authdata", FSEC_WAN_AUTHDATA_MAX},
      {"wan_credential_id", FSEC_WAN_CREDENTIAL_ID_MAX},
      {"wan_public_key", FSEC_WAN_PUBLIC_KEY_MAX},
      {"wan_signature", FSEC_WAN_SIGNATURE_MAX},
      {"wan_certificate", FSEC_WAN_CERTIFICATE_MAX},
      {"webauthn_id", FSEC_WEBAUTHN_ID_MAX},
      {"webauthn_key", FSEC_WEBAUTHN_KEY_MAX},
      {"webauthn_name", FSEC_WEBAUTHN_NAME_MAX},
      {"webauthn_handle", FSEC_WEBAUTHN_HANDLE_MAX},
      {"webauthn_text", FSEC_WEBAUTHN_TEXT_MAX},
      {"webauthn_sign_count", FSEC_WEBAUTHN_SIGN_COUNT_MAX},
  };
  size_t i;
  lua_createtable(L, 0, (int)(sizeof limits / sizeof limits[0]));
  for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
    lua_pushinteger(L, limits[i].max);
    lua_setfield(L, -2, limits[i].name);
  }
  lua_setfield(L, -2, "LIMITS");
}

/* Keep this library loaded for the life of the process. lua_close
 * unloads a C module (dlclose), but code of it can still run after: the
 * thread-exit destructor that ends a thread's argon2 helper, when nginx's
 * pool threads exit after the worker's Lua state closed (a reload or a
 * shutdown crashed the old worker with SIGSEGV). */
static void pin_library(void) {
#ifdef __linux__
  Dl_info info;
  if (dladdr((void *)&open_count, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#endif
}

int luaopen_fsec_core(lua_State *L) {
  static pthread_once_t pinned = PTHREAD_ONCE_INIT;
  (void)pthread_once(&pinned, pin_library);
  __atomic_add_fetch(&open_count, 1, __ATOMIC_RELAXED);
  lfsec_engine_register(L);
  lfsec_store_register(L);
  lfsec_counter_register(L);
  lfsec_keyring_register(L);
  lfsec_policy_register(L);
  lua_newtable(L);
  luaL_setfuncs(L, lfsec_funcs, 0);
  lfsec_otp_open(L);
  lfsec_itsd_open(L);
  lfsec_wan_open(L);
  lua_pushstring(L, fsec_version());
  lua_setfield(L, -2, "version");
  lua_pushinteger(L, FSEC_TOKEN_VALID);
  lua_setfield(L, -2, "TOKEN_VALID");
  lua_pushinteger(L, FSEC_TOKEN_EXPIRED);
  lua_setfield(L, -2, "TOKEN_EXPIRED");
  lua_pushinteger(L, FSEC_TOKEN_INVALID);
  lua_setfield(L, -2, "TOKEN_INVALID");
  lua_pushinteger(L, FSEC_SCHEMA_VERSION);
  lua_setfield(L, -2, "SCHEMA_VERSION");
  lua_pushinteger(L, FSEC_STORE_WAL_LIMIT);
  lua_setfield(L, -2, "WAL_LIMIT");
  push_limits(L);
  lfsec_engine_push_config(L);
  push_ffi_functions(L);
  return 1;
}
