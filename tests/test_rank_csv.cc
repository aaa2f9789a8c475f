// ranking.csv (search/rank_csv.h): written rows read back exactly; a file
// of another selection, a malformed row or too many rows refused with the
// file and line.
#include <fstream>
#include <string>

#include "test_util.h"

extern "C" {
#include "search/rank_csv.h"
}

namespace {

struct Rows {
    Space s;
    RankPick picks[3] = {};
    RankRow rows[3] = {{0.25, 0.5, 1.5}, {0.125, 0.75, 2.0}, {0.5, 0.625, 3.5}};
    Rows() {
        HwErr err = {};
        EXPECT_EQ(space_load(&s, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
        for (int k = 0; k < 3; k++) {
            picks[k].ops[0] = k, picks[k].ops[1] = k, picks[k].ops[2] = k % 2;
            picks[k].latency_ms = 0.5 + k;
        }
    }
};

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(RankCsv, RowsReadBackAsWritten) {
    Rows t;
    std::string path = test_temp_dir("rank_csv") + "/ranking.csv";
    HwErr err = {};
    RankRow back[3];
    EXPECT_EQ(rank_csv_read(path.c_str(), &t.s, t.picks, 3, back, &err), 0) << "no file: nothing done";
    ASSERT_EQ(rank_csv_write(path.c_str(), &t.s, t.picks, t.rows, 2, &err), 0) << err.msg;
    ASSERT_EQ(rank_csv_read(path.c_str(), &t.s, t.picks, 3, back, &err), 2) << err.msg;
    for (int k = 0; k < 2; k++) {
        EXPECT_EQ(back[k].inherited_top1, t.rows[k].inherited_top1);
        EXPECT_EQ(back[k].standalone_top1, t.rows[k].standalone_top1);
        EXPECT_EQ(back[k].train_seconds, t.rows[k].train_seconds);
    }
    EXPECT_NE(hwtest::slurp(path).find("\n2,sep_k5 skip sep_k3,1.500000,0.125000,0.750000,2.0\n"), std::string::npos)
        << hwtest::slurp(path);
}

TEST(RankCsv, OtherSelectionsAndBadRowsAreRefused) {
    Rows t;
    std::string dir = test_temp_dir("rank_csv_bad"), path = dir + "/ranking.csv";
    HwErr err = {};
    RankRow back[3];
    const std::string header = std::string(RANK_CSV_HEADER) + "\n";
    struct Case {
        std::string text, says;
        int n;
    } cases[] = {
        {header + "1,sep_k5 skip sep_k3,0.5,0.1,0.2,1\n", ":2: subnet 'sep_k5 skip sep_k3', expected", 3},
        {header + "2,mb_k3_e3 mb_k3_e3_se mb_k5_e3_hs,0.5,0.1,0.2,1\n", ":2: index '2', expected 1", 3},
        {header + "1,mb_k3_e3 mb_k3_e3_se mb_k5_e3_hs,0.5,0.1,x,1\n", ":2: expected numbers", 3},
        {header + "1,mb_k3_e3 mb_k3_e3_se mb_k5_e3_hs,0.5,0.1,0.2\n", ":2: expected 6 comma-separated", 3},
        {header + "1,mb_k3_e3 mb_k3_e3_se mb_k5_e3_hs,0.5,0.1,0.2,1\n"
                  "2,sep_k5 skip sep_k3,1.5,0.1,0.2,1\n", ":3: more rows than the 1 subnets", 1},
        {"index,ops\n", ":1: expected the header", 3},
        {header + std::string(LIMIT_CSV_ROW_BYTES + 10, '1') + "\n", ":2: row longer than", 3},
    };
    for (const Case& c : cases) {
        write_text(path, c.text);
        EXPECT_EQ(rank_csv_read(path.c_str(), &t.s, t.picks, c.n, back, &err), -1) << c.says;
        EXPECT_EQ(err.code, 2) << c.says;
        EXPECT_NE(std::string(err.msg).find(path + c.says), std::string::npos) << err.msg;
    }
}

}  // namespace
