// Tokenizer: trains a tiny SentencePiece model in a temporary directory, then checks loading,
// round trips, BOS/EOS handling, user symbols, byte fallback and errors.
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "regionchat/error.h"
#include "regionchat/wordpiece.h"
#include "regionchat/tokenizer.h"
#include "text/spm_model_check.h"

namespace {

// About 200 short sentences with words, digits, punctuation and the <region> symbol.
std::vector<std::string> training_sentences() {
    const char* colors[] = {"red", "green", "blue", "yellow", "black"};
    const char* objects[] = {"cube", "ball", "dog", "cat", "chair", "table", "person", "car"};
    const char* places[] = {"on the left", "on the right", "near the top", "at the bottom",
                            "in the middle"};
    std::vector<std::string> out;
    int n = 0;
    for (const char* c : colors)
        for (const char* o : objects)
            for (const char* p : places) {
                if (out.size() >= 200) return out;
                std::string s = std::string("The ") + c + " " + o + " is " + p + ".";
                if (n % 3 == 0) s += " There are " + std::to_string(n * 7 % 1000) + " of them!";
                if (n % 4 == 0) s = "What is in <region>? " + s;
                if (n % 5 == 0) s += " Answer: yes, (maybe) no; 0.25 and 0.75?";
                out.push_back(s);
                ++n;
            }
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int count_digits(const std::string& s) {
    return static_cast<int>(
        std::count_if(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }));
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private slots:
    void wordPieceEqualsTransformers();
    void wordPieceRefusesBadVocabularies();
    void initTestCase();
    void loadsTrainedModel();
    void roundTrip_data();
    void roundTrip();
    void bosHandling();
    void decodeSkipsSpecialAndInvalidIds();
    void digitsAreSplit();
    void addedTokensSplitTheText();
    void specialTokensAndLegacy();
    void userSymbolIsOnePiece();
    void byteFallbackEncodesUnseenText();
    void leadingSpaceFoldsIntoDummyPrefix();
    void trainingIsDeterministic();
    void missingFileThrows();
    void garbageFileThrows();
    void emptyFileThrows();
    void badTrainingInputThrows();
    void hostileModelsAreRefused();

private:
    QTemporaryDir dir_;
    std::string model_path_;
    std::unique_ptr<rc::Tokenizer> tok_;
};

void TestTokenizer::initTestCase() {
    QVERIFY(dir_.isValid());
    model_path_ = dir_.filePath("tiny.model").toStdString();
    QElapsedTimer timer;
    timer.start();
    rc::Tokenizer::train(training_sentences(), model_path_, 300, {"<region>"});
    const qint64 ms = timer.elapsed();
    // A figure for the log, not a pass/fail limit (machines running ctest -j are noisy).
    qInfo("trained a 300-piece model in %lld ms", static_cast<long long>(ms));
    QVERIFY(QFile::exists(dir_.filePath("tiny.model")));
    tok_ = rc::Tokenizer::load(model_path_);
    QVERIFY(tok_ != nullptr);
}

void TestTokenizer::loadsTrainedModel() {
    QCOMPARE(tok_->bos_id(), 1);
    QCOMPARE(tok_->eos_id(), 2);
    // 3 control pieces + 256 bytes + the user symbol + characters, at most the requested size.
    QVERIFY(tok_->vocab_size() > 260);
    QVERIFY(tok_->vocab_size() <= 300);
}

void TestTokenizer::roundTrip_data() {
    QTest::addColumn<QString>("text");
    QTest::newRow("words") << "The red cube is on the left.";
    QTest::newRow("digits") << "There are 12345 cats and 0.75 dogs.";
    QTest::newRow("punctuation") << "Answer: yes, (maybe) no; really?!";
    QTest::newRow("region") << "What is in <region> next to <region>?";
    QTest::newRow("unseen words") << "Quixotic zephyrs vex jumbled wizards";
    QTest::newRow("non-ascii") << QString::fromUtf8("Größe: 日本語 ✓ émoji 🙂");
}

void TestTokenizer::roundTrip() {
    QFETCH(QString, text);
    const std::string s = text.toStdString();
    const std::vector<int> ids = tok_->encode(s);
    QVERIFY(!ids.empty());
    for (int id : ids) {
        QVERIFY(id >= 0);
        QVERIFY(id < tok_->vocab_size());
        QVERIFY(id != 0);  // byte fallback: nothing is unknown
    }
    QCOMPARE(QString::fromStdString(tok_->decode(ids)), text);
}

void TestTokenizer::bosHandling() {
    const std::string s = "The blue ball is near the top.";
    const std::vector<int> plain = tok_->encode(s);
    const std::vector<int> with_bos = tok_->encode(s, true);
    QCOMPARE(static_cast<int>(with_bos.size()), static_cast<int>(plain.size()) + 1);
    QCOMPARE(with_bos.front(), 1);
    QVERIFY(std::equal(plain.begin(), plain.end(), with_bos.begin() + 1));
    QVERIFY(std::find(plain.begin(), plain.end(), 1) == plain.end());
    QCOMPARE(tok_->decode(with_bos), s);
}

void TestTokenizer::decodeSkipsSpecialAndInvalidIds() {
    const std::string s = "a green dog";
    std::vector<int> ids = tok_->encode(s);
    std::vector<int> noisy = {1, -7};
    noisy.insert(noisy.end(), ids.begin(), ids.end());
    noisy.push_back(2);
    noisy.push_back(tok_->vocab_size());
    noisy.push_back(1 << 30);
    QCOMPARE(tok_->decode(noisy), s);
    QCOMPARE(tok_->decode({}), std::string());
    QCOMPARE(tok_->decode({1, 2, -1}), std::string());
}

// Pink's added tokens: cut out of the text before SentencePiece (longest first where two start
// at the same place), the text between encoded piece by piece, written back by decode.
void TestTokenizer::addedTokensSplitTheText() {
    auto tok = rc::Tokenizer::load(model_path_);
    const int n = tok->vocab_size();
    tok->add_tokens({{"<d>", n}, {"<dd>", n + 1}, {"</d>", n + 2}});
    const std::vector<int> green = tok_->encode("green");
    std::vector<int> want = {n + 1, n};
    want.insert(want.end(), green.begin(), green.end());
    want.push_back(n + 2);
    QCOMPARE(tok->encode("<dd><d>green</d>"), want);
    QCOMPARE(tok->decode(want), std::string("<dd><d>green</d>"));
    // Text before and after is encoded as it would be alone; BOS comes first.
    const std::vector<int> a = tok_->encode("a dog"), b = tok_->encode(" sat");
    std::vector<int> mixed = {1};
    mixed.insert(mixed.end(), a.begin(), a.end());
    mixed.push_back(n);
    mixed.insert(mixed.end(), b.begin(), b.end());
    QCOMPARE(tok->encode("a dog<d> sat", true), mixed);
    QCOMPARE(tok->encode(""), std::vector<int>{});
    QCOMPARE(tok->encode("plain words"), tok_->encode("plain words"));
    QVERIFY_THROWS_EXCEPTION(rc::Error, tok->add_tokens({{"", n + 3}}));
}

// "<s>", "</s>", "<unk>" in the text are split out as transformers' slow tokenizer splits
// them. legacy (its default) gives the text after one SentencePiece's leading "\u2581" again;
// legacy false (LLaMA-2's tokenizer_config.json) does not: "a</s>user" reads back "a user" or
// "auser".
void TestTokenizer::specialTokensAndLegacy() {
    auto tok = rc::Tokenizer::load(model_path_);
    QVERIFY(tok->legacy());
    const std::vector<int> a = tok->encode("a"), user = tok->encode("user");
    std::vector<int> want = a;
    want.push_back(tok->eos_id());
    want.insert(want.end(), user.begin(), user.end());
    const std::vector<int> legacy = tok->encode("a</s>user");
    QCOMPARE(legacy, want);
    QCOMPARE(tok->decode(legacy), std::string("a user"));
    QCOMPARE(tok->encode("<s>a").front(), tok->bos_id());

    tok->set_legacy(false);
    const std::vector<int> plain = tok->encode("a</s>user");
    QCOMPARE(tok->decode(plain), std::string("auser"));
    QVERIFY(plain != legacy);
    // The first piece keeps its "\u2581" either way; only pieces after a split token change.
    QCOMPARE(tok->encode("a"), a);
    QCOMPARE(tok->encode("user"), user);
    // An image placeholder given by the caller splits like an added token.
    const std::vector<int> with_image = tok->encode("a<image>user", false, {{"<image>", -200}});
    QCOMPARE(with_image[a.size()], -200);
    QCOMPARE(tok->decode(with_image), std::string("auser"));
}

void TestTokenizer::digitsAreSplit() {
    const std::string s = "count 9081726354";
    const std::vector<int> ids = tok_->encode(s);
    int total = 0;
    for (int id : ids) {
        const int d = count_digits(tok_->decode({id}));
        QVERIFY2(d <= 1, "split_digits: no piece holds two digits");
        total += d;
    }
    QCOMPARE(total, 10);
}

void TestTokenizer::userSymbolIsOnePiece() {
    const std::vector<int> alone = tok_->encode("<region>");
    QVERIFY(!alone.empty());
    const int region = alone.back();
    QCOMPARE(tok_->decode({region}), std::string("<region>"));
    const std::vector<int> ids = tok_->encode("look at <region> and <region> now");
    QCOMPARE(static_cast<int>(std::count(ids.begin(), ids.end(), region)), 2);
}

void TestTokenizer::byteFallbackEncodesUnseenText() {
    // U+2713 is three UTF-8 bytes and never seen in training: three byte pieces.
    const std::string check = "\xE2\x9C\x93";
    const std::vector<int> ids = tok_->encode(check);
    // Each lone byte piece decodes to U+FFFD; together they make the character again.
    const std::string replacement = "\xEF\xBF\xBD";
    int byte_pieces = 0;
    for (int id : ids)
        if (tok_->decode({id}) == replacement) ++byte_pieces;
    QCOMPARE(byte_pieces, 3);
    QCOMPARE(tok_->decode(ids), check);
}

void TestTokenizer::leadingSpaceFoldsIntoDummyPrefix() {
    // The chat templates rely on this: the answer piece " A1" tokenizes like "A1" ("\u2581A1").
    QCOMPARE(tok_->encode(" red cube"), tok_->encode("red cube"));
    QCOMPARE(tok_->decode(tok_->encode(" red cube")), std::string("red cube"));
    QVERIFY(tok_->encode("red cube") != tok_->encode("redcube"));
}

void TestTokenizer::trainingIsDeterministic() {
    const std::string again = dir_.filePath("again.model").toStdString();
    rc::Tokenizer::train(training_sentences(), again, 300, {"<region>"});
    const std::string a = slurp(model_path_);
    const std::string b = slurp(again);
    QVERIFY(!a.empty());
    QVERIFY(a == b);
}

void TestTokenizer::missingFileThrows() {
    const std::string path = dir_.filePath("does/not/exist.model").toStdString();
    try {
        rc::Tokenizer::load(path);
        QFAIL("expected rc::Error");
    } catch (const rc::Error& e) {
        QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
    }
}

void TestTokenizer::garbageFileThrows() {
    const std::string path = dir_.filePath("garbage.model").toStdString();
    {
        std::ofstream out(path, std::ios::binary);
        std::string junk;
        for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 2654435761u) >> 13);
        out << "this is not a sentencepiece model" << junk;
    }
    try {
        rc::Tokenizer::load(path);
        QFAIL("expected rc::Error");
    } catch (const rc::Error& e) {
        QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
    }
}

void TestTokenizer::emptyFileThrows() {
    const std::string path = dir_.filePath("empty.model").toStdString();
    { std::ofstream out(path, std::ios::binary); }
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::Tokenizer::load(path));
}

void TestTokenizer::badTrainingInputThrows() {
    const std::string path = dir_.filePath("bad.model").toStdString();
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::Tokenizer::train({}, path, 300));
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::Tokenizer::train({"some text"}, path, 0));
    const std::string unwritable = dir_.filePath("no/such/dir/x.model").toStdString();
    QVERIFY_THROWS_EXCEPTION(rc::Error,
                             rc::Tokenizer::train(training_sentences(), unwritable, 300));
}

// SentencePiece 0.1.97 walks a model's precompiled_charsmap trie unchecked; a crafted one read
// out of bounds on the first encode. T5's real table passes the check; the same file with the
// root's offset, a leaf value or the trie size pointing outside is refused on load with a message.
void TestTokenizer::hostileModelsAreRefused() {
    const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
    QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
    const std::string t5 = slurp(std::string(src) + "/tests/reference/regionvlm/hf/spiece.model");
    QVERIFY(!t5.empty());
    QCOMPARE(QString::fromStdString(rc::sentencepiece_model_problem(t5)), QString());
    // The table follows NormalizerSpec.name "nmt_nfkc" as field 2 (tag 0x12, varint length).
    const size_t name = t5.find("nmt_nfkc");
    QVERIFY(name != std::string::npos);
    size_t at = name + 8;
    QCOMPARE(int(static_cast<unsigned char>(t5[at])), 0x12);
    ++at;
    size_t len = 0;
    for (int shift = 0;; shift += 7) {
        const auto byte = static_cast<unsigned char>(t5[at++]);
        len |= size_t(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
    }
    const size_t blob = at;
    QVERIFY(len > 1024 && blob + len <= t5.size());
    uint32_t trie_bytes;
    std::memcpy(&trie_bytes, t5.data() + blob, 4);
    QVERIFY(trie_bytes > 0 && trie_bytes < len);
    const auto put = [](std::string* s, size_t pos, uint32_t v) { std::memcpy(&(*s)[pos], &v, 4); };
    const auto unit = [&](size_t i) {
        uint32_t u;
        std::memcpy(&u, t5.data() + blob + 4 + 4 * i, 4);
        return u;
    };

    struct Case { const char* what; std::string bytes; const char* says; };
    std::vector<Case> cases;
    std::string root = t5;
    put(&root, blob + 4, (unit(0) & 0x1FF) | (0x3FFFFFu << 10));  // root offset 4 G units out
    cases.push_back({"root offset", root, "points to unit"});
    std::string size = t5;
    put(&size, blob, uint32_t(len));  // the trie claims the whole blob and more
    cases.push_back({"trie size", size, "its trie claims"});
    // A unit with a leaf whose value unit says "replacement 0x7fffffff".
    std::string leaf = t5;
    size_t with_leaf = 0;
    for (size_t j = 1; j < trie_bytes / 4 && !with_leaf; ++j) {
        const uint32_t u = unit(j);
        if (!(u >> 31) && ((u >> 8) & 1)) with_leaf = j;
    }
    QVERIFY(with_leaf);
    const uint32_t u = unit(with_leaf);
    const size_t t = with_leaf ^ ((u >> 10) << ((u & (1U << 9)) >> 6));
    put(&leaf, blob + 4 + 4 * t, 0x80000000u | 0x7fffffffu);
    cases.push_back({"leaf value", leaf, "outside its"});

    for (const Case& c : cases) {
        const std::string path = dir_.filePath(QString("hostile-%1.model").arg(c.what)).toStdString();
        { std::ofstream(path, std::ios::binary) << c.bytes; }
        try {
            auto tok = rc::Tokenizer::load(path);
            (void)tok->encode("a hostile table would be read here");
            QFAIL(qPrintable(QString("the %1 table was accepted").arg(c.what)));
        } catch (const rc::Error& e) {
            const std::string m = e.what();
            QVERIFY2(m.find(path) != std::string::npos && m.find("normalizer table") != std::string::npos &&
                         m.find(c.says) != std::string::npos, e.what());
        }
    }
    // A piece with a NUL byte: darts-clone threw out of SentencePiece and ended the process
    // (found by tests/fuzz/fuzz_tokenizer_model; its input is in the corpus).
    {
        const std::string path =
            std::string(src) + "/tests/fuzz/corpus/fuzz_tokenizer_model/regress-nul-piece.model";
        QVERIFY(!slurp(path).empty());
        try {
            (void)rc::Tokenizer::load(path);
            QFAIL("a piece with a NUL byte was accepted");
        } catch (const rc::Error& e) {
            QVERIFY2(std::string(e.what()).find("holds a NUL byte") != std::string::npos, e.what());
        }
    }
    // Truncated and oversized tables, straight to the check.
    QVERIFY(!rc::charsmap_problem(std::string("\x10\0\0\0abc", 7)).empty());
    QVERIFY(!rc::charsmap_problem(std::string(8, '\0')).empty());  // a zero-unit trie
    QVERIFY(rc::charsmap_problem(std::string()).empty());           // no table: identity
}

// rc::WordPiece against transformers' BertTokenizer (uncased, [DEC] added as BOS, as LAVIS'
// Q-Former tokenizer): 307 strings (RegionVLM point strings, punctuation, accents, CJK, control
// characters, over-long words, [DEC] in the text) give the same tokens and ids.
void TestTokenizer::wordPieceEqualsTransformers() {
    const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
    QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
    const std::string dir = std::string(src) + "/tests/reference/wordpiece";
    rc::WordPiece wp = rc::WordPiece::load(dir + "/vocab.txt");
    std::ifstream in(dir + "/cases.json");
    QVERIFY(in.good());
    const auto j = nlohmann::json::parse(in);
    QCOMPARE(wp.add_token("[DEC]"), j["dec_id"].get<int>());
    QVERIFY(j["cases"].size() >= 300);
    int with_unk = 0, with_dec = 0;
    for (const auto& c : j["cases"]) {
        const std::string text = c["text"].get<std::string>();
        const auto want_tokens = c["tokens"].get<std::vector<std::string>>();
        const auto got_tokens = wp.tokenize(text);
        if (got_tokens != want_tokens) {
            std::string g, w;
            for (const auto& t : got_tokens) g += t + " ";
            for (const auto& t : want_tokens) w += t + " ";
            QFAIL(qPrintable(QString::fromStdString("'" + text + "'\n got: " + g + "\nwant: " + w)));
        }
        QCOMPARE(wp.encode(text), c["ids"].get<std::vector<int>>());
        if (std::find(want_tokens.begin(), want_tokens.end(), "[UNK]") != want_tokens.end()) ++with_unk;
        if (std::find(want_tokens.begin(), want_tokens.end(), "[DEC]") != want_tokens.end()) ++with_dec;
    }
    QVERIFY(with_unk > 0);
    QVERIFY(with_dec > 0);
}

void TestTokenizer::wordPieceRefusesBadVocabularies() {
    QTemporaryDir tmp;
    const std::string empty = tmp.filePath("empty.txt").toStdString();
    std::ofstream(empty).close();
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::WordPiece::load(empty));
    const std::string no_unk = tmp.filePath("no_unk.txt").toStdString();
    std::ofstream(no_unk) << "[PAD]\na\n";
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::WordPiece::load(no_unk));
    QVERIFY_THROWS_EXCEPTION(rc::Error, rc::WordPiece::load(tmp.filePath("missing.txt").toStdString()));
    // Malformed UTF-8 never stops it: bad bytes are dropped as BERT drops U+FFFD.
    rc::WordPiece wp({"[UNK]", "a", "##b"});
    QCOMPARE(wp.encode("ab\xff\xc3"), std::vector<int>({1, 2}));
}

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
