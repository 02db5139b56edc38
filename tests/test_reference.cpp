// Parity with Hugging Face transformers (tests/reference/make_reference.py wrote the fixtures
// on a machine with transformers; each file's metadata names the versions):
//   llava-tiny/   a tiny random LlavaForConditionalGeneration saved by save_pretrained, with
//                 inputs and what transformers computed from them: our loader and network
//                 must give the same image features, logits and greedy continuation;
//   shapes-tiny.safetensors   the embedded model's logits when transformers loads its folder.
// (sam-tiny/ waits for the SAM runtime, issue 5.)
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "engine/model_impl.h"
#include "model/llava/llava_family.h"
#include "model/tensor_io.h"
#include "regionchat/config.h"
#include "regionchat/engine.h"
#include "regionchat/safetensors.h"
#include "support/read_tensor.h"
#include "support/model_internals.h"
#include "support/tiny_model.h"

using namespace rc;
namespace fs = std::filesystem;

class TestReference : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    fs::path fixture_;
    std::shared_ptr<Model> model_;
    std::unique_ptr<SafetensorsArchive> ref_;

    // A stored tensor, or an undefined one when the file lacks it.
    torch::Tensor ref(const std::string& name, torch::Dtype dtype) {
        return testing::read_tensor(*ref_, name, dtype);
    }

    // Largest absolute difference, relative to the reference's largest magnitude.
    static double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
        return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
    }

    // Embeddings of `ids` with the image features scattered over the image-token positions,
    // as LlavaForConditionalGeneration builds them.
    static torch::Tensor embeds(Llava& net, const torch::Tensor& ids, const torch::Tensor& feats) {
        const auto is_image = ids.eq(net->config.image_token_index);
        auto e = net->language_model->embed(ids.masked_fill(is_image, 0));
        return e.masked_scatter(is_image.unsqueeze(-1).expand_as(e), feats.reshape({-1}));
    }

    // Logits of a full forward pass over `ids` with the image of `pixels`.
    static torch::Tensor logits_of(Llava& net, const torch::Tensor& ids,
                                   const torch::Tensor& pixels) {
        const auto e = embeds(net, ids, net->encode_images(pixels));
        return net->language_model->logits(net->language_model->forward(e, 0, nullptr));
    }

    // rel_diff, printed under `what` so the test log carries the figure.
    static double reported_diff(const char* what, const torch::Tensor& got,
                                const torch::Tensor& want) {
        const double d = rel_diff(got, want);
        qInfo("%s: max difference %.2e of the largest value", what, d);
        return d;
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
        QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
        const fs::path from = fs::path(src) / "tests/reference/llava-tiny";
        // The fixture has no tokenizer (transformers saved none); the model folder needs one.
        fixture_ = fs::path(tmp_.path().toStdString()) / "llava-tiny";
        fs::create_directories(fixture_);
        for (const char* f : {"config.json", "model.safetensors"})
            fs::copy_file(from / f, fixture_ / f);
        testing::write_tiny_tokenizer((fixture_ / "tokenizer.model").string());
        model_ = Model::load(testing::load_params(fixture_.string(), "cpu"));
        ref_ = SafetensorsArchive::open((from / "reference.safetensors").string());
    }

    void configReadsTransformers5Fields() {
        const auto cfg = load_model_config(fixture_.string());
        QCOMPARE(cfg.text.rope_theta, 20000.0);  // from rope_parameters
        QCOMPARE(cfg.text.num_key_value_heads, 2);
        QCOMPARE(cfg.image_token_index, 419);
        QCOMPARE(cfg.image_tokens(), 16);
        for (const auto& w : cfg.warnings) qWarning("config warning: %s", w.c_str());
        QVERIFY(cfg.warnings.empty());
    }

    void imageFeaturesMatch() {
        torch::NoGradGuard ng;
        const auto pixels = ref("pixel_values", torch::kFloat32);
        const auto want = ref("image_features", torch::kFloat32);
        QVERIFY(pixels.defined() && want.defined());
        const auto got = testing::llava_net(*model_)->encode_images(pixels).reshape(want.sizes());
        const double d = reported_diff("image features", got, want);
        QVERIFY2(d < 1e-5, qPrintable(QString("relative difference %1").arg(d)));
    }

    void logitsMatch() {
        torch::NoGradGuard ng;
        auto& net = testing::llava_net(*model_);
        const auto ids = ref("input_ids", torch::kInt64);
        const auto want = ref("logits", torch::kFloat32);
        QVERIFY(ids.defined() && want.defined());
        const auto got = logits_of(net, ids, ref("pixel_values", torch::kFloat32));
        QCOMPARE(got.sizes(), want.sizes());
        const double d = reported_diff("logits", got, want);
        QVERIFY2(d < 1e-5, qPrintable(QString("relative difference %1").arg(d)));
        // The argmax at every position agrees too.
        QVERIFY(torch::equal(got.argmax(-1), want.argmax(-1)));
    }

    // transformers, loading resources/models/shapes-tiny, computes the same logits as we do.
    void embeddedModelMatchesTransformers() {
        torch::NoGradGuard ng;
        const fs::path src = std::getenv("REGIONCHAT_SOURCE_DIR");
        auto archive =
            SafetensorsArchive::open((src / "tests/reference/shapes-tiny.safetensors").string());
        const auto ids = testing::read_tensor(*archive, "input_ids", torch::kInt64);
        const auto want = testing::read_tensor(*archive, "logits", torch::kFloat32);
        const auto pixels = testing::read_tensor(*archive, "pixel_values", torch::kFloat32);
        QVERIFY(ids.defined() && want.defined() && pixels.defined());
        auto model = Model::load(
            testing::load_params((src / "resources/models/shapes-tiny").string(), "cpu"));
        const auto got = logits_of(testing::llava_net(*model), ids, pixels);
        QCOMPARE(got.sizes(), want.sizes());
        const double d = reported_diff("embedded model logits", got, want);
        QVERIFY2(d < 1e-5, qPrintable(QString("relative difference %1").arg(d)));
    }

    // Greedy decoding through the KV cache reproduces transformers' generate().
    void greedyContinuationMatches() {
        torch::NoGradGuard ng;
        auto& net = testing::llava_net(*model_);
        const auto ids = ref("input_ids", torch::kInt64);
        const auto want = ref("greedy_ids", torch::kInt64);
        QVERIFY(ids.defined() && want.defined());
        auto cache = net->language_model->make_cache();
        auto e = embeds(net, ids, net->encode_images(ref("pixel_values", torch::kFloat32)));
        int64_t pos = 0;
        std::vector<int64_t> got;
        for (int64_t i = 0; i < want.numel(); ++i) {
            auto logits = net->language_model->logits(net->language_model->forward(e, pos, &cache));
            pos += e.size(1);
            const int64_t next = logits.select(1, logits.size(1) - 1).argmax(-1).item<int64_t>();
            got.push_back(next);
            e = net->language_model->embed(torch::tensor({next}, torch::kInt64).view({1, 1}));
        }
        const auto got_t = torch::tensor(got, torch::kInt64);
        QVERIFY2(torch::equal(got_t, want),
                 qPrintable(QString::fromStdString(torch::str(got_t) + " vs " + torch::str(want))));
    }
};

QTEST_GUILESS_MAIN(TestReference)
#include "test_reference.moc"
