// Safetensors reader/writer: round trips, sharded folders, and damaged files that must end in
// rc::Error naming the file (and tensor), never in a crash.
#include <QtTest/QtTest>

#include <cstring>
#include <functional>
#include <random>

#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace {

std::string s(const QString& q) {
    return q.toStdString();
}

// Raw bytes of a little-endian u64.
QByteArray le64(quint64 v) {
    QByteArray b(8, '\0');
    for (int i = 0; i < 8; ++i) b[i] = char((v >> (8 * i)) & 0xff);
    return b;
}

void write_bytes(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    QCOMPARE(f.write(bytes), qint64(bytes.size()));
}

QByteArray read_bytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

// A safetensors file built by hand: header length, JSON header, data.
QByteArray raw_file(const QByteArray& header, const QByteArray& data) {
    return le64(quint64(header.size())) + header + data;
}

// The rc::Error message of `f`, or "" when it does not throw rc::Error.
QString error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rc::Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

template <class T>
rc::TensorToWrite tensor(const std::string& name, rc::DType dtype, std::vector<int64_t> shape,
                         const std::vector<T>& values) {
    rc::TensorToWrite t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = values.data();
    t.nbytes = values.size() * sizeof(T);
    return t;
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }

    // Writes `bytes` to `name`, opens it and returns the error (must mention the file name).
    QString open_error(const QString& name, const QByteArray& bytes) {
        write_bytes(path(name), bytes);
        return error_of([&] { rc::SafetensorsFile::open(s(path(name))); });
    }

    // A valid two-tensor file (F32 [2,3] then I64 [2]) for damage tests.
    QByteArray small_valid_file() {
        const std::vector<float> a = {1, 2, 3, 4, 5, 6};
        const std::vector<int64_t> b = {-7, 1LL << 40};
        rc::write_safetensors(
            s(path("small.safetensors")),
            {tensor("a", rc::DType::F32, {2, 3}, a), tensor("b.bias", rc::DType::I64, {2}, b)},
            {{"format", "pt"}});
        return read_bytes(path("small.safetensors"));
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void dtypeTable() {
        struct Row {
            rc::DType t;
            const char* name;
            size_t size;
        };
        const Row rows[] = {{rc::DType::F32, "F32", 4},   {rc::DType::F16, "F16", 2},
                            {rc::DType::BF16, "BF16", 2}, {rc::DType::F64, "F64", 8},
                            {rc::DType::I64, "I64", 8},   {rc::DType::I32, "I32", 4},
                            {rc::DType::I16, "I16", 2},   {rc::DType::I8, "I8", 1},
                            {rc::DType::U8, "U8", 1},     {rc::DType::Bool, "BOOL", 1}};
        for (const Row& r : rows) {
            QCOMPARE(rc::dtype_size(r.t), r.size);
            QCOMPARE(QString(rc::dtype_name(r.t)), QString(r.name));
            rc::DType parsed = rc::DType::U8;
            QVERIFY(rc::parse_dtype(r.name, &parsed));
            QVERIFY(parsed == r.t);
        }
        rc::DType unused;
        QVERIFY(!rc::parse_dtype("F8_E4M3", &unused));
        QVERIFY(!rc::parse_dtype("f32", &unused));
    }

    void roundTrip() {
        const std::vector<float> f32 = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
        const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001};   // 1, -2, max, tiny
        const std::vector<uint16_t> bf16 = {0x3F80, 0xBF80, 0x4049, 0x0000};  // 1, -1, ~3.14, 0
        const std::vector<int64_t> i64 = {-1, 0, 1LL << 62, 42, -(1LL << 40)};
        const std::vector<rc::TensorToWrite> in = {tensor("model.w32", rc::DType::F32, {2, 3}, f32),
                                                   tensor("model.a16", rc::DType::F16, {4}, f16),
                                                   tensor("bf", rc::DType::BF16, {2, 1, 2}, bf16),
                                                   tensor("ids", rc::DType::I64, {5}, i64)};
        const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "héllo"}};
        const std::string file = s(path("rt.safetensors"));
        rc::write_safetensors(file, in, meta);

        auto f = rc::SafetensorsFile::open(file);
        QCOMPARE(f->path(), file);
        QCOMPARE(f->tensors().size(), in.size());
        QVERIFY(f->metadata() == meta);
        for (const rc::TensorToWrite& w : in) {
            const rc::TensorView* t = f->find(w.name);
            QVERIFY2(t, w.name.c_str());
            QCOMPARE(t->name, w.name);
            QVERIFY(t->dtype == w.dtype);
            QVERIFY(t->shape == w.shape);
            QCOMPARE(t->nbytes, w.nbytes);
            QCOMPARE(t->file, file);
            QVERIFY(std::memcmp(t->data, w.data, w.nbytes) == 0);
        }
        QCOMPARE(f->find("ids")->numel(), int64_t(5));
        QCOMPARE(f->find("bf")->numel(), int64_t(4));
        QVERIFY(f->find("missing") == nullptr);
        // Tensors come back in data order, which is the order they were written in.
        for (size_t i = 0; i < in.size(); ++i) QCOMPARE(f->tensors()[i].name, in[i].name);

        // The header lists tensors in the given order with contiguous offsets.
        const QByteArray bytes = read_bytes(path("rt.safetensors"));
        quint64 n = 0;
        for (int i = 0; i < 8; ++i) n |= quint64(quint8(bytes[i])) << (8 * i);
        const QByteArray header = bytes.mid(8, int(n));
        int last = -1;
        for (const rc::TensorToWrite& w : in) {
            const int at = header.indexOf(QByteArray("\"") + w.name.c_str() + "\"");
            QVERIFY(at > last);
            last = at;
        }
        const QJsonObject obj = QJsonDocument::fromJson(header).object();
        qint64 expect_begin = 0;
        for (const rc::TensorToWrite& w : in) {
            const QJsonArray off = obj[w.name.c_str()].toObject()["data_offsets"].toArray();
            QCOMPARE(off[0].toInteger(), expect_begin);
            QCOMPARE(off[1].toInteger(), expect_begin + qint64(w.nbytes));
            expect_begin += qint64(w.nbytes);
        }
        QCOMPARE(qint64(bytes.size()), qint64(8 + n) + expect_begin);
    }

    void dataStartIsAligned() {
        const std::vector<uint8_t> v = {1, 2, 3};
        for (int len = 1; len <= 17; ++len) {
            const std::string name(size_t(len), 'x');
            const QString p = path(QString("align%1.safetensors").arg(len));
            rc::write_safetensors(s(p), {tensor(name, rc::DType::U8, {3}, v)});
            const QByteArray bytes = read_bytes(p);
            quint64 n = 0;
            for (int i = 0; i < 8; ++i) n |= quint64(quint8(bytes[i])) << (8 * i);
            QCOMPARE((8 + n) % 8, quint64(0));
            QCOMPARE(quint64(bytes.size()), 8 + n + 3);
            QCOMPARE(bytes.right(3), QByteArray("\x01\x02\x03", 3));
            // Padding is trailing spaces after the JSON object.
            const QByteArray header = bytes.mid(8, int(n));
            QVERIFY(header.trimmed().endsWith('}'));
            QVERIFY(QJsonDocument::fromJson(header).isObject());
            QCOMPARE(rc::SafetensorsFile::open(s(p))->find(name)->data[2], uint8_t(3));
        }
    }

    void writeIsAtomicAndOverwrites() {
        const std::vector<float> a = {1, 2}, b = {3, 4, 5};
        const std::string p = s(path("over.safetensors"));
        rc::write_safetensors(p, {tensor("a", rc::DType::F32, {2}, a)});
        rc::write_safetensors(p, {tensor("b", rc::DType::F32, {3}, b)});
        QVERIFY(!QFile::exists(path("over.safetensors.tmp")));
        auto f = rc::SafetensorsFile::open(p);
        QCOMPARE(f->tensors().size(), size_t(1));
        QVERIFY(f->find("b") && !f->find("a"));
    }

    void writeRejectsBadInput() {
        const std::vector<float> v = {1, 2, 3};
        const std::string p = s(path("bad_write.safetensors"));
        QString e = error_of([&] {
            rc::write_safetensors(p, {tensor("w", rc::DType::F32, {2, 2}, v)});
        });
        QVERIFY2(e.contains("bad_write.safetensors") && e.contains("'w'") && e.contains("16"),
                 qPrintable(e));
        e = error_of([&] {
            rc::write_safetensors(
                p, {tensor("w", rc::DType::F32, {3}, v), tensor("w", rc::DType::F32, {3}, v)});
        });
        QVERIFY2(e.contains("'w'") && e.contains("twice"), qPrintable(e));
        e = error_of([&] { rc::write_safetensors(p, {tensor("n", rc::DType::F32, {-1, 3}, v)}); });
        QVERIFY2(e.contains("negative"), qPrintable(e));
        QVERIFY(!QFile::exists(path("bad_write.safetensors")));
        QVERIFY(!QFile::exists(path("bad_write.safetensors.tmp")));
    }

    void shardedFolderWithIndex() {
        QTemporaryDir d;
        const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
        const std::vector<int32_t> c = {7, 8, 9};
        rc::write_safetensors(s(d.filePath("model-00001-of-00002.safetensors")),
                              {tensor("layer.0.w", rc::DType::F32, {2, 2}, a),
                               tensor("layer.0.b", rc::DType::F32, {2}, b)});
        rc::write_safetensors(s(d.filePath("model-00002-of-00002.safetensors")),
                              {tensor("head.ids", rc::DType::I32, {3}, c)});
        // A stray file that the index does not name must not be read.
        write_bytes(d.filePath("junk.safetensors"), "not a safetensors file");
        write_bytes(d.filePath("model.safetensors.index.json"),
                    R"({"metadata": {"total_size": 36}, "weight_map": {
                        "layer.0.w": "model-00001-of-00002.safetensors",
                        "layer.0.b": "model-00001-of-00002.safetensors",
                        "head.ids": "model-00002-of-00002.safetensors"}})");
        for (const QString& where : {d.path(), d.filePath("model.safetensors.index.json")}) {
            auto arc = rc::SafetensorsArchive::open(s(where));
            QCOMPARE(arc->size(), size_t(3));
            QCOMPARE(arc->files().size(), size_t(2));
            QVERIFY(arc->names() ==
                    std::vector<std::string>({"head.ids", "layer.0.b", "layer.0.w"}));
            QCOMPARE(arc->total_bytes(), uint64_t(16 + 8 + 12));
            const rc::TensorView* t = arc->find("head.ids");
            QVERIFY(t);
            QVERIFY(QString::fromStdString(t->file).endsWith("model-00002-of-00002.safetensors"));
            QVERIFY(std::memcmp(t->data, c.data(), 12) == 0);
            QVERIFY(std::memcmp(arc->find("layer.0.w")->data, a.data(), 16) == 0);
            QVERIFY(arc->find("junk") == nullptr);
        }
    }

    void fallbackFolders() {
        const std::vector<float> a = {1}, b = {2, 3};
        {  // no index, no model.safetensors: every *.safetensors, sorted
            QTemporaryDir d;
            rc::write_safetensors(s(d.filePath("b.safetensors")),
                                  {tensor("b", rc::DType::F32, {2}, b)});
            rc::write_safetensors(s(d.filePath("a.safetensors")),
                                  {tensor("a", rc::DType::F32, {1}, a)});
            write_bytes(d.filePath("notes.txt"), "ignore me");
            auto arc = rc::SafetensorsArchive::open(s(d.path()));
            QCOMPARE(arc->size(), size_t(2));
            QCOMPARE(arc->files().size(), size_t(2));
            QVERIFY(QString::fromStdString(arc->files()[0]->path()).endsWith("/a.safetensors"));
            QVERIFY(QString::fromStdString(arc->files()[1]->path()).endsWith("/b.safetensors"));
        }
        {  // model.safetensors wins over other files
            QTemporaryDir d;
            rc::write_safetensors(s(d.filePath("model.safetensors")),
                                  {tensor("a", rc::DType::F32, {1}, a)});
            rc::write_safetensors(s(d.filePath("extra.safetensors")),
                                  {tensor("b", rc::DType::F32, {2}, b)});
            auto arc = rc::SafetensorsArchive::open(s(d.path()));
            QVERIFY(arc->names() == std::vector<std::string>({"a"}));
            // A path to one file opens just that file.
            auto one = rc::SafetensorsArchive::open(s(d.filePath("extra.safetensors")));
            QVERIFY(one->names() == std::vector<std::string>({"b"}));
        }
        {  // empty folder and missing path name the path
            QTemporaryDir d;
            QString e = error_of([&] { rc::SafetensorsArchive::open(s(d.path())); });
            QVERIFY2(e.contains(d.path()), qPrintable(e));
            e = error_of([&] { rc::SafetensorsArchive::open(s(d.filePath("nope"))); });
            QVERIFY2(e.contains("nope"), qPrintable(e));
        }
    }

    void duplicateAcrossShards() {
        QTemporaryDir d;
        const std::vector<float> a = {1};
        rc::write_safetensors(s(d.filePath("x.safetensors")),
                              {tensor("same", rc::DType::F32, {1}, a)});
        rc::write_safetensors(s(d.filePath("y.safetensors")),
                              {tensor("same", rc::DType::F32, {1}, a)});
        const QString e = error_of([&] { rc::SafetensorsArchive::open(s(d.path())); });
        QVERIFY2(e.contains("'same'") && e.contains("x.safetensors") && e.contains("y.safetensors"),
                 qPrintable(e));
    }

    void indexErrors() {
        const std::vector<float> a = {1};
        struct Case {
            const char* index;
            const char* expect;
        };
        const Case cases[] = {
            {R"({"weight_map": {"w": "model-2.safetensors"}})", "model-2.safetensors"},
            {R"({"weight_map": {"w": "../outside.safetensors"}})", "../outside.safetensors"},
            {R"({"weight_map": {"w": "sub/../../x.safetensors"}})", "sub/../../x.safetensors"},
            {R"({"weight_map": {"w": "/etc/passwd"}})", "/etc/passwd"},
            {R"({"weight_map": {"w": "model-1.safetensors", "ghost": "model-1.safetensors"}})",
             "'ghost'"},
            {R"({"weight_map": {"w": 3}})", "'w'"},
            {R"({"weight_map": []})", "weight_map"},
            {R"({"nothing": {}})", "weight_map"},
            {R"({"weight_map": {"w": )", "JSON"},
        };
        for (const Case& c : cases) {
            QTemporaryDir d;
            rc::write_safetensors(s(d.filePath("model-1.safetensors")),
                                  {tensor("w", rc::DType::F32, {1}, a)});
            write_bytes(d.filePath("model.safetensors.index.json"), c.index);
            const QString e = error_of([&] { rc::SafetensorsArchive::open(s(d.path())); });
            QVERIFY2(e.contains("model.safetensors.index.json"),
                     qPrintable(c.index + (" -> " + e)));
            QVERIFY2(e.contains(c.expect), qPrintable(c.index + (" -> " + e)));
        }
    }

    void truncatedFiles() {
        const QByteArray good = small_valid_file();
        quint64 n = 0;
        for (int i = 0; i < 8; ++i) n |= quint64(quint8(good[i])) << (8 * i);
        const int cuts[] = {0,
                            1,
                            4,
                            7,
                            8,
                            9,
                            20,
                            int(8 + n) - 1,
                            int(8 + n),
                            int(8 + n) + 1,
                            int(good.size()) - 8,
                            int(good.size()) - 1};
        for (int cut : cuts) {
            const QString e = open_error("cut.safetensors", good.left(cut));
            QVERIFY2(e.contains("cut.safetensors"), qPrintable(QString::number(cut) + ": " + e));
        }
        // Cutting into the data names the tensor whose bytes are gone.
        const QString e = open_error("cut.safetensors", good.left(good.size() - 1));
        QVERIFY2(e.contains("'b.bias'") && e.contains("beyond"), qPrintable(e));
    }

    void headerLengthTooLarge() {
        const QByteArray header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
        QByteArray bytes = raw_file(header, "x");
        bytes.replace(0, 8, le64(quint64(bytes.size())));
        QString e = open_error("longhdr.safetensors", bytes);
        QVERIFY2(e.contains("longhdr.safetensors") && e.contains("header length"), qPrintable(e));
        bytes.replace(0, 8, le64(quint64(1) << 63));
        e = open_error("hdr63.safetensors", bytes);
        QVERIFY2(e.contains("hdr63.safetensors") && e.contains("9223372036854775808"),
                 qPrintable(e));
        bytes.replace(0, 8, le64(~quint64(0)));
        e = open_error("hdrmax.safetensors", bytes);
        QVERIFY2(e.contains("hdrmax.safetensors"), qPrintable(e));
    }

    void headerErrors_data() {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("data_bytes");
        QTest::addColumn<QString>("expect");  // "|"-separated substrings
        QTest::newRow("offsets beyond data")
            << QByteArray(R"({"w":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}})") << 100
            << "'w'|[0, 400]|beyond";
        QTest::newRow("offsets shape mismatch")
            << QByteArray(R"({"a.weight":{"dtype":"F32","shape":[5,5],"data_offsets":[0,99]}})")
            << 100
            << "tensor 'a.weight': data_offsets [0, 99] hold 99 bytes, shape [5, 5] F32 needs 100";
        QTest::newRow("overlap") << QByteArray(
                                        R"({"p":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                        R"("q":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})")
                                 << 24 << "'q'|overlap|'p'";
        QTest::newRow("same range twice")
            << QByteArray(R"({"p":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("q":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})")
            << 4 << "overlap";
        QTest::newRow("negative dim")
            << QByteArray(R"({"neg":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}})") << 24
            << "'neg'|negative";
        QTest::newRow("shape overflow")
            << QByteArray(
                   R"({"big":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})")
            << 0 << "'big'|64";
        QTest::newRow("bytes overflow")
            << QByteArray(
                   R"({"big":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})")
            << 0 << "'big'|overflow";
        QTest::newRow("dim beyond int64")
            << QByteArray(
                   R"({"big":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})")
            << 0 << "'big'|too large";
        QTest::newRow("invalid json") << QByteArray(R"({"w": {"dtype": "F32",)") << 0 << "JSON";
        QTest::newRow("not an object") << QByteArray("[1, 2, 3]") << 0 << "object";
        QTest::newRow("empty header") << QByteArray("") << 0 << "JSON";
        QTest::newRow("unknown dtype")
            << QByteArray(R"({"fp8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})") << 2
            << "'fp8'|F8_E4M3";
        QTest::newRow("missing dtype")
            << QByteArray(R"({"w":{"shape":[1],"data_offsets":[0,1]}})") << 1 << "'w'|dtype";
        QTest::newRow("dtype not string")
            << QByteArray(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})") << 1
            << "'w'|dtype";
        QTest::newRow("missing shape")
            << QByteArray(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})") << 1 << "'w'|shape";
        QTest::newRow("shape of floats")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})") << 1
            << "'w'|shape";
        QTest::newRow("missing offsets")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[1]}})") << 1 << "'w'|data_offsets";
        QTest::newRow("three offsets")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})") << 2
            << "'w'|data_offsets";
        QTest::newRow("negative offset")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})") << 1
            << "'w'|data_offsets";
        QTest::newRow("descending offsets")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})") << 4
            << "'w'|ascending";
        QTest::newRow("entry not object") << QByteArray(R"({"w": 3})") << 0 << "'w'|object";
        QTest::newRow("metadata not strings")
            << QByteArray(R"({"__metadata__": {"n": 1}})") << 0 << "__metadata__|'n'";
        QTest::newRow("duplicate name")
            << QByteArray(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})")
            << 2 << "'w'|twice";
    }

    void headerErrors() {
        QFETCH(QByteArray, header);
        QFETCH(int, data_bytes);
        QFETCH(QString, expect);
        const QString e =
            open_error("bad_header.safetensors", raw_file(header, QByteArray(data_bytes, '\x11')));
        QVERIFY2(e.startsWith(path("bad_header.safetensors") + ": "), qPrintable(e));
        for (const QString& part : expect.split('|'))
            QVERIFY2(e.contains(part), qPrintable("'" + part + "' not in: " + e));
    }

    void hostileHeaders() {
        // data_offsets nested 300 k deep: the message names its size instead of dump()ing it
        // (a recursion per level: a stack overflow).
        QByteArray deep = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":";
        deep += QByteArray(300000, '[') + QByteArray(300000, ']') + "}}";
        QString e = open_error("deep.safetensors", raw_file(deep, QByteArray(1, '\x11')));
        QVERIFY2(e.contains("'data_offsets' must be two non-negative integers, got an array of 1"),
                 qPrintable(e.left(300)));
        // 200 k entries (8 MB) with one name twice: the duplicate is found (a second, linear
        // pass; nlohmann's callback parser took 16.5 s here).
        static const QByteArray kEmpty = "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
        QByteArray many = "{";
        for (int i = 0; i < 200000; ++i)
            many += "\"t" + QByteArray::number(i) + "\":" + kEmpty + ",";
        many += "\"t7\":" + kEmpty + "}";
        e = open_error("many.safetensors", raw_file(many, {}));
        QVERIFY2(e.contains("'t7' twice"), qPrintable(e.left(300)));
    }

    void handWrittenFilesThatAreFine() {
        // Empty tensors, scalars, a hole in the data block and unknown entry keys are legal.
        const QByteArray header =
            R"({"__metadata__":null,"e":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]},)"
            R"("s":{"dtype":"BOOL","shape":[],"data_offsets":[7,8],"extra":1},)"
            R"("t":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})";
        write_bytes(path("fine.safetensors"), raw_file(header, QByteArray("\1\0\2\0xyz\1", 8)));
        auto f = rc::SafetensorsFile::open(s(path("fine.safetensors")));
        QCOMPARE(f->tensors().size(), size_t(3));
        QCOMPARE(f->find("e")->numel(), int64_t(0));
        QCOMPARE(f->find("s")->numel(), int64_t(1));
        QCOMPARE(f->find("s")->data[0], uint8_t(1));
        QCOMPARE(f->find("t")->data[2], uint8_t(2));
        QVERIFY(f->metadata().empty());
    }

    void notAFile() {
        const QString e = error_of([&] { rc::SafetensorsFile::open(s(dir_.path())); });
        QVERIFY2(e.contains(dir_.path()), qPrintable(e));
        const QString m =
            error_of([&] { rc::SafetensorsFile::open(s(path("missing.safetensors"))); });
        QVERIFY2(m.contains("missing.safetensors"), qPrintable(m));
    }

    void mutationsNeverCrash() {
        const QByteArray good = small_valid_file();
        QVERIFY(good.size() > 64);
        std::mt19937 rng(20240611);
        int ok = 0, rejected = 0;
        const QString p = path("mut.safetensors");
        for (int iter = 0; iter < 3000; ++iter) {
            QByteArray bytes = good;
            const int kind = int(rng() % 4);
            if (kind == 3) {
                bytes.truncate(int(rng() % uint32_t(bytes.size())));
            } else {
                const int flips = 1 + int(rng() % 4);
                const int span = std::min(200, int(bytes.size()));
                for (int i = 0; i < flips; ++i) {
                    const int at = int(rng() % uint32_t(span));
                    bytes[at] =
                        kind == 0 ? char(bytes[at] ^ (1 << (rng() % 8))) : char(rng() & 0xff);
                }
            }
            write_bytes(p, bytes);
            try {
                auto f = rc::SafetensorsFile::open(s(p));
                // Touch every byte the views claim, and check they lie inside the file.
                uint64_t total = 0;
                unsigned sum = 0;
                for (const rc::TensorView& t : f->tensors()) {
                    total += t.nbytes;
                    for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
                }
                QVERIFY(total <= uint64_t(bytes.size()));
                (void)sum;
                ++ok;
            } catch (const rc::Error& e) {
                QVERIFY2(QString(e.what()).contains("mut.safetensors"), e.what());
                ++rejected;
            } catch (const std::exception& e) {
                QFAIL(
                    qPrintable(QString("iteration %1: not rc::Error: %2").arg(iter).arg(e.what())));
            }
        }
        QCOMPARE(ok + rejected, 3000);
        QVERIFY(ok > 0);
        QVERIFY(rejected > 1000);
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
