// Latency tables made up for search tests: a known latency per (layer, op)
// of a space, with chosen entries left out.
#ifndef HWNAS_SEARCH_FIXTURE_H
#define HWNAS_SEARCH_FIXTURE_H

#include <functional>

#include "search/latency.h"
#include "search/lut.h"
#include "supernet/space.h"
#include "test_util.h"

// ms(layer, op) < 0 leaves the entry out. The stem and head cost 0.1 ms each.
inline Lut* make_table(const Space& s, const std::function<double(int, int)>& ms) {
    Lut* lut = lut_new();
    HwErr err = {};
    char key[256];
    EXPECT_NE(lut, nullptr);
    if (!lut) return nullptr;
    EXPECT_EQ(latency_stem_key(&s, key, sizeof key), 0);
    EXPECT_EQ(lut_add(lut, key, 0.1, 0, 1, &err), 0) << err.msg;
    EXPECT_EQ(latency_head_key(&s, key, sizeof key), 0);
    EXPECT_EQ(lut_add(lut, key, 0.1, 0, 1, &err), 0) << err.msg;
    for (int l = 0; l < s.n_layers; l++)
        for (int o = 0; o < s.layers[l].n_ops; o++) {
            double v = ms(l, o);
            if (v < 0) continue;
            EXPECT_EQ(latency_layer_key(&s, l, o, key, sizeof key), 0);
            EXPECT_EQ(lut_add(lut, key, v, 0, 1, &err), 0) << key << ": " << err.msg;
        }
    return lut;
}

#endif
