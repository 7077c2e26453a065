#ifndef CRELAIS_ZLIB_SHIM_H
#define CRELAIS_ZLIB_SHIM_H
#include <zlib.h>

/// `inflateInit2` and `deflateInit2` are macros; Swift sees only the underscored functions.
static inline int crelais_inflate_init2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
static inline int crelais_deflate_init2(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
#endif
