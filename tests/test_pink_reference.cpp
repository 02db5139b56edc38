// Parity with Pink's OWN code (github SY-Xuan/Pink, its pinned transformers 4.38.2):
// tests/reference/pink was written by tools/reference/pink_reference.py, which built a tiny
// random checkpoint set in Pink's release layout (pink-tiny/ with config.json and
// saved_parameters.pth over llama-2-7b-chat-tiny/ and clip-vit-tiny-patch8/), loaded it with
// Pink's demo/eval loading code, and recorded Pink's prompt string and token ids for a 2-turn
// conversation with a <loc> box, its pixel values for image.png, its fp32 logits and 20 greedy
// tokens (reference.safetensors, reference.json). Our loader, chat template, tokenizer,
// preprocessing and network must give the same.
#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "engine/prompt.h"
#include "model/llava/llava_family.h"
#include "regionchat/chat_template.h"
#include "regionchat/engine.h"
#include "regionchat/image_io.h"
#include "regionchat/preprocess.h"
#include "regionchat/safetensors.h"
#include "regionchat/tokenizer.h"
#include "support/model_internals.h"
#include "support/read_tensor.h"
#include "support/tiny_model.h"

using namespace rc;
namespace fs = std::filesystem;

class TestPinkReference : public QObject {
    Q_OBJECT

    fs::path dir_;  // tests/reference/pink
    nlohmann::json ref_json_;
    std::shared_ptr<Model> model_;
    std::unique_ptr<SafetensorsArchive> ref_;

    torch::Tensor ref(const std::string& name, torch::Dtype dtype) {
        return testing::read_tensor(*ref_, name, dtype);
    }

    static std::string replace_all(std::string s, const std::string& from, const std::string& to) {
        for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
            s.replace(at, from.size(), to);
        return s;
    }

    static std::string join(const std::vector<int64_t>& v) {
        std::ostringstream out;
        for (size_t i = 0; i < v.size(); ++i) out << (i ? " " : "") << v[i];
        return out.str();
    }

    static std::vector<int64_t> ids_of(const nlohmann::json& j) {
        return j.get<std::vector<int64_t>>();
    }

    // The conversation of the fixture as our engine hands it to the template: the image at the
    // start of the first question.
    std::vector<ChatMessage> messages(size_t count = 3) const {
        std::vector<ChatMessage> out;
        for (const auto& m : ref_json_["messages"]) {
            if (out.size() == count) break;
            ChatMessage c;
            c.role = m["role"] == "user" ? ChatMessage::Role::User : ChatMessage::Role::Assistant;
            c.text = m["text"].get<std::string>();
            if (m.value("image", false)) c.text = "<image>\n" + c.text;
            out.push_back(c);
        }
        return out;
    }

    // Our token ids for `msgs`, the image's positions holding Pink's <im_patch> id.
    std::vector<int64_t> our_ids(const Tokenizer& tok, const std::vector<ChatMessage>& msgs,
                                 size_t images) const {
        const PromptSequence seq = build_prompt_sequence(
            model_->chat_template(), tok, msgs, model_->config().image_tokens(), images);
        std::vector<int64_t> ids = seq.keys;
        for (auto& k : ids)
            if (k < 0) k = model_->config().image_token_index;
        return ids;
    }

private slots:
    void initTestCase() {
        const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
        QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
        dir_ = fs::path(src) / "tests/reference/pink";
        std::ifstream in(dir_ / "reference.json");
        QVERIFY(in.good());
        ref_json_ = nlohmann::json::parse(in);
        // The fixture folder as Pink released it: config.json names ../llama-2-7b-chat-tiny and
        // ../clip-vit-tiny-patch8, relative to the Pink folder.
        const fs::path pink = dir_ / ref_json_["folders"]["pink"].get<std::string>();
        model_ = Model::load(testing::load_params(pink.string(), "cpu"));
        ref_ = SafetensorsArchive::open((dir_ / "reference.safetensors").string());
        qInfo("Pink reference written with %s",
              ref_json_["versions"].dump().c_str());
    }

    // The release layout loads as Pink's: the right folders, adapters, sizes, no warnings.
    void loadsPinkReleaseLayout() {
        QCOMPARE(model_->info().layout, std::string("pink"));
        std::string warnings;
        for (const auto& w : model_->info().warnings) warnings += w + "; ";
        QVERIFY2(model_->info().warnings.empty(), warnings.c_str());
        const ModelConfig& c = model_->config();
        QCOMPARE(c.image_token_index, ref_json_["im_patch_token"].get<int>());
        QCOMPARE(int64_t(c.image_tokens()), ref_json_["num_patches"].get<int64_t>());
        QCOMPARE(c.vision.image_size, ref_json_["crop_size"].get<int>());
        QCOMPARE(c.text.vocab_size, ref_json_["vocab_size"].get<int>());
        QCOMPARE(c.vision.adapter.dim, 8);
        QCOMPARE(c.text.adapter.dim, 8);
        QCOMPARE(c.vision.adapter_layers, 2);  // CLIP layers 0-1; Pink deletes layer 2's
        QCOMPARE(c.chat_template, std::string("pink"));
        QCOMPARE(c.region_format, std::string("pink"));
        const Tokenizer& tok = model_->tokenizer();
        QCOMPARE(tok.bos_id(), ref_json_["bos_token_id"].get<int>());
        QCOMPARE(tok.eos_id(), ref_json_["eos_token_id"].get<int>());
        for (const auto& [text, id] : ref_json_["added_tokens"].items())
            QCOMPARE(tok.encode(text), std::vector<int>{id.get<int>()});
    }

    // "<loc>[x0,y0,x1,y1]</loc>": 3 decimals of the pixel box over the image's width and height.
    void regionTextMatches() {
        const auto& b = ref_json_["box_pixels"];
        const Box box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(),
                      b[3].get<double>()};
        const ImageSize size{ref_json_["image"]["width"].get<int>(),
                             ref_json_["image"]["height"].get<int>()};
        const std::string want = ref_json_["box_text"].get<std::string>();
        QCOMPARE(model_->region_format().encode(box, size), want);
        QVERIFY(ref_json_["messages"][0]["text"].get<std::string>().find(want) !=
                std::string::npos);
        const auto parsed = model_->region_format().parse(want, size);
        QCOMPARE(parsed.size(), size_t(1));
    }

    // Pink's conv_llama2.copy() prompt; it has the patch tokens where we have "<image>", and the
    // tokenizer adds the BOS that our template writes as "<s>".
    void promptStringMatches() {
        const int n = ref_json_["num_patches"];
        std::string patches;
        for (int i = 0; i < n; ++i) patches += "<im_patch>";
        auto expect = [&](const char* key) {
            return "<s>" + replace_all(ref_json_[key].get<std::string>(), patches, "<image>");
        };
        QCOMPARE(pieces_to_string(model_->chat_template().render(messages())), expect("prompt"));
        QCOMPARE(pieces_to_string(model_->chat_template().render(messages(1))),
                 expect("prompt_one_turn"));
        const ChatMessage plain{ChatMessage::Role::User,
                                ref_json_["messages"][0]["text"].get<std::string>()};
        QCOMPARE(pieces_to_string(model_->chat_template().render({plain})),
                 expect("prompt_no_image"));
    }

    // The ids Pink's tokenizer (slow LlamaTokenizer, tokenizer_config.json of the Pink folder)
    // gives the prompt, the image's positions being its <im_patch> tokens.
    void tokenIdsMatch() {
        const Tokenizer& tok = model_->tokenizer();
        const std::vector<int64_t> got = our_ids(tok, messages(), 1);
        const std::vector<int64_t> want = ids_of(ref_json_["input_ids"]);
        const bool as_legacy = got == ids_of(ref_json_["input_ids_legacy_true"]);
        QVERIFY2(got == want,
                 qPrintable(QString("ours (%1 the ids of Pink's tokenizer with legacy=true):\n%2\n"
                                    "Pink's (legacy=%3):\n%4")
                                .arg(as_legacy ? "equal to" : "not even")
                                .arg(QString::fromStdString(join(got)))
                                .arg(ref_json_["tokenizer_legacy"].get<bool>() ? "true" : "false")
                                .arg(QString::fromStdString(join(want)))));
        // The stored tensor is the same list.
        QVERIFY(torch::equal(ref("input_ids", torch::kInt64).view({-1}),
                             torch::tensor(want, torch::kInt64)));
        QCOMPARE(our_ids(tok, messages(1), 1), ids_of(ref_json_["input_ids_one_turn"]));
        const ChatMessage plain{ChatMessage::Role::User,
                                ref_json_["messages"][0]["text"].get<std::string>()};
        QCOMPARE(our_ids(tok, {plain}, 0), ids_of(ref_json_["input_ids_no_image"]));
    }

    // The same pieces under LLaMA-2's own normalizer (identity, spaces and newlines kept): how
    // the real tokenizer.model treats the whitespace around the template's pieces.
    void tokenIdsMatchWithLlamaNormalizer() {
        const auto& ln = ref_json_["llama_normalizer"];
        auto tok = Tokenizer::load((dir_ / ln["tokenizer"].get<std::string>()).string());
        std::vector<std::pair<std::string, int>> added;
        for (const auto& [text, id] : ref_json_["added_tokens"].items())
            added.emplace_back(text, id.get<int>());
        tok->add_tokens(added);
        tok->set_legacy(ref_json_["tokenizer_legacy"].get<bool>());  // the Pink folder's setting
        const std::vector<int64_t> got = our_ids(*tok, messages(), 1);
        const std::vector<int64_t> want = ids_of(ln["input_ids"]);
        QVERIFY2(got == want,
                 qPrintable(QString("ours:\n%1\nPink's:\n%2\n(Pink's with legacy=true:\n%3)")
                                .arg(QString::fromStdString(join(got)))
                                .arg(QString::fromStdString(join(want)))
                                .arg(QString::fromStdString(
                                    join(ids_of(ln["input_ids_legacy_true"]))))));
    }

    // image.png through our preprocessing (Pink: torchvision Resize((crop, crop), BICUBIC) on the
    // PIL image, ToTensor, CLIP Normalize).
    void pixelValuesMatch() {
        const cv::Mat image = load_image((dir_ / "image.png").string());
        QCOMPARE(image.cols, ref_json_["image"]["width"].get<int>());
        QCOMPARE(image.rows, ref_json_["image"]["height"].get<int>());
        const auto got = preprocess_image(image, testing::llava_network(*model_).preprocess());
        const auto want = ref("pixel_values", torch::kFloat32);
        QVERIFY(want.defined());
        QCOMPARE(got.sizes(), want.squeeze(0).sizes());
        const double d = (got - want.squeeze(0)).abs().max().item<double>();
        qInfo("pixel values vs Pink's: max difference %.3g", d);
        QVERIFY2(d < 1e-6, qPrintable(QString("max difference %1").arg(d)));
    }

    // Pink's fp32 forward over its own input ids and pixel values.
    void logitsMatch() {
        torch::NoGradGuard ng;
        auto& net = testing::llava_net(*model_);
        const auto ids = ref("input_ids", torch::kInt64);
        const auto pixels = ref("pixel_values", torch::kFloat32);
        const auto want = ref("logits", torch::kFloat32);
        QVERIFY(ids.defined() && pixels.defined() && want.defined());
        const auto got = testing::logits_with_images(net, ids, pixels);
        QCOMPARE(got.sizes(), want.sizes());
        const double d = (got - want).abs().max().item<double>();
        qInfo("logits vs Pink's: max difference %.3g (largest logit %.3g)", d,
              want.abs().max().item<double>());
        QVERIFY2(d < 1e-4, qPrintable(QString("max difference %1").arg(d)));
        QVERIFY(torch::equal(got.argmax(-1), want.argmax(-1)));
    }

    // Greedy decoding through our KV cache reproduces Pink's generate() (20 tokens, no EOS).
    void greedyContinuationMatches() {
        torch::NoGradGuard ng;
        auto& net = testing::llava_net(*model_);
        const auto ids = ref("input_ids", torch::kInt64);
        const auto want = ref("greedy_ids", torch::kInt64);
        QVERIFY(ids.defined() && want.defined());
        QCOMPARE(want.numel(), int64_t(20));
        const auto got_t =
            testing::greedy_continuation(net, ids, ref("pixel_values", torch::kFloat32), want.numel());
        QVERIFY2(torch::equal(got_t, want),
                 qPrintable(QString::fromStdString(torch::str(got_t) + " vs " + torch::str(want))));
    }

    // End to end through the public API: a Session asked the first question with image.png
    // (decoded, preprocessed, prompted, tokenized and decoded greedily by us) holds Pink's
    // one-turn prompt ids and Pink's 20 greedy tokens.
    void sessionAnswersAsPink() {
        Session s(model_);
        GenerateParams g;
        g.max_new_tokens = 20;  // temperature 0: greedy
        const cv::Mat image = load_image((dir_ / "image.png").string());
        const Reply r = s.ask(ref_json_["messages"][0]["text"].get<std::string>(), {image}, g);
        const std::vector<int64_t> prompt = ids_of(ref_json_["input_ids_one_turn"]);
        const std::vector<int64_t> greedy = ids_of(ref_json_["greedy_ids_one_turn"]);
        std::vector<int64_t> cached = s.cached_ids();
        for (auto& k : cached)
            if (k < 0) k = model_->config().image_token_index;
        const size_t n = std::min(cached.size(), size_t(r.timings.prompt_tokens));
        const std::vector<int64_t> got_prompt(cached.begin(), cached.begin() + n);
        QVERIFY2(got_prompt == prompt, qPrintable(QString("ours:\n%1\nPink's:\n%2")
                                                      .arg(QString::fromStdString(join(got_prompt)))
                                                      .arg(QString::fromStdString(join(prompt)))));
        QCOMPARE(r.timings.generated_tokens, 20);
        QCOMPARE(r.stop_reason, StopReason::Length);
        // The answer tokens fed back: all but the last.
        const std::vector<int64_t> got_answer(cached.begin() + n, cached.end());
        const std::vector<int64_t> want_answer(greedy.begin(), greedy.end() - 1);
        QVERIFY2(got_answer == want_answer,
                 qPrintable(QString("ours:\n%1\nPink's:\n%2")
                                .arg(QString::fromStdString(join(got_answer)))
                                .arg(QString::fromStdString(join(want_answer)))));
    }
};

QTEST_GUILESS_MAIN(TestPinkReference)
#include "test_pink_reference.moc"
