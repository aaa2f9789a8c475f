// A PNG's compressed image data checked before stb_image decodes it: Debian's
// stb_image 2.27 inflates a truncated IDAT stream past its end (it reads
// zeros there) and grows its output buffer by doubling, so a 51-byte PNG of
// 12x9 pixels asked for 1.5 GB (fuzz_image). Here the IDAT chunks are
// inflated with zlib into a small scratch buffer, counting bytes only: the
// stream must end (Z_STREAM_END) and give no more than the header's image
// size in filtered rows (interlaced passes included).
#ifndef HWNAS_PNG_STREAM_H
#define HWNAS_PNG_STREAM_H

#include <stddef.h>
#include <stdint.h>

// 1 when `file` starts with the PNG signature.
int png_is_png(const uint8_t* file, size_t len);

// 0 when the IDAT stream inflates completely to at most the size the IHDR
// implies; -1 with a reason in why (one phrase) otherwise.
int png_check_stream(const uint8_t* file, size_t len, char* why, size_t why_cap);

#endif
