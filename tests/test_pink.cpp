// Pink checkpoints (issue 7): saved_parameters.pth over LLaMA-2, CLIP from its own folder,
// adapters in CLIP and LLaMA layers, the 224 px bicubic stretch, Pink's prompt and tokens.
// Everything runs on tiny random checkpoints written in Pink's layout by tests/support.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "engine/prompt.h"
#include "model/llava/llava_family.h"
#include "model/pink/pink.h"
#include "model/tensor_io.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "support/read_tensor.h"
#include "support/model_internals.h"
#include "support/tiny_model.h"
#include "support/tiny_pink.h"

using namespace rc;
namespace fs = std::filesystem;

class TestPink : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string dir(const char* name) {
        return (fs::path(tmp_.path().toStdString()) / name).string();
    }
    static std::string load_error(const std::string& model_dir) {
        try {
            Model::load(testing::load_params(model_dir, "cpu"));
        } catch (const Error& e) {
            return e.what();
        }
        return "loaded";
    }
    static float max_diff(const torch::Tensor& a, const torch::Tensor& b) {
        return (a - b).abs().max().item<float>();
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    // Every parameter comes from the file Pink takes it from: adapters, projector and the grown
    // embeddings from saved_parameters.pth (replacing LLaMA-2's tables), the decoder from the
    // LLaMA-2 shards, the tower from the CLIP folder.
    void loadsEachTensorFromItsFile() {
        const auto pink = testing::write_tiny_pink(dir("load"));
        auto model = Model::load(testing::load_params(pink.model_dir, "cpu"));
        QCOMPARE(model->info().layout, std::string("pink"));
        std::string warnings;
        for (const auto& w : model->info().warnings) warnings += w + "; ";
        QVERIFY2(model->info().warnings.empty(), warnings.c_str());
        const ModelConfig& c = model->config();
        QCOMPARE(c.vision.adapter_layers, 2);
        QCOMPARE(c.vision.adapter.dim, 4);
        QCOMPARE(c.text.adapter.dim, 4);
        QCOMPARE(c.chat_template, std::string("pink"));
        QCOMPARE(c.region_format, std::string("pink"));
        QCOMPARE(c.image_filter, std::string("bicubic"));
        QCOMPARE(c.llama_dir, pink.llama_dir);
        QCOMPARE(c.vision_tower_dir, pink.clip_dir);
        QCOMPARE(model->info().parameters, count_parameters(c));
        QCOMPARE(model->info().parameters, count_parameters(pink.config));

        auto saved = SafetensorsArchive::open(pink.model_dir + "/saved_parameters.pth");
        auto llama = SafetensorsArchive::open(pink.llama_dir);
        auto clip = SafetensorsArchive::open(pink.clip_dir);
        int from_saved = 0, from_llama = 0, from_clip = 0, adapters = 0;
        for (const auto& p : testing::llava_net(*model)->named_parameters(true)) {
            const std::string key = pink_key_candidates(p.key()).at(0);
            torch::Tensor want;
            if (saved->find(key)) {
                want = testing::read_tensor(*saved, key);
                ++from_saved;
            } else if (key.rfind("vision_model.", 0) == 0) {
                want = testing::read_tensor(*clip, key.substr(13));
                ++from_clip;
            } else {
                want = testing::read_tensor(*llama, key);
                ++from_llama;
            }
            QVERIFY2(want.defined(), key.c_str());
            QVERIFY2(torch::equal(want, p.value()), key.c_str());
            adapters += key.find("adapter_attn.tune_adapter_a.weight") != std::string::npos;
        }
        QCOMPARE(adapters, 2 + 2);  // CLIP layers 0-1 (not 2), both LLaMA layers
        QVERIFY(!testing::llava_net(*model)->vision_tower->vision_model->encoder->layers[2]
                     ->as<ClipEncoderLayer>()
                     ->adapter_attn);
        QCOMPARE(from_saved, 4 * 4 + 2 + 2);  // 4 adapters x 4 tensors, projector, 2 tables
        QVERIFY(from_llama > 10 && from_clip > 10);
        // The embedding table has Pink's 13 extra rows, LLaMA-2's own table is not used.
        const auto& emb = testing::llava_net(*model)->language_model->model->embed_tokens->weight;
        QCOMPARE(emb.size(0), int64_t(model->tokenizer().vocab_size() + 13));
        QVERIFY(!torch::equal(
            emb.narrow(0, 0, 5),
            testing::read_tensor(*llama, "model.embed_tokens.weight").narrow(0, 0, 5)));

        // plan_model reads the same three places without loading.
        const ModelPlan plan = plan_model(testing::load_params(pink.model_dir, "cpu"));
        QCOMPARE(plan.layout, std::string("pink"));
        QCOMPARE(plan.parameters, model->info().parameters);
    }

    // With every adapter's B zero Pink is the LLaVA it was built on: the same weights in the
    // Hugging Face llava layout give identical image features and logits. With real adapters
    // both differ.
    void zeroAdaptersEqualPlainLlava() {
        testing::TinyPinkOptions o;
        o.zero_adapters = true;
        const auto zero = testing::write_tiny_pink(dir("zero"), o);
        const auto full = testing::write_tiny_pink(dir("full"));
        auto a = Model::load(testing::load_params(zero.model_dir, "cpu"));
        auto f = Model::load(testing::load_params(full.model_dir, "cpu"));

        ModelConfig twin = a->config();
        twin.layout = "hf-llava";
        twin.vision.adapter = {};
        twin.vision.adapter_layers = 0;
        twin.text.adapter = {};
        Llava net(twin);
        {
            torch::NoGradGuard no_grad;
            auto src = testing::llava_net(*a)->named_parameters(true);
            for (auto& p : net->named_parameters(true)) p.value().copy_(src[p.key()]);
        }
        const std::string t = dir("twin");
        fs::create_directories(t);
        save_state(*net, t + "/model.safetensors");
        std::ofstream(t + "/config.json") << model_config_to_json(twin);
        fs::copy_file(zero.model_dir + "/tokenizer.model", t + "/tokenizer.model");
        auto b = Model::load(testing::load_params(t, "cpu"));
        QCOMPARE(b->info().layout, std::string("hf-llava"));
        QCOMPARE(a->info().parameters - b->info().parameters,
                 int64_t(2 * (2 * 32 * 4 + 4 + 32) + 2 * (2 * 64 * 4 + 4 + 64)));

        torch::NoGradGuard no_grad;
        torch::manual_seed(7);
        const auto pixels = torch::randn({1, 3, 32, 32});
        const auto fa = testing::llava_net(*a)->encode_images(pixels);
        QVERIFY(torch::equal(fa, testing::llava_net(*b)->encode_images(pixels)));
        const auto embeds = torch::randn({1, 9, 64});
        auto logits = [&](Model& m) {
            auto& lm = testing::llava_net(m)->language_model;
            return lm->logits(lm->forward(embeds, 0, nullptr));
        };
        QVERIFY(torch::equal(logits(*a), logits(*b)));
        // The full model has other projector weights too (another seed), so compare it with
        // itself with its adapters switched off.
        const auto with = testing::llava_net(*f)->encode_images(pixels);
        const auto lwith = logits(*f);
        for (auto& p : testing::llava_net(*f)->named_parameters(true))
            if (p.key().find("tune_adapter_b") != std::string::npos) p.value().zero_();
        QVERIFY(max_diff(with, testing::llava_net(*f)->encode_images(pixels)) > 1e-3);
        QVERIFY(max_diff(lwith, logits(*f)) > 1e-3);
    }

    // Adapter placement, written out: h = x + Attn(x' + B(A(x'))) with x' = LN1(x), then the
    // MLP the same way with adapter_mlp; SiLU between A and B with adapter_non_linear, as in
    // Pink only in LLaMA's attention adapters (visual_adapter() forces it off, and
    // LlamaAdapterDecoderLayer builds its MLP adapter without it).
    void adaptersSitBetweenNormAndBlock() {
        testing::TinyPinkOptions o;
        o.adapter_mlp = true;
        o.non_linear = true;
        const auto pink = testing::write_tiny_pink(dir("mlp"), o);
        auto model = Model::load(testing::load_params(pink.model_dir, "cpu"));
        QVERIFY(model->config().vision.adapter.mlp && model->config().text.adapter.silu);
        QVERIFY(!model->config().vision.adapter.silu);
        auto adapt_silu = [](Adapter& ad, const torch::Tensor& h) {
            return h + ad->tune_adapter_b(torch::silu(ad->tune_adapter_a(h)));
        };
        auto adapt = [](Adapter& ad, const torch::Tensor& h) {
            return h + ad->tune_adapter_b(ad->tune_adapter_a(h));
        };
        torch::NoGradGuard no_grad;
        torch::manual_seed(11);
        auto& cl = *testing::llava_net(*model)->vision_tower->vision_model->encoder->layers[1]
                        ->as<ClipEncoderLayer>();
        QVERIFY(cl.adapter_attn && cl.adapter_mlp);
        const auto x = torch::randn({1, 5, 32});
        auto h = x + cl.self_attn(adapt(cl.adapter_attn, cl.layer_norm1(x)));
        h = h + cl.mlp(adapt(cl.adapter_mlp, cl.layer_norm2(h)));
        QVERIFY(max_diff(cl.forward(x), h) < 1e-5);

        auto& lm = testing::llava_net(*model)->language_model;
        auto& ll = *lm->model->layers[1]->as<LlamaDecoderLayer>();
        QVERIFY(ll.adapter_attn && ll.adapter_mlp);
        const auto y = torch::randn({1, 6, 64});
        auto [cos, sin] = lm->rope.table(0, 6, y);
        auto g = y + ll.self_attn(adapt_silu(ll.adapter_attn, ll.input_layernorm(y)), cos, sin, 0,
                                  nullptr, 1);
        g = g + ll.mlp(adapt(ll.adapter_mlp, ll.post_attention_layernorm(g)));
        QVERIFY(max_diff(ll.forward(y, cos, sin, 0, nullptr, 1), g) < 1e-5);
    }

    // Pink's prompt (pink/conversation.py conv_llama2.copy(), BaseDataset): the image's tokens
    // in the system text, <loc>/</loc> as single added tokens, answers " a </s><s>".
    void promptAndTokensAreAsPinks() {
        const auto pink = testing::write_tiny_pink(dir("prompt"));
        auto model = Model::load(testing::load_params(pink.model_dir, "cpu"));
        const Tokenizer& tok = model->tokenizer();
        const int base = tok.vocab_size();
        const auto& added = tok.added_tokens();
        QCOMPARE(int(added.size()), 13);
        const std::vector<int> loc = tok.encode("<loc>");
        QCOMPARE(loc, std::vector<int>{base + 3});
        const std::vector<int> ids = tok.encode("a <loc>[0.100,0.200]</loc> b");
        QCOMPARE(std::count(ids.begin(), ids.end(), base + 3), 1L);
        QCOMPARE(std::count(ids.begin(), ids.end(), base + 4), 1L);
        QVERIFY(tok.decode(ids).find("<loc>") != std::string::npos);
        QVERIFY(tok.decode(ids).find("</loc>") != std::string::npos);

        const std::string q =
            "What is " + model->region_format().encode({10, 20, 30, 40}, {100, 100}) + "?";
        QCOMPARE(q, std::string("What is <loc>[0.100,0.200,0.300,0.400]</loc>?"));
        std::vector<ChatMessage> msgs = {{ChatMessage::Role::User, "<image>\n" + q},
                                         {ChatMessage::Role::Assistant, "a cat"},
                                         {ChatMessage::Role::User, "And this?"}};
        QCOMPARE(pieces_to_string(model->chat_template().render(msgs)),
                 std::string("<s>[INST] <<SYS>>\nImage: <image>\n<</SYS>>\n\nWhat is "
                             "<loc>[0.100,0.200,0.300,0.400]</loc>? [/INST] a cat </s><s>[INST] "
                             "And this? [/INST]"));
        QCOMPARE(pieces_to_string(model->chat_template().render({{ChatMessage::Role::User, q}})),
                 "<s>[INST] <<SYS>>\nImage: N/A\n<</SYS>>\n\n" + q + " [/INST]");
        const PromptSequence seq = build_prompt_sequence(model->chat_template(), tok, msgs,
                                                         model->config().image_tokens(), 1);
        QCOMPARE(seq.images.size(), size_t(1));
        std::vector<int> before = tok.encode("[INST] <<SYS>>\nImage: ");
        QCOMPARE(seq.images[0].start, int64_t(1 + before.size()));
        QCOMPARE(std::count(seq.keys.begin(), seq.keys.end(), int64_t(-1)), 16L);
        QCOMPARE(std::count(seq.keys.begin(), seq.keys.end(), int64_t(base + 3)), 1L);

        // Without added_tokens.json the tokens are numbered in Pink's order, with a warning.
        fs::remove(pink.model_dir + "/added_tokens.json");
        auto again = Model::load(testing::load_params(pink.model_dir, "cpu"));
        QCOMPARE(again->tokenizer().encode("</opt>"), std::vector<int>{base + 12});
        QCOMPARE(again->info().warnings.size(), size_t(1));
        QVERIFY(QString::fromStdString(again->info().warnings[0]).contains("added_tokens.json"));
    }

    // A conversation through Session: the image goes through the 32 px bicubic stretch, the
    // answer streams, scoring works, a follow-up reuses the cache.
    void sessionAnswersWithRegions() {
        const auto pink = testing::write_tiny_pink(dir("session"));
        auto model = Model::load(testing::load_params(pink.model_dir, "cpu"));
        QVERIFY(testing::llava_network(*model).preprocess().bicubic_antialias);
        QVERIFY(testing::llava_network(*model).preprocess().fit == ImageFit::Stretch);
        Session s(model);
        const cv::Mat image = testing::test_image(90, 60, 3);
        GenerateParams g;
        g.max_new_tokens = 8;
        std::string streamed;
        g.on_token = [&](const std::string& piece) { streamed += piece; };
        const Reply r = s.ask("What is <loc>[0.100,0.200,0.300,0.400]</loc>?", {image}, g);
        QCOMPARE(r.text, streamed);
        QVERIFY(r.timings.generated_tokens > 0);
        const Reply r2 = s.ask("And <loc>[0.500,0.500,0.900,0.900]</loc>?", {}, g);
        QVERIFY(r2.timings.reused_tokens > 16);
        const double nll = s.answer_nll("Where?", {}, "[0.100,0.200,0.300,0.400]");
        QVERIFY(std::isfinite(nll) && nll > 0);
    }

    // In 16 bits the adapters stay fp32, as Pink's demo keeps them; the answer still comes.
    void adaptersStayFp32InBf16() {
        const auto pink = testing::write_tiny_pink(dir("bf16"));
        auto params = testing::load_params(pink.model_dir, "cpu");
        params.dtype = Precision::BF16;
        auto model = Model::load(params);
        int adapters = 0, others16 = 0;
        for (const auto& p : testing::llava_net(*model)->named_parameters(true)) {
            if (p.key().find("adapter_") != std::string::npos) {
                QCOMPARE(p.value().scalar_type(), torch::kFloat32);
                ++adapters;
            } else {
                others16 += p.value().scalar_type() == torch::kBFloat16;
            }
        }
        QCOMPARE(adapters, 16);
        QVERIFY(others16 > 20);
        auto fp32 = Model::load(testing::load_params(pink.model_dir, "cpu"));
        const cv::Mat image = testing::test_image(50, 40, 9);
        Session a(model), b(fp32);
        const double na = a.answer_nll("What is this?", {image}, "a red circle");
        const double nb = b.answer_nll("What is this?", {image}, "a red circle");
        QVERIFY2(std::abs(na - nb) < 0.05 * std::abs(nb) + 0.05,
                 qPrintable(QString("%1 vs %2").arg(na).arg(nb)));
    }

    // Broken Pink folders say what is wrong and where.
    void brokenFoldersGiveClearMessages() {
        {
            const auto pink = testing::write_tiny_pink(dir("nosaved"));
            fs::remove(pink.model_dir + "/saved_parameters.pth");
            const std::string m = load_error(pink.model_dir);
            QVERIFY2(m.find("saved_parameters.pth") != std::string::npos, m.c_str());
        }
        {
            const auto pink = testing::write_tiny_pink(dir("nollama"));
            fs::rename(pink.llama_dir, dir("nollama/elsewhere"));
            const std::string m = load_error(pink.model_dir);
            QVERIFY2(m.find("llama_path") != std::string::npos &&
                         m.find("looked in") != std::string::npos &&
                         m.find("REGIONCHAT_LLAMA_PATH") != std::string::npos,
                     m.c_str());
            qputenv("REGIONCHAT_LLAMA_PATH", QByteArray::fromStdString(dir("nollama/elsewhere")));
            const std::string ok = load_error(pink.model_dir);
            qunsetenv("REGIONCHAT_LLAMA_PATH");
            QCOMPARE(ok, std::string("loaded"));
        }
        auto edit = [&](const char* name, const std::function<void(nlohmann::json&)>& change) {
            const auto pink = testing::write_tiny_pink(dir(name));
            const std::string path = pink.model_dir + "/config.json";
            nlohmann::json j;
            std::ifstream(path) >> j;
            change(j);
            std::ofstream(path) << j.dump(2);
            return load_error(pink.model_dir);
        };
        std::string m = edit("crop", [](nlohmann::json& j) { j["crop_size"] = 48; });
        QVERIFY2(m.find("crop_size 48") != std::string::npos, m.c_str());
        // Adapters the config asks for but the checkpoint lacks: refused before anything is
        // allocated for them.
        m = edit("mlp", [](nlohmann::json& j) { j["adapter_mlp"] = true; });
        QVERIFY2(
            m.find("describes") != std::string::npos && m.find("holds only") != std::string::npos,
            m.c_str());
        m = edit("nollamapath", [](nlohmann::json& j) { j.erase("llama_path"); });
        QVERIFY2(m.find("llama_path") != std::string::npos, m.c_str());
        m = edit("badadded", [](nlohmann::json& j) { j["adapter_llm_dim"] = "eight"; });
        QVERIFY2(m.find("adapter_llm_dim must be an integer") != std::string::npos, m.c_str());
        {
            const auto pink = testing::write_tiny_pink(dir("addedids"));
            std::ofstream(pink.model_dir + "/added_tokens.json") << R"({"<loc>": 99999})";
            m = load_error(pink.model_dir);
            QVERIFY2(m.find("added_tokens.json") != std::string::npos &&
                         m.find("99999") != std::string::npos,
                     m.c_str());
        }
    }
};

QTEST_APPLESS_MAIN(TestPink)
#include "test_pink.moc"
