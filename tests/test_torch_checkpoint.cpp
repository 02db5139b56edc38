// PyTorch zip checkpoints (torch.save layout, written by support/torch_zip_writer): tensors of
// every storage type, views with offsets and strides, zip64, sharded folders, and every
// hostile or broken file refused with a message naming what is wrong.
#include <QTemporaryDir>
#include <QtTest>

#include <functional>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "regionchat/error.h"
#include "regionchat/safetensors.h"
#include "support/torch_zip_writer.h"

using namespace rc;
using namespace rc::testing;
namespace fs = std::filesystem;

namespace {

template <typename T>
ZipStorage storage(const std::string& key, const std::vector<T>& values, const std::string& type) {
    ZipStorage s;
    s.key = key;
    s.type = type;
    s.numel = static_cast<int64_t>(values.size());
    s.bytes.resize(values.size() * sizeof(T));
    std::memcpy(s.bytes.data(), values.data(), s.bytes.size());
    return s;
}

float f32_at(const TensorView& v, int64_t element) {
    float x;
    std::memcpy(&x, v.data + element * 4, 4);
    return x;
}

QString error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestTorchCheckpoint : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string path(const char* name) { return (tmp_.path() + "/" + name).toStdString(); }

    // weight: F32 [2, 3]; half: F16 [4] at offset 2 of a shared storage; its neighbour: [2]
    // at offset 0; t: the transpose [3, 2] of a [2, 3] storage (strides 1, 3).
    std::string writeSample(const char* name, const ZipOptions& o = {}) {
        std::vector<ZipStorage> st = {
            storage<float>("0", {1, 2, 3, 4, 5, 6}, "FloatStorage"),
            storage<uint16_t>("1", {0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600}, "HalfStorage"),
            storage<float>("2", {10, 11, 12, 13, 14, 15}, "FloatStorage"),
            storage<uint16_t>("3", {0x3F80, 0x4000}, "BFloat16Storage")};
        std::vector<ZipTensor> t(5);
        t[0] = {"model.weight", "FloatStorage", "0", {2, 3}, {3, 1}, 0};
        t[1] = {"model.half", "HalfStorage", "1", {4}, {1}, 2};
        t[2] = {"model.half_head", "HalfStorage", "1", {2}, {1}, 0};
        t[3] = {"model.t", "FloatStorage", "2", {3, 2}, {1, 3}, 0};
        t[4] = {"lm_head.bf16", "BFloat16Storage", "3", {2}, {1}, 0};
        const std::string p = path(name);
        write_torch_zip(p, state_dict_pickle(t, st), st, o);
        return p;
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void readsTensorsViewsAndTypes() {
        for (bool zip64 : {false, true}) {
            ZipOptions o;
            o.zip64 = zip64;
            auto f = open_torch_checkpoint(writeSample(zip64 ? "z64.bin" : "plain.bin", o));
            QCOMPARE(f->tensors().size(), size_t(5));
            const TensorView* w = f->find("model.weight");
            QVERIFY(w);
            QCOMPARE(w->dtype, DType::F32);
            QCOMPARE(w->shape, (std::vector<int64_t>{2, 3}));
            QVERIFY(w->strides.empty());  // contiguous
            QCOMPARE(w->nbytes, size_t(24));
            QCOMPARE(f32_at(*w, 5), 6.0f);
            const TensorView* h = f->find("model.half");
            QCOMPARE(h->dtype, DType::F16);
            uint16_t first;
            std::memcpy(&first, h->data, 2);
            QCOMPARE(first, uint16_t(0x4200));  // element 2 of the shared storage
            QCOMPARE(h->nbytes, size_t(8));
            const TensorView* head = f->find("model.half_head");
            std::memcpy(&first, head->data, 2);
            QCOMPARE(first, uint16_t(0x3C00));
            const TensorView* t = f->find("model.t");
            QCOMPARE(t->strides, (std::vector<int64_t>{1, 3}));
            // t[i][j] = storage[i * 1 + j * 3]: t[2][1] = storage[5] = 15
            QCOMPARE(f32_at(*t, 2 * 1 + 1 * 3), 15.0f);
            QCOMPARE(f->find("lm_head.bf16")->dtype, DType::BF16);
        }
    }

    void foldersAndShardIndexes() {
        const fs::path dir = path("sharded");
        fs::create_directories(dir);
        auto write_shard = [&](const char* file, const char* tensor, float value) {
            std::vector<ZipStorage> st = {storage<float>("0", {value, value}, "FloatStorage")};
            std::vector<ZipTensor> t = {{tensor, "FloatStorage", "0", {2}, {1}, 0}};
            write_torch_zip((dir / file).string(), state_dict_pickle(t, st), st);
        };
        write_shard("pytorch_model-00001-of-00002.bin", "a.weight", 1);
        write_shard("pytorch_model-00002-of-00002.bin", "b.weight", 2);
        std::ofstream((dir / "pytorch_model.bin.index.json").string())
            << R"({"metadata": {}, "weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin",
                   "b.weight": "pytorch_model-00002-of-00002.bin"}})";
        auto archive = SafetensorsArchive::open(dir.string());
        QCOMPARE(archive->size(), size_t(2));
        QCOMPARE(f32_at(*archive->find("b.weight"), 1), 2.0f);
        // A single pytorch_model.bin in a folder is found too.
        const fs::path single = path("single");
        fs::create_directories(single);
        fs::copy_file(writeSample("s.bin"), single / "pytorch_model.bin");
        QCOMPARE(SafetensorsArchive::open(single.string())->size(), size_t(5));
    }

    void refusesCodeAndBrokenFiles() {
        std::vector<ZipStorage> st = {storage<float>("0", {1, 2}, "FloatStorage")};
        // A global that would run code.
        std::vector<uint8_t> evil = {0x80, 2, 'c'};
        for (char c : std::string("os\nsystem\n")) evil.push_back(static_cast<uint8_t>(c));
        evil.insert(evil.end(), {'X', 2, 0, 0, 0, 'l', 's', 0x85, 'R', '.'});
        write_torch_zip(path("evil.bin"), evil, st);
        QString e = error_of([&] { open_torch_checkpoint(path("evil.bin")); });
        QVERIFY2(e.contains("refusing pickle global 'os.system'"), qPrintable(e));

        // An opcode torch.save never writes (INST).
        write_torch_zip(path("inst.bin"), {0x80, 2, 'i', 'a', '\n', 'b', '\n', '.'}, st);
        e = error_of([&] { open_torch_checkpoint(path("inst.bin")); });
        QVERIFY2(e.contains("unsupported pickle opcode 0x69"), qPrintable(e));

        // Truncated pickle.
        auto good = state_dict_pickle({{"w", "FloatStorage", "0", {2}, {1}, 0}}, st);
        write_torch_zip(path("trunc.bin"), {good.begin(), good.begin() + 40}, st);
        e = error_of([&] { open_torch_checkpoint(path("trunc.bin")); });
        QVERIFY2(e.contains("truncated"), qPrintable(e));

        // A view past its storage, and a storage that is not in the zip.
        auto past = state_dict_pickle({{"w", "FloatStorage", "0", {3}, {1}, 1}}, st);
        write_torch_zip(path("past.bin"), past, st);
        e = error_of([&] { open_torch_checkpoint(path("past.bin")); });
        QVERIFY2(e.contains("tensor 'w'") && e.contains("past its storage"), qPrintable(e));
        auto missing = state_dict_pickle({{"w", "FloatStorage", "7", {1}, {1}, 0}}, st);
        write_torch_zip(path("missing.bin"), missing, st);
        e = error_of([&] { open_torch_checkpoint(path("missing.bin")); });
        QVERIFY2(e.contains("storage 7 is missing"), qPrintable(e));

        // Compressed entries, not a zip, an empty file, a safetensors file named .bin.
        ZipOptions deflate;
        deflate.method = 8;
        write_torch_zip(path("deflate.bin"), good, st, deflate);
        e = error_of([&] { open_torch_checkpoint(path("deflate.bin")); });
        QVERIFY2(e.contains("compressed"), qPrintable(e));
        std::ofstream(path("text.bin")) << "this is not a checkpoint at all, just some text here";
        e = error_of([&] { open_torch_checkpoint(path("text.bin")); });
        QVERIFY2(e.contains("not a PyTorch zip checkpoint"), qPrintable(e));
        std::ofstream(path("empty.bin")).close();
        QVERIFY(!error_of([&] { open_torch_checkpoint(path("empty.bin")); }).isEmpty());

        // Every prefix and many single-byte corruptions of a good file: an error, never a crash.
        const std::string sample = writeSample("fuzz_src.bin");
        std::ifstream in(sample, std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
        uint64_t state = 12345;
        int refused = 0;
        for (int i = 0; i < 1500; ++i) {
            std::vector<char> b = bytes;
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            if (i < 300) {
                b.resize(static_cast<size_t>(state >> 33) % b.size());
            } else {
                for (int k = 0; k < 3; ++k) {
                    state = state * 6364136223846793005ull + 1442695040888963407ull;
                    b[(state >> 33) % b.size()] = static_cast<char>(state >> 13);
                }
            }
            std::ofstream(path("fuzz.bin"), std::ios::binary | std::ios::trunc)
                .write(b.data(), static_cast<std::streamsize>(b.size()));
            try {
                auto f = open_torch_checkpoint(path("fuzz.bin"));
                for (const auto& t : f->tensors()) {  // what opens must be readable
                    volatile uint8_t sink = 0;
                    for (size_t k = 0; k < t.nbytes; ++k) sink ^= t.data[k];
                    (void)sink;
                }
            } catch (const Error&) {
                ++refused;
            }
        }
        QVERIFY(refused >= 300);  // at least every truncation is refused
    }

    // Files an attacker would write (issue 22's known holes), each refused with a message.
    void craftedFilesAreRefused() {
        // 50 bytes: a zip64 locator whose record offset is far outside the file. For files of
        // 42-55 bytes "z > n - 56" wrapped and the reader went to the offset it was given.
        std::vector<uint8_t> b(50, 0);
        auto put = [&](size_t at, uint64_t v, int n) {
            for (int i = 0; i < n; ++i) b[at + size_t(i)] = uint8_t(v >> (8 * i));
        };
        put(8, 0x07064b50, 4);           // zip64 locator at eocd - 20
        put(16, 0x7fffffff00ull, 8);     // its record "at" 512 GB
        put(28, 0x06054b50, 4);          // end of central directory
        put(28 + 10, 0xFFFF, 2);         // zip64 counts
        std::ofstream(path("zip64-50.bin"), std::ios::binary)
            .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        QString e = error_of([&] { open_torch_checkpoint(path("zip64-50.bin")); });
        QVERIFY2(e.contains("bad zip64 directory record"), qPrintable(e));

        // A view whose last element is (2^39) * 2^25 = 2^64 elements in: the product wrapped to
        // 0, the bounds check passed and LibTorch aborted the process on the copy.
        std::vector<ZipStorage> st = {storage<float>("0", {1, 2}, "FloatStorage")};
        auto wrap = state_dict_pickle(
            {{"w", "FloatStorage", "0", {(int64_t(1) << 39) + 1, 1}, {int64_t(1) << 25, 1}, 0}}, st);
        write_torch_zip(path("wrap.bin"), wrap, st);
        e = error_of([&] { open_torch_checkpoint(path("wrap.bin")); });
        QVERIFY2(e.contains("tensor 'w'") && e.contains("past its storage"), qPrintable(e));

        // Stride 0: two floats standing for a [100000, 100000] weight.
        auto broadcast = state_dict_pickle({{"w", "FloatStorage", "0", {100000, 100000}, {0, 0}, 0}}, st);
        write_torch_zip(path("broadcast.bin"), broadcast, st);
        e = error_of([&] { open_torch_checkpoint(path("broadcast.bin")); });
        QVERIFY2(e.contains("stride 0"), qPrintable(e));

        // 2 M nested tuples (freed recursively: a stack overflow) are refused at depth 100.
        std::vector<uint8_t> deep = {0x80, 2, ')'};
        deep.insert(deep.end(), 2'000'000, 0x85);  // TUPLE1 around the last one
        deep.push_back('.');
        write_torch_zip(path("deep.bin"), deep, st);
        e = error_of([&] { open_torch_checkpoint(path("deep.bin")); });
        QVERIFY2(e.contains("nested too deeply"), qPrintable(e));

        // 8 levels of dicts, each holding the one below under 30 keys (memo): 1.2 KB that
        // flatten walked 30^8 times. Refused after 4 M entries.
        std::vector<uint8_t> shared = {0x80, 2};
        std::function<void(int)> level = [&](int l) {
            if (l == 0) {
                shared.insert(shared.end(), {'}', 'q', 0});
                return;
            }
            shared.insert(shared.end(), {'}', '(', 0x8c, 1, 'a'});
            level(l - 1);  // the first key's value, memoised; the other 29 recall it
            for (int k = 1; k < 30; ++k)
                shared.insert(shared.end(), {0x8c, 1, uint8_t('a' + k % 26), 'h', uint8_t(l - 1)});
            shared.insert(shared.end(), {'u', 'q', uint8_t(l)});
        };
        level(7);
        shared.push_back('.');
        write_torch_zip(path("shared.bin"), shared, st);
        e = error_of([&] { open_torch_checkpoint(path("shared.bin")); });
        QVERIFY2(e.contains("too many entries"), qPrintable(e));

        // A list appended to itself (a cycle: never freed, walked forever), and a container
        // changed after it was stored.
        write_torch_zip(path("cycle.bin"), {0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}, st);
        e = error_of([&] { open_torch_checkpoint(path("cycle.bin")); });
        QVERIFY2(e.contains("inside itself"), qPrintable(e));
        write_torch_zip(path("late.bin"),
                        {0x80, 2, ']', 'q', 0, ']', 'h', 0, 'a', 'h', 0, 'N', 'a', '.'}, st);
        e = error_of([&] { open_torch_checkpoint(path("late.bin")); });
        QVERIFY2(e.contains("changed after it was stored"), qPrintable(e));
    }
};

QTEST_GUILESS_MAIN(TestTorchCheckpoint)
#include "test_torch_checkpoint.moc"
