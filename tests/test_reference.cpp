// Parity with Hugging Face transformers (tests/reference/make_reference.py wrote the fixtures
// on a machine with transformers; each file's metadata names the versions):
//   llava-tiny/   a tiny random LlavaForConditionalGeneration saved by save_pretrained, with
//                 inputs and what transformers computed from them: our loader and network
//                 must give the same image features, logits and greedy continuation;
//   shapes-tiny.safetensors   the embedded model's logits when transformers loads its folder;
//   llava-e2e/    the path a user runs (tools/reference/llava_end_to_end.py): an image file and
//                 a question through LlavaProcessor + generate on the embedded weights, against
//                 the same file and question through Session::ask.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "engine/model_impl.h"
#include "model/llava/llava_family.h"
#include "model/tensor_io.h"
#include "regionchat/config.h"
#include "regionchat/engine.h"
#include "regionchat/preprocess.h"
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
        const auto got = testing::logits_with_images(net, ids, ref("pixel_values", torch::kFloat32));
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
        const auto got = testing::logits_with_images(testing::llava_net(*model), ids, pixels);
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
        const auto got_t =
            testing::greedy_continuation(net, ids, ref("pixel_values", torch::kFloat32), want.numel());
        QVERIFY2(torch::equal(got_t, want),
                 qPrintable(QString::fromStdString(torch::str(got_t) + " vs " + torch::str(want))));
    }

    // An image FILE and a question through everything a user's ask() runs (image decoding,
    // the image processor llava-hf's preprocessor_config.json names, the chat template, the
    // "<image>" expansion, BOS, SentencePiece) against transformers' LlavaProcessor + generate.
    void endToEndAgainstTransformers() {
        torch::NoGradGuard ng;
        const fs::path src = std::getenv("REGIONCHAT_SOURCE_DIR");
        const fs::path fixture = src / "tests/reference/llava-e2e";
        const auto ref = nlohmann::json::parse(std::ifstream(fixture / "reference.json"));
        auto archive = SafetensorsArchive::open((fixture / "reference.safetensors").string());
        auto tensor = [&](const char* name, torch::Dtype dtype) {
            auto t = testing::read_tensor(*archive, name, dtype);
            if (!t.defined()) qFatal("reference.safetensors lacks %s", name);
            return t;
        };
        // The fixture's model folder (config, tokenizer, image processor) over the embedded
        // weights, which the fixture does not carry twice.
        const fs::path dir = fs::path(tmp_.path().toStdString()) / "llava-e2e";
        fs::create_directories(dir);
        for (const auto& e : fs::directory_iterator(fixture / "model"))
            fs::copy_file(e.path(), dir / e.path().filename());
        fs::copy_file(src / "resources/models/shapes-tiny/model.safetensors",
                      dir / "model.safetensors");
        auto model = Model::load(testing::load_params(dir.string(), "cpu"));
        QCOMPARE(model->config().image_aspect, std::string("crop"));
        QCOMPARE(model->config().image_filter, std::string("bicubic"));

        const cv::Mat image = cv::imread((fixture / "image.png").string(), cv::IMREAD_COLOR);
        QVERIFY(!image.empty());
        QCOMPARE(image.cols, ref["image_size"][0].get<int>());

        // Pixel values: the crop processor (the model's) and LlavaImageProcessor's do_pad.
        auto& network = testing::llava_network(*model);
        const auto crop = preprocess_image(image, network.preprocess()).unsqueeze(0);
        const double crop_diff =
            (crop - tensor("pixel_values_crop", torch::kFloat32)).abs().max().item<double>();
        qInfo("centre-crop pixel values: max difference %.2e", crop_diff);
        QVERIFY2(crop_diff < 1e-6, qPrintable(QString::number(crop_diff)));
        fs::copy_file(fixture / "pad/preprocessor_config.json", dir / "preprocessor_config.json",
                      fs::copy_options::overwrite_existing);
        const ModelConfig padded = load_model_config(dir.string());
        QCOMPARE(padded.image_aspect, std::string("pad"));
        const auto pad = preprocess_image(image, llava_preprocess(padded)).unsqueeze(0);
        const double pad_diff =
            (pad - tensor("pixel_values_pad", torch::kFloat32)).abs().max().item<double>();
        qInfo("padded pixel values: max difference %.2e", pad_diff);
        QVERIFY2(pad_diff < 1e-6, qPrintable(QString::number(pad_diff)));

        // The prompt as the session renders it, token for token (image rows: -1 against
        // transformers' image_token_index repeated).
        Session session(model);
        GenerateParams params;
        params.max_new_tokens = 24;
        const Reply reply = session.ask(ref["question"].get<std::string>(), {image}, params);
        const auto want_ids = tensor("input_ids", torch::kInt64).view({-1});
        std::vector<int64_t> want(want_ids.data_ptr<int64_t>(),
                                  want_ids.data_ptr<int64_t>() + want_ids.numel());
        for (int64_t& id : want)
            if (id == model->config().image_token_index) id = -1;
        const std::vector<int64_t> cached = session.cached_ids();
        QVERIFY(int64_t(cached.size()) >= reply.timings.prompt_tokens);
        const std::vector<int64_t> got(cached.begin(),
                                       cached.begin() + reply.timings.prompt_tokens);
        QCOMPARE(got.size(), want.size());
        QVERIFY(got == want);

        // The greedy answer, token for token: the tokens fed back, then the EOS that stopped
        // it (the embedded model answers in a few tokens, well inside max_new_tokens).
        QCOMPARE(to_string(reply.stop_reason), std::string("eos"));
        std::vector<int64_t> answer(cached.begin() + reply.timings.prompt_tokens, cached.end());
        answer.push_back(model->tokenizer().eos_id());
        const auto greedy = tensor("greedy_ids", torch::kInt64);
        const std::vector<int64_t> want_answer(greedy.data_ptr<int64_t>(),
                                               greedy.data_ptr<int64_t>() + greedy.numel());
        qInfo("answer '%s' (%zu tokens)", reply.text.c_str(), answer.size());
        QVERIFY2(answer == want_answer,
                 qPrintable(QString::fromStdString(reply.text + " vs " +
                                                   ref["answer"].get<std::string>())));
        QCOMPARE(reply.text, ref["answer"].get<std::string>());
    }
};

QTEST_GUILESS_MAIN(TestReference)
#include "test_reference.moc"
