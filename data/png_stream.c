// PNG chunk walk and IDAT inflate bound (see png_stream.h).
#include "data/png_stream.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

int png_is_png(const uint8_t* file, size_t len) { return len >= 8 && memcmp(file, kSignature, 8) == 0; }

static uint32_t be32(const uint8_t* p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int channels_of(int color_type) {
    switch (color_type) {
    case 0: return 1;  // grey
    case 2: return 3;  // RGB
    case 3: return 1;  // palette index
    case 4: return 2;  // grey + alpha
    case 6: return 4;  // RGBA
    default: return 0;
    }
}

// Bytes of filtered rows (a filter byte per row) of a w x h image with
// `bits` per pixel, every Adam7 pass when interlaced.
static uint64_t filtered_size(uint64_t w, uint64_t h, uint64_t bits, int interlaced) {
    static const int pass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                   {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    if (!interlaced) return h * (1 + (w * bits + 7) / 8);
    uint64_t total = 0;
    for (int p = 0; p < 7; p++) {
        uint64_t pw = w > (uint64_t)pass[p][0] ? (w - pass[p][0] + pass[p][2] - 1) / pass[p][2] : 0;
        uint64_t ph = h > (uint64_t)pass[p][1] ? (h - pass[p][1] + pass[p][3] - 1) / pass[p][3] : 0;
        if (pw && ph) total += ph * (1 + (pw * bits + 7) / 8);
    }
    return total;
}

// Feeds one IDAT chunk's bytes to the inflater; 1 at the stream's end, 0 for
// more, -1 on a zlib error or more output than `limit`. It goes on while the
// scratch buffer fills, so output still held inside zlib is counted too.
static int inflate_chunk(z_stream* z, const uint8_t* data, uint32_t n, uint64_t limit) {
    uint8_t scratch[16384];
    z->next_in = (Bytef*)data;
    z->avail_in = n;
    do {
        z->next_out = scratch;
        z->avail_out = sizeof scratch;
        int rc = inflate(z, Z_NO_FLUSH);
        if (z->total_out > limit) return -1;
        if (rc == Z_STREAM_END) return 1;
        if (rc == Z_BUF_ERROR) return z->avail_in == 0 ? 0 : -1;  // wants the next chunk
        if (rc != Z_OK) return -1;
    } while (z->avail_in > 0 || z->avail_out == 0);
    return 0;
}

static int why_set(char* why, size_t cap, const char* text) {
    snprintf(why, cap, "%s", text);
    return -1;
}

int png_check_stream(const uint8_t* file, size_t len, char* why, size_t why_cap) {
    if (!png_is_png(file, len) || len < 8 + 8 + 13 + 4 || memcmp(file + 12, "IHDR", 4) != 0 || be32(file + 8) != 13)
        return why_set(why, why_cap, "PNG without a 13-byte IHDR first");
    const uint8_t* ihdr = file + 16;
    int channels = channels_of(ihdr[9]), depth = ihdr[8];
    if (!channels || (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16))
        return why_set(why, why_cap, "PNG with an unknown colour type or bit depth");
    uint64_t limit = filtered_size(be32(ihdr), be32(ihdr + 4), (uint64_t)channels * depth, ihdr[12] != 0);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return why_set(why, why_cap, "zlib could not start");
    int state = 0;  // 0: more data expected, 1: stream ended, -1: bad
    for (size_t at = 8; state == 0 && at + 12 <= len;) {
        uint32_t n = be32(file + at);
        if (n > len - at - 12) break;  // a chunk past the end: the stream stays unfinished
        if (memcmp(file + at + 4, "IDAT", 4) == 0) state = inflate_chunk(&z, file + at + 8, n, limit);
        at += 12 + (size_t)n;
    }
    inflateEnd(&z);
    if (state == 1) return 0;
    return why_set(why, why_cap,
                   state < 0 ? "PNG image data that is corrupt or larger than its header says"
                             : "PNG image data that ends early");
}
