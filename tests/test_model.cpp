// The networks and the loader, on tiny random checkpoints written by the test.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include "engine/model_impl.h"
#include "model/attention.h"
#include "model/llava.h"
#include "model/tensor_io.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "support/tiny_model.h"

using namespace rc;
namespace fs = std::filesystem;

class TestModel : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string dir(const char* name) {
        return (fs::path(tmp_.path().toStdString()) / name).string();
    }

    // Runs the language model over `embeds` in chunks of the given sizes through a KV cache.
    torch::Tensor chunked_logits(Llava& net, const torch::Tensor& embeds,
                                 std::vector<int64_t> chunks) {
        auto cache = net->language_model->make_cache();
        std::vector<torch::Tensor> out;
        int64_t pos = 0;
        for (int64_t n : chunks) {
            auto h = net->language_model->forward(embeds.narrow(1, pos, n), pos, &cache);
            out.push_back(net->language_model->logits(h));
            pos += n;
            if (cache.length() != pos) return {};
        }
        return torch::cat(out, 1);
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void registeredNamesAreHuggingFaceKeys() {
        Llava net(testing::tiny_config());
        std::set<std::string> names;
        for (const auto& p : net->named_parameters(true)) names.insert(p.key());
        for (const char* key :
             {"vision_tower.vision_model.embeddings.class_embedding",
              "vision_tower.vision_model.embeddings.patch_embedding.weight",
              "vision_tower.vision_model.embeddings.position_embedding.weight",
              "vision_tower.vision_model.pre_layrnorm.weight",
              "vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.bias",
              "vision_tower.vision_model.encoder.layers.0.mlp.fc2.weight",
              "vision_tower.vision_model.encoder.layers.0.layer_norm2.bias",
              "vision_tower.vision_model.post_layernorm.weight",
              "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_2.bias",
              "language_model.model.embed_tokens.weight",
              "language_model.model.layers.1.self_attn.o_proj.weight",
              "language_model.model.layers.0.mlp.gate_proj.weight",
              "language_model.model.layers.0.input_layernorm.weight",
              "language_model.model.layers.0.post_attention_layernorm.weight",
              "language_model.model.norm.weight", "language_model.lm_head.weight"}) {
            QVERIFY2(names.count(key), key);
        }
        QVERIFY(!names.count("vision_tower.vision_model.embeddings.patch_embedding.bias"));
        QVERIFY(!names.count("language_model.model.layers.0.self_attn.q_proj.bias"));
        int64_t total = 0;
        for (const auto& p : net->parameters()) total += p.numel();
        QCOMPARE(total, count_parameters(testing::tiny_config()));
    }

    void attentionMatchesNaiveLoop() {
        torch::manual_seed(3);
        auto q = torch::randn({1, 2, 3, 4}), k = torch::randn({1, 2, 5, 4}),
             v = torch::randn({1, 2, 5, 4});
        auto out = attention(q, k, v, /*causal_offset=*/2);
        for (int h = 0; h < 2; ++h)
            for (int i = 0; i < 3; ++i) {
                const int visible = 2 + i + 1;  // keys 0..2+i
                std::vector<double> w(visible);
                double mx = -1e30, sum = 0;
                for (int j = 0; j < visible; ++j) {
                    w[j] = (q[0][h][i] * k[0][h][j]).sum().item<double>() / 2.0;  // sqrt(4)
                    mx = std::max(mx, w[j]);
                }
                for (auto& x : w) sum += (x = std::exp(x - mx));
                for (int d = 0; d < 4; ++d) {
                    double ref = 0;
                    for (int j = 0; j < visible; ++j)
                        ref += w[j] / sum * v[0][h][j][d].item<double>();
                    QVERIFY(std::abs(ref - out[0][h][i][d].item<double>()) < 1e-5);
                }
            }
    }

    void kvCacheMatchesFullRecompute() {
        auto cfg = testing::tiny_config();
        torch::manual_seed(7);
        Llava net(cfg);
        torch::NoGradGuard ng;
        for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
        net->eval();
        auto ids = torch::randint(3, cfg.text.vocab_size, {1, 40}, torch::kInt64);
        auto embeds = net->language_model->embed(ids);
        // Full recompute: no cache, causal mask from position 0.
        auto full = net->language_model->logits(net->language_model->forward(embeds, 0, nullptr));
        for (const auto& chunks :
             std::vector<std::vector<int64_t>>{{40}, {25, 1, 1, 13}, {1, 39}, {10, 10, 10, 10}}) {
            auto inc = chunked_logits(net, embeds, chunks);
            QVERIFY(inc.defined());
            const double diff = (inc - full).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, std::to_string(diff).c_str());
        }
        // A truncated cache continues exactly: keep 20, recompute the rest one by one.
        auto cache = net->language_model->make_cache();
        net->language_model->forward(embeds, 0, &cache);
        cache.truncate(20);
        for (int64_t p = 20; p < 40; ++p) {
            auto l = net->language_model->logits(
                net->language_model->forward(embeds.narrow(1, p, 1), p, &cache));
            QVERIFY((l[0][0] - full[0][p]).abs().max().item<double>() < 1e-5);
        }
    }

    void imageFeaturesHaveTheConfiguredShape() {
        auto cfg = testing::tiny_config();
        Llava net(cfg);
        torch::NoGradGuard ng;
        auto f = net->encode_images(torch::randn({2, 3, 32, 32}));
        QCOMPARE(f.size(0), int64_t(2));
        QCOMPARE(f.size(1), int64_t(cfg.image_tokens()));
        QCOMPARE(f.size(2), int64_t(cfg.text.hidden_size));
        cfg.vision_feature_select_strategy = "full";
        QCOMPARE(cfg.image_tokens(), 17);
    }

    void loadsWhatWasSaved() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("roundtrip");
        testing::write_tiny_model(d, cfg);
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
        QCOMPARE(model->info().dtype, std::string("fp32"));
        QCOMPARE(model->info().device, std::string("cpu"));
        // Every stored tensor equals the loaded parameter.
        auto archive = SafetensorsArchive::open(d);
        for (const auto& p : model->impl().net->named_parameters(true)) {
            const TensorView* v = archive->find(p.key());
            QVERIFY2(v, p.key().c_str());
            auto t = torch::empty(p.value().sizes());
            copy_view_into(*v, t);
            QVERIFY(torch::equal(t, p.value()));
        }
    }

    void newStyleKeysAndHalfPrecisionLoad() {
        const auto cfg = testing::tiny_config();
        testing::TinyModelOptions o;
        o.new_style_keys = true;
        o.dtype = DType::F16;
        const std::string d = dir("newkeys");
        testing::write_tiny_model(d, cfg, o);
        auto archive = SafetensorsArchive::open(d);
        QVERIFY(archive->find("model.language_model.layers.0.mlp.up_proj.weight"));
        QVERIFY(archive->find("lm_head.weight"));
        QVERIFY(!archive->find("language_model.lm_head.weight"));
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
    }

    void tiedEmbeddingsLoad() {
        auto cfg = testing::tiny_config();
        cfg.text.tie_word_embeddings = true;
        const std::string d = dir("tied");
        testing::write_tiny_model(d, cfg);
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
    }

    void missingTensorIsNamed() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("missing");
        testing::write_tiny_model(d, cfg);
        // Rewrite the checkpoint without one tensor (and one extra to keep the count high).
        Llava net(cfg);
        std::vector<torch::Tensor> keep;
        std::vector<TensorToWrite> out;
        for (const auto& p : net->named_parameters(true)) {
            std::string name = p.key();
            if (name == "language_model.model.layers.1.mlp.down_proj.weight")
                name = "unexpected.weight";
            auto t = p.value().detach().contiguous();
            keep.push_back(t);
            out.push_back({name,
                           DType::F32,
                           {t.sizes().begin(), t.sizes().end()},
                           t.data_ptr(),
                           static_cast<size_t>(t.numel()) * 4});
        }
        write_safetensors(d + "/model.safetensors", out);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a checkpoint without a tensor loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find(
                         "language_model.model.layers.1.mlp.down_proj.weight") != std::string::npos,
                     e.what());
        }
    }

    void misShapedTensorIsNamed() {
        auto cfg = testing::tiny_config();
        const std::string d = dir("misshaped");
        testing::write_tiny_model(d, cfg);
        // The config now asks for a wider MLP than the checkpoint holds.
        cfg.text.intermediate_size = 96;
        std::ofstream(d + "/config.json") << model_config_to_json(cfg);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a mis-shaped checkpoint loaded");
        } catch (const Error& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("mlp.") != std::string::npos && msg.find("[") != std::string::npos,
                     e.what());
        }
    }

    void configLargerThanCheckpointIsRefusedBeforeBuilding() {
        auto cfg = testing::tiny_config();
        const std::string d = dir("hostile");
        testing::write_tiny_model(d, cfg);
        cfg.text.num_hidden_layers = 1000;  // would be gigabytes if built blindly
        cfg.text.hidden_size = 4096;
        cfg.text.num_attention_heads = 32;
        cfg.text.num_key_value_heads = 32;
        cfg.text.intermediate_size = 11008;
        std::ofstream(d + "/config.json") << model_config_to_json(cfg);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a hostile config loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("parameters") != std::string::npos, e.what());
        }
    }

    void missingFilesGiveClearMessages() {
        const std::string d = dir("incomplete");
        testing::write_tiny_model(d, testing::tiny_config());
        fs::remove(d + "/tokenizer.model");
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("loaded without a tokenizer");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("tokenizer.model") != std::string::npos, e.what());
        }
        try {
            Model::load(testing::load_params(dir("does-not-exist"), "cpu"));
            QFAIL("loaded a missing folder");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("does not exist") != std::string::npos, e.what());
        }
        // Truncated weights: the reader names the file.
        const std::string t = dir("truncated");
        testing::write_tiny_model(t, testing::tiny_config());
        fs::resize_file(t + "/model.safetensors", fs::file_size(t + "/model.safetensors") / 2);
        try {
            Model::load(testing::load_params(t, "cpu"));
            QFAIL("loaded a truncated checkpoint");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("model.safetensors") != std::string::npos,
                     e.what());
        }
    }

    void loadProgressReportsAndCancels() {
        const std::string d = dir("progress");
        testing::write_tiny_model(d, testing::tiny_config());
        size_t calls = 0, last_total = 0;
        uint64_t last_bytes = 0;
        LoadParams p = testing::load_params(d, "cpu");
        p.progress = [&](const LoadProgress& lp) {
            ++calls;
            last_total = lp.tensors_total;
            last_bytes = lp.bytes_done;
            return true;
        };
        auto model = Model::load(p);
        QVERIFY(calls > 10);
        QCOMPARE(calls, last_total);
        QCOMPARE(last_bytes, model->info().weight_bytes);
        p.progress = [&](const LoadProgress& lp) { return lp.tensors_done < 5; };
        try {
            Model::load(p);
            QFAIL("cancel was ignored");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("cancelled") != std::string::npos, e.what());
        }
    }

    void unknownDeviceIsRefused() {
        const std::string d = dir("device");
        testing::write_tiny_model(d, testing::tiny_config());
        QVERIFY_THROWS_EXCEPTION(Error, Model::load(testing::load_params(d, "tpu")));
        if (!torch::cuda::is_available())
            QVERIFY_THROWS_EXCEPTION(Error, Model::load(testing::load_params(d, "cuda")));
    }
};

QTEST_APPLESS_MAIN(TestModel)
#include "test_model.moc"
