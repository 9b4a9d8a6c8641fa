/* types.h — dtypes, status codes and limits shared by the user ABI (prism.h) and the plugin ABI (plugin.h).
 */
#ifndef PRISM_API_PRISM_TYPES_H_
#define PRISM_API_PRISM_TYPES_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Export macro. libprism exports only symbols marked PRISM_API; plugins export
 * only prism_plugin_entry (PRISM_PLUGIN_EXPORT, see plugin.h).
 * ------------------------------------------------------------------------- */
#if defined(_WIN32)
#define PRISM_API __declspec(dllexport)
#else
#define PRISM_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------
 * Element types. The numeric values are part of the ABI and never change.
 * ------------------------------------------------------------------------- */
typedef enum prism_dtype {
  PRISM_DTYPE_BOOL = 0, /* 1 byte, 0 or 1 */
  PRISM_DTYPE_U8 = 1,
  PRISM_DTYPE_I8 = 2,
  PRISM_DTYPE_I16 = 3,
  PRISM_DTYPE_I32 = 4,
  PRISM_DTYPE_I64 = 5,
  PRISM_DTYPE_F16 = 6,  /* IEEE 754 binary16 */
  PRISM_DTYPE_BF16 = 7, /* bfloat16: upper 16 bits of a binary32 */
  PRISM_DTYPE_F32 = 8,
  PRISM_DTYPE_F64 = 9,
  /* Appended (docs/abi-policy.md): interleaved (real, imaginary) pairs, as C99 float _Complex /
   * double _Complex, std::complex, NumPy's complex64/complex128 and DLPack's kDLComplex. */
  PRISM_DTYPE_C64 = 10,                /* two float32 */
  PRISM_DTYPE_C128 = 11,               /* two float64 */
  PRISM_DTYPE_FORCE_32BIT = 0x7FFFFFFF /* not a dtype: makes every int32 a valid value */
} prism_dtype;

#define PRISM_NUM_DTYPES 12

/* Bit mask of dtypes: bit (1u << dtype). PRISM_DTYPE_MASK_ALL keeps its value: every real dtype
 * (the dtypes that existed when plugin ABI 1.0 was fixed), so a plugin built against an older header
 * never claims the complex dtypes; a plugin that supports them adds PRISM_DTYPE_MASK_COMPLEX. */
#define PRISM_DTYPE_BIT(dt) (1u << (unsigned)(dt))
#define PRISM_DTYPE_MASK_ALL 0x3FFu
#define PRISM_DTYPE_MASK_COMPLEX (PRISM_DTYPE_BIT(PRISM_DTYPE_C64) | PRISM_DTYPE_BIT(PRISM_DTYPE_C128))
#define PRISM_DTYPE_MASK_FLOAT                                                                               \
  (PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16) | PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | \
   PRISM_DTYPE_BIT(PRISM_DTYPE_F64))
#define PRISM_DTYPE_MASK_INT                                                                              \
  (PRISM_DTYPE_BIT(PRISM_DTYPE_U8) | PRISM_DTYPE_BIT(PRISM_DTYPE_I8) | PRISM_DTYPE_BIT(PRISM_DTYPE_I16) | \
   PRISM_DTYPE_BIT(PRISM_DTYPE_I32) | PRISM_DTYPE_BIT(PRISM_DTYPE_I64))

/* ---------------------------------------------------------------------------
 * Status codes, shared by both ABIs. PRISM_OK is 0; every other value is an
 * error whose message is available through prism_last_error() (user ABI) or
 * the error object (plugin ABI). Values never change.
 * ------------------------------------------------------------------------- */
typedef enum prism_status {
  PRISM_OK = 0,
  PRISM_ERROR_INVALID_ARGUMENT = 1, /* bad shape, dtype, device, index, NULL handle, file */
  PRISM_ERROR_UNIMPLEMENTED = 2,    /* no kernel and fallback not allowed */
  PRISM_ERROR_OUT_OF_MEMORY = 3,
  PRISM_ERROR_UNAVAILABLE = 4, /* device or plugin not present / not loadable */
  PRISM_ERROR_DEVICE_LOST = 5,
  PRISM_ERROR_INTERNAL = 6,
  /* Appended after plugin ABI 1.1 (docs/abi-policy.md); plugins may return them too. */
  PRISM_ERROR_IO = 7,    /* a file could not be read or written (missing, disk full, too large) */
  PRISM_ERROR_TYPE = 8,  /* a dtype the op does not accept */
  PRISM_ERROR_INDEX = 9, /* an index or dimension out of range */
  PRISM_STATUS_FORCE_32BIT = 0x7FFFFFFF /* not a status: makes every int32 a valid value */
} prism_status;

/* Largest number of dimensions a tensor may have. */
#define PRISM_MAX_DIMS 16

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_API_PRISM_TYPES_H_ */
