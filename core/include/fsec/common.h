/*
 * fsec/common.h: export and attribute macros shared by every public header.
 */
#ifndef FSEC_COMMON_H
#define FSEC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define FSEC_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define FSEC_API __attribute__((visibility("default")))
#else
#  define FSEC_API
#endif

#if defined(__GNUC__)
#  define FSEC_NODISCARD __attribute__((warn_unused_result))
#  define FSEC_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#  define FSEC_NODISCARD
#  define FSEC_NONNULL(...)
#endif

#endif /* FSEC_COMMON_H */
