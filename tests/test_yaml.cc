// The YAML tree: parsing, typed reads, every error path (each message must
// name the file and the line), hostile input, and the scalar writer.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/yaml_tree.h"
#include "test_util.h"

namespace {

// A fresh directory under /tmp, removed with its files at the end.
// Parses text that must fail; returns the message and checks code 2 and that
// the message starts with "NAME:LINE:" (line <= 0: "NAME:" only).
std::string expect_error(const std::string& text, int line, const char* name = "t.yaml") {
    HwErr err = {{0}, 0};
    YamlDoc* d = yaml_load_string(text.c_str(), name, &err);
    EXPECT_EQ(d, nullptr) << "parsed: " << text;
    yaml_free(d);
    EXPECT_EQ(err.code, 2) << err.msg;
    std::string prefix = std::string(name) + ":" + (line > 0 ? std::to_string(line) + ":" : "");
    EXPECT_EQ(std::string(err.msg).rfind(prefix, 0), 0u) << "want prefix " << prefix << ", got "
                                                        << err.msg;
    return err.msg;
}

YamlDoc* parse(const std::string& text) {
    HwErr err = {{0}, 0};
    YamlDoc* d = yaml_load_string(text.c_str(), "t.yaml", &err);
    EXPECT_NE(d, nullptr) << err.msg;
    return d;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Yaml, ParsesNestedStructureWithLines) {
    YamlDoc* d = parse(
        "# comment\n"
        "name: hwnas\n"
        "train:\n"
        "  batch: 128\n"
        "  window: [0.5, 2]\n"
        "list:\n"
        "  - a\n"
        "  - {x: 1, y: 'two'}\n"
        "empty:\n"
        "quoted: \"a: b # c\"\n"
        "block: |\n"
        "  line1\n"
        "  line2\n");
    ASSERT_NE(d, nullptr);
    const YamlNode* r = d->root;
    ASSERT_EQ(r->kind, YAML_MAPPING);
    ASSERT_EQ(r->count, 6);
    EXPECT_STREQ(r->keys[0], "name");
    EXPECT_EQ(r->key_lines[0], 2);
    EXPECT_EQ(r->key_lines[5], 11);
    EXPECT_STREQ(yaml_get(r, "name")->scalar, "hwnas");
    const YamlNode* train = yaml_get(r, "train");
    ASSERT_EQ(train->kind, YAML_MAPPING);
    EXPECT_EQ(train->line, 4);
    EXPECT_STREQ(yaml_get(train, "batch")->scalar, "128");
    EXPECT_EQ(yaml_get(train, "batch")->line, 4);
    const YamlNode* w = yaml_get(train, "window");
    ASSERT_EQ(w->kind, YAML_SEQUENCE);
    ASSERT_EQ(w->count, 2);
    EXPECT_STREQ(w->items[1]->scalar, "2");
    EXPECT_EQ(w->line, 5);
    const YamlNode* list = yaml_get(r, "list");
    ASSERT_EQ(list->count, 2);
    EXPECT_EQ(list->items[0]->line, 7);
    EXPECT_EQ(list->items[1]->kind, YAML_MAPPING);
    EXPECT_EQ(list->items[1]->line, 8);
    EXPECT_STREQ(yaml_get(list->items[1], "y")->scalar, "two");
    EXPECT_STREQ(yaml_get(r, "empty")->scalar, "");
    EXPECT_STREQ(yaml_get(r, "quoted")->scalar, "a: b # c");
    EXPECT_STREQ(yaml_get(r, "block")->scalar, "line1\nline2\n");
    EXPECT_EQ(yaml_get(r, "missing"), nullptr);
    EXPECT_EQ(yaml_get(w, "x"), nullptr);  // not a mapping
    EXPECT_EQ(yaml_get(nullptr, "x"), nullptr);
    EXPECT_STREQ(d->path, "t.yaml");
    yaml_free(d);
}

TEST(Yaml, LoadsFilesAndReportsMissingOnes) {
    TempDir tmp("yaml");
    std::string f = tmp.write("ok.yaml", "a: 1\n");
    HwErr err = {{0}, 0};
    YamlDoc* d = yaml_load_file(f.c_str(), &err);
    ASSERT_NE(d, nullptr) << err.msg;
    EXPECT_EQ(d->path, f);
    yaml_free(d);
    std::string missing = tmp.path + "/nope.yaml";
    EXPECT_EQ(yaml_load_file(missing.c_str(), &err), nullptr);
    EXPECT_EQ(err.code, 2);
    EXPECT_TRUE(contains(err.msg, missing)) << err.msg;
    EXPECT_TRUE(contains(err.msg, "No such file")) << err.msg;
    EXPECT_EQ(yaml_load_file(tmp.path.c_str(), &err), nullptr);
    EXPECT_TRUE(contains(err.msg, "directory")) << err.msg;
}

TEST(Yaml, RejectsFilesOver64MiB) {
    TempDir tmp("yaml");
    std::string f = tmp.write("big.yaml", "a: 1\n");
    ASSERT_EQ(truncate(f.c_str(), (64L << 20) + 1), 0);  // sparse: costs no disk
    HwErr err = {{0}, 0};
    EXPECT_EQ(yaml_load_file(f.c_str(), &err), nullptr);
    EXPECT_EQ(err.code, 2);
    EXPECT_TRUE(contains(err.msg, f + ": found 67108865 bytes")) << err.msg;
}

TEST(Yaml, SyntaxErrorsNameTheLine) {
    std::string m = expect_error("a: 1\nb: [1, 2\nc: 3\n", 3);
    EXPECT_TRUE(contains(m, "YAML syntax error")) << m;
    expect_error("a: 1\n  b: 2\n", 2);
    expect_error("a:\n  - 1\n  x: 2\n", 3);
    expect_error("key: \"unterminated\n", 2);
    expect_error("a: 1\n\tb: 2\n", 2);
}

TEST(Yaml, RejectsAliasesAndAnchors) {
    // The billion-laughs document: must fail at the first anchor, not expand.
    std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    for (char c = 'b'; c <= 'i'; c++) {
        char prev = (char)(c - 1);
        bomb += std::string(1, c) + ": &" + c + " [*" + prev + ",*" + prev + ",*" + prev + ",*" +
                prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n";
    }
    std::string m = expect_error(bomb, 1);
    EXPECT_TRUE(contains(m, "anchor '&a'")) << m;
    m = expect_error("x: 1\nrec: &r [*r]\n", 2);  // recursive alias
    EXPECT_TRUE(contains(m, "anchor")) << m;
    m = expect_error("a: 1\nb: *a\n", 2);  // alias of an undefined anchor: a syntax error
    m = expect_error("base: &b {x: 1}\nderived:\n  <<: *b\n", 1);
    m = expect_error("- &x 5\n", 1);
    EXPECT_TRUE(contains(m, "&x")) << m;
}

TEST(Yaml, RejectsTagsDocumentsAndEmptyInput) {
    std::string m = expect_error("a: !!str 5\n", 1);
    EXPECT_TRUE(contains(m, "tag")) << m;
    expect_error("a: !custom {x: 1}\n", 1);
    m = expect_error("a: 1\n---\nb: 2\n", 2);
    EXPECT_TRUE(contains(m, "second document")) << m;
    m = expect_error("", 0);
    EXPECT_TRUE(contains(m, "empty document")) << m;
    expect_error("# only a comment\n\n", 0);
    m = expect_error("---\n", 2);  // the empty value sits after the marker
    EXPECT_TRUE(contains(m, "empty document")) << m;
}

TEST(Yaml, RejectsDuplicateAndNonScalarKeys) {
    std::string m = expect_error("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n", 5);
    EXPECT_TRUE(contains(m, "duplicate key 'x' (first at line 3)")) << m;
    expect_error("{a: 1, a: 2}\n", 1);
    m = expect_error("? [a, b]\n: 1\n", 1);
    EXPECT_TRUE(contains(m, "sequence used as a mapping key")) << m;
    m = expect_error("x:\n  {k: v}: 1\n", 2);
    EXPECT_TRUE(contains(m, "mapping used as a mapping key")) << m;
}

TEST(Yaml, DuplicateCheckScalesToHugeMappings) {
    std::string text;
    for (int i = 0; i < 100000; i++) text += "key" + std::to_string(i) + ": " + std::to_string(i) + "\n";
    auto t0 = std::chrono::steady_clock::now();
    YamlDoc* d = parse(text);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->root->count, 100000);
    EXPECT_STREQ(d->root->items[99999]->scalar, "99999");
    EXPECT_LT(s, 5.0);  // linear; a quadratic check would take minutes
    yaml_free(d);
    text += "key77: again\n";
    std::string m = expect_error(text, 100001);
    EXPECT_TRUE(contains(m, "first at line 78")) << m;
}

TEST(Yaml, LimitsNestingDepth) {
    std::string ok = std::string(64, '[') + std::string(64, ']');
    YamlDoc* d = parse(ok);
    ASSERT_NE(d, nullptr);
    yaml_free(d);
    std::string deep = std::string(65, '[') + std::string(65, ']');
    std::string m = expect_error(deep, 1);
    EXPECT_TRUE(contains(m, "nesting deeper than 64")) << m;
    // A million open brackets: stops at the limit, fast, without recursion.
    expect_error(std::string(1000000, '['), 1);
    std::string block;
    for (int i = 0; i < 70; i++) block += std::string(2 * (size_t)i, ' ') + "k:\n";
    m = expect_error(block, 65);
    EXPECT_TRUE(contains(m, "nesting")) << m;
}

TEST(Yaml, RejectsNulAndInvalidUtf8) {
    std::string m = expect_error("a: \"x\\0y\"\n", 1);
    EXPECT_TRUE(contains(m, "NUL")) << m;
    m = expect_error("a: \xff\xfe\n", 0);
    EXPECT_TRUE(contains(m, "UTF-8")) << m;
}

TEST(Yaml, SurvivesGarbageInput) {
    // Random bytes and random cuts of a valid document: each must parse or
    // fail cleanly (ASan/UBSan builds check the memory side).
    const std::string base =
        "a: &x [1, {b: 2}]\n\"q\": 'it''s'\nc: |\n  text\n? k\n: v\nd: [*x, !t z]\n---\n";
    uint64_t s = 12345;
    auto next = [&]() {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        return s;
    };
    const char alphabet[] = "[]{}:,-?&*!|>'\"#% \n\tab01.\\";
    for (int iter = 0; iter < 3000; iter++) {
        std::string t;
        if (iter % 2) {
            t = base.substr(0, next() % base.size());
            for (int k = 0; k < 3 && !t.empty(); k++)
                t[next() % t.size()] = alphabet[next() % (sizeof alphabet - 1)];
        } else {
            size_t n = next() % 64;
            for (size_t k = 0; k < n; k++) t += alphabet[next() % (sizeof alphabet - 1)];
        }
        HwErr err = {{0}, 0};
        YamlDoc* d = yaml_load_string(t.c_str(), "fuzz", &err);
        if (!d) {
            EXPECT_EQ(std::string(err.msg).rfind("fuzz:", 0), 0u) << err.msg;
        }
        yaml_free(d);
    }
}

TEST(Yaml, TypedReads) {
    YamlDoc* d = parse(
        "i: 42\nneg: -7\nplus: +3\nf: 2.5e-3\nfi: 3\nfd: .5\nb1: Yes\nb2: false\nb3: 0\n"
        "s: hello world\nq: \"5\"\n");
    ASSERT_NE(d, nullptr);
    const YamlNode* r = d->root;
    HwErr err = {{0}, 0};
    long v = 0;
    EXPECT_EQ(yaml_int(d, yaml_get(r, "i"), "i", 0, 100, &v, &err), 0);
    EXPECT_EQ(v, 42);
    EXPECT_EQ(yaml_int(d, yaml_get(r, "neg"), "neg", -10, 0, &v, &err), 0);
    EXPECT_EQ(v, -7);
    EXPECT_EQ(yaml_int(d, yaml_get(r, "plus"), "plus", 0, 10, &v, &err), 0);
    EXPECT_EQ(v, 3);
    EXPECT_EQ(yaml_int(d, yaml_get(r, "q"), "q", 0, 10, &v, &err), 0);  // typing happens at read time
    EXPECT_EQ(v, 5);
    double x = 0;
    EXPECT_EQ(yaml_float(d, yaml_get(r, "f"), "f", 0, 1, &x, &err), 0);
    EXPECT_DOUBLE_EQ(x, 2.5e-3);
    EXPECT_EQ(yaml_float(d, yaml_get(r, "fi"), "fi", 0, 3, &x, &err), 0);  // inclusive range
    EXPECT_DOUBLE_EQ(x, 3.0);
    EXPECT_EQ(yaml_float(d, yaml_get(r, "fd"), "fd", 0, 1, &x, &err), 0);
    EXPECT_DOUBLE_EQ(x, 0.5);
    int b = -1;
    EXPECT_EQ(yaml_bool(d, yaml_get(r, "b1"), "b1", &b, &err), 0);
    EXPECT_EQ(b, 1);
    EXPECT_EQ(yaml_bool(d, yaml_get(r, "b2"), "b2", &b, &err), 0);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(yaml_bool(d, yaml_get(r, "b3"), "b3", &b, &err), 0);
    EXPECT_EQ(b, 0);
    char buf[12];
    memset(buf, 'z', sizeof buf);
    EXPECT_EQ(yaml_string(d, yaml_get(r, "s"), "s", buf, sizeof buf, &err), 0);
    EXPECT_STREQ(buf, "hello world");
    yaml_free(d);
}

// Each bad value: error code 2, "t.yaml:LINE: WHAT: found ..., expected ...".
TEST(Yaml, TypedReadErrorsNameFileLineAndKey) {
    YamlDoc* d = parse(
        "a: abc\nb: 1.5\nc: 0x10\nd: 99999999999999999999\ne: 7\nf: nan\ng: .inf\nh: 1e999\n"
        "i: 0x1p3\nj: -0.5\nk: maybe\nl: far too long\nm: [1]\nn:\no: inf\n");
    ASSERT_NE(d, nullptr);
    const YamlNode* r = d->root;
    struct Case {
        const char* key;
        int line;
        const char* kind;
        const char* want;
    } cases[] = {
        {"a", 1, "int", "train.a: found 'abc', expected an integer in 1..10"},
        {"b", 2, "int", "found '1.5', expected an integer"},
        {"c", 3, "int", "found '0x10'"},
        {"d", 4, "int", "found '99999999999999999999'"},
        {"e", 5, "int", "found '7', expected an integer in 1..5"},
        {"f", 6, "float", "found 'nan', expected a finite number"},
        {"g", 7, "float", "found '.inf'"},
        {"h", 8, "float", "found '1e999'"},
        {"i", 9, "float", "found '0x1p3'"},
        {"j", 10, "float", "found '-0.5', expected a finite number in [0, 1]"},
        {"o", 15, "float", "found 'inf'"},
        {"k", 11, "bool", "found 'maybe', expected true/false"},
        {"l", 12, "string", "found a string of 12 characters, expected a string of at most 7"},
        {"m", 13, "int", "found a sequence, expected an integer"},
        {"n", 14, "int", "found an empty value"},
    };
    for (const Case& c : cases) {
        HwErr err = {{0}, 0};
        const YamlNode* n = yaml_get(r, c.key);
        std::string what = std::string("train.") + c.key;
        int rc = 0;
        long v;
        double x;
        int b;
        char s[8];
        if (!strcmp(c.kind, "int")) rc = yaml_int(d, n, what.c_str(), 1, !strcmp(c.key, "e") ? 5 : 10, &v, &err);
        if (!strcmp(c.kind, "float")) rc = yaml_float(d, n, what.c_str(), 0, 1, &x, &err);
        if (!strcmp(c.kind, "bool")) rc = yaml_bool(d, n, what.c_str(), &b, &err);
        if (!strcmp(c.kind, "string")) rc = yaml_string(d, n, what.c_str(), s, sizeof s, &err);
        EXPECT_EQ(rc, -1) << c.key;
        EXPECT_EQ(err.code, 2) << c.key;
        std::string prefix = "t.yaml:" + std::to_string(c.line) + ": " + what + ": ";
        EXPECT_EQ(std::string(err.msg).rfind(prefix, 0), 0u) << err.msg;
        EXPECT_TRUE(contains(err.msg, c.want)) << err.msg;
    }
    HwErr err = {{0}, 0};
    long v;
    EXPECT_EQ(yaml_int(d, nullptr, "train.x", 0, 1, &v, &err), -1);
    EXPECT_TRUE(contains(err.msg, "t.yaml: train.x: missing")) << err.msg;
    yaml_free(d);
}

TEST(Yaml, CheckKeysNamesUnknownKeyLineAndAllowed) {
    YamlDoc* d = parse("train:\n  batch: 1\n  bacth: 2\nsection:\nlist: [1]\n");
    ASSERT_NE(d, nullptr);
    static const char* const allowed[] = {"batch", "epochs", nullptr};
    HwErr err = {{0}, 0};
    EXPECT_EQ(yaml_check_keys(d, yaml_get(d->root, "train"), "train", allowed, &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_STREQ(err.msg, "t.yaml:3: train: unknown key 'bacth', expected one of: batch, epochs");
    // `section:` alone is an empty mapping; a sequence is not a mapping.
    EXPECT_EQ(yaml_check_keys(d, yaml_get(d->root, "section"), "section", allowed, &err), 0);
    EXPECT_EQ(yaml_check_keys(d, yaml_get(d->root, "list"), "list", allowed, &err), -1);
    EXPECT_TRUE(contains(err.msg, "t.yaml:5: list: found a sequence, expected a mapping")) << err.msg;
    yaml_free(d);
}

static std::string written(const char* s) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* fp = open_memstream(&buf, &len);
    yaml_write_string(fp, s);
    fclose(fp);
    std::string out(buf, len);
    free(buf);
    return out;
}

TEST(Yaml, WriteStringRoundTrips) {
    const char* cases[] = {"plain",   "",         "yes",     "No",       "null",    "~",
                           "123",     "-5",       "1.5e3",   "0x1F",     "12:30",   ".inf",
                           "a: b",    "a #b",     "#c",      "- x",      "x:",      " lead",
                           "trail ",  "q\"uote",  "back\\s", "tab\there", "new\nline", "\x01\x7f",
                           "[a]",     "{a}",      "a, b",    "&anchor",  "*alias",  "!tag",
                           "%pct",    "@at",      "`tick",   "|pipe",    ">fold",   "'single",
                           "caf\xc3\xa9", "/usr/share/datasets/fashion-mnist", "2024-05-01",
                           "mb_k5_e6-in:14x14x48-out:7x7x96-s:2"};
    for (const char* s : cases) {
        std::string doc = "k: " + written(s) + "\nseq:\n  - " + written(s) + "\n" + written(s) + ": 1\n";
        HwErr err = {{0}, 0};
        YamlDoc* d = yaml_load_string(doc.c_str(), "w.yaml", &err);
        ASSERT_NE(d, nullptr) << doc << "\n" << err.msg;
        EXPECT_STREQ(yaml_get(d->root, "k")->scalar, s) << doc;
        EXPECT_STREQ(yaml_get(d->root, "seq")->items[0]->scalar, s) << doc;
        EXPECT_STREQ(d->root->keys[2], s) << doc;
        yaml_free(d);
    }
    // Our latency keys and paths stay readable (plain), words and numbers are quoted.
    EXPECT_EQ(written("mb_k5_e6-in:14x14x48-out:7x7x96-s:2"), "mb_k5_e6-in:14x14x48-out:7x7x96-s:2");
    EXPECT_EQ(written("configs/spaces/x.yaml"), "configs/spaces/x.yaml");
    EXPECT_EQ(written("yes"), "\"yes\"");
    EXPECT_EQ(written("42"), "\"42\"");
    EXPECT_EQ(written("a\nb"), "\"a\\nb\"");
}

TEST(Yaml, WriteNumbersRoundTripExactly) {
    uint64_t s = 99;
    for (int i = 0; i < 2000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double dv = std::ldexp((double)(s >> 11), -53) * std::pow(10.0, (double)(i % 21) - 10);
        float fv = (float)dv;
        char* buf = nullptr;
        size_t len = 0;
        FILE* fp = open_memstream(&buf, &len);
        fputs("d: ", fp);
        yaml_write_double(fp, dv);
        fputs("\nf: ", fp);
        yaml_write_float(fp, fv);
        fputc('\n', fp);
        fclose(fp);
        HwErr err = {{0}, 0};
        YamlDoc* d = yaml_load_string(buf, "n.yaml", &err);
        ASSERT_NE(d, nullptr) << err.msg;
        double rd = 0, rf = 0;
        ASSERT_EQ(yaml_float(d, yaml_get(d->root, "d"), "d", -1e300, 1e300, &rd, &err), 0) << err.msg;
        ASSERT_EQ(yaml_float(d, yaml_get(d->root, "f"), "f", -1e300, 1e300, &rf, &err), 0) << err.msg;
        EXPECT_EQ(rd, dv) << buf;
        EXPECT_EQ((float)rf, fv) << buf;
        yaml_free(d);
        free(buf);
    }
    char* buf = nullptr;
    size_t len = 0;
    FILE* fp = open_memstream(&buf, &len);
    yaml_write_float(fp, 0.1f);
    fputc(' ', fp);
    yaml_write_double(fp, 0.1);
    fclose(fp);
    EXPECT_STREQ(buf, "0.1 0.1");  // shortest form, not 0.100000001
    free(buf);
}

TEST(Yaml, AtomicFileWriteReplacesOrLeavesTheOldFile) {
    TempDir tmp("yaml");
    std::string f = tmp.write("out.yaml", "old: 1\n");
    char t[1024];
    HwErr err = {{0}, 0};
    FILE* fp = yaml_file_begin(f.c_str(), t, sizeof t, &err);
    ASSERT_NE(fp, nullptr) << err.msg;
    fputs("new: 2\n", fp);
    yaml_file_abort(fp, t);
    EXPECT_NE(access(t, F_OK), 0);  // temporary file removed
    YamlDoc* d = yaml_load_file(f.c_str(), &err);
    ASSERT_NE(d, nullptr);
    EXPECT_NE(yaml_get(d->root, "old"), nullptr);
    yaml_free(d);
    fp = yaml_file_begin(f.c_str(), t, sizeof t, &err);
    ASSERT_NE(fp, nullptr) << err.msg;
    fputs("new: 2\n", fp);
    ASSERT_EQ(yaml_file_commit(fp, t, f.c_str(), &err), 0) << err.msg;
    d = yaml_load_file(f.c_str(), &err);
    ASSERT_NE(d, nullptr);
    EXPECT_NE(yaml_get(d->root, "new"), nullptr);
    yaml_free(d);
    struct stat st;
    ASSERT_EQ(stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    std::string nodir = tmp.path + "/missing/out.yaml";
    EXPECT_EQ(yaml_file_begin(nodir.c_str(), t, sizeof t, &err), nullptr);
    EXPECT_EQ(err.code, 1);
    EXPECT_TRUE(contains(err.msg, nodir)) << err.msg;
}

// Errors quote what files contain; whatever that is, the message stays one
// printable line: control characters and bytes that are not UTF-8 are escaped,
// UTF-8 (a path with accents, say) is kept.
TEST(Error, MessagesAreOneEscapedLine) {
    HwErr err = {{0}, 0};
    EXPECT_EQ(hw_bad_input(&err, "/tmp/caf\xc3\xa9.yaml", 3, "ops[0]: '%s' is not a candidate", "mb\nk3\t\x97\x01"), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_STREQ(err.msg, "/tmp/caf\xc3\xa9.yaml:3: ops[0]: 'mb\\nk3\\t\\x97\\x01' is not a candidate");
    // A truncated UTF-8 sequence is escaped too, and a long hostile string
    // is cut, never overflowing the message.
    std::string hostile(3000, '\x7f');
    hw_runtime(&err, nullptr, 0, "found '%s' then '\xe2\x82'", hostile.c_str());
    EXPECT_EQ(err.code, 1);
    EXPECT_LT(strlen(err.msg), sizeof err.msg);
    EXPECT_EQ(std::string(err.msg).rfind("found '\\x7f\\x7f", 0), 0u) << err.msg;
    EXPECT_EQ(std::string(err.msg).find('\x7f'), std::string::npos);
    hw_runtime(&err, nullptr, 0, "end '\xe2\x82'");
    EXPECT_STREQ(err.msg, "end '\\xe2\\x82'");
}
