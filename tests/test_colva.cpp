// The CoLVA family end to end on tiny checkpoints the test writes in each layout from the
// committed reference fixtures (tests/reference/internvl: InternVL2 from transformers' native
// classes; tests/reference/radio: RADIO + ot_mlp1 + pooling from CoLVA's own code):
// - RADIO, the kit's canvas and masks and the region rows equal the original code's;
// - a folder in OpenGVLab's layout loads through the registry and its image rows, logits and 20
//   greedy tokens equal transformers';
// - Session puts region rows at "<region_token>" markers and images at "<image>", in text
//   order, under InternVL's phi3-chat template;
// - the kit's layout (base + unmerged LoRA .pth + adapter .pth + RADIO folder) loads to the
//   same model, with its LoRA count reported;
// - broken folders get messages naming what is wrong.
#include <QtTest/QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <QProcess>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_impl.h"
#include "engine/prompt.h"
#include "model/colva/colva.h"
#include "model/colva/radio.h"
#include "regionchat/bench.h"
#include "regionchat/bench_run.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"
#include "regionchat/tokenizer.h"
#include "support/read_tensor.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include <httplib.h>

#include <thread>

#include "regionchat/remote.h"
#include "regionchat/server.h"
#endif
#include "support/torch_zip_writer.h"

using namespace rc;
namespace fs = std::filesystem;

namespace {

fs::path source_dir(const char* rel) {
    return fs::path(std::getenv("REGIONCHAT_SOURCE_DIR")) / rel;
}

nlohmann::json read_json(const fs::path& p) {
    nlohmann::json j;
    std::ifstream(p) >> j;
    return j;
}

// Tensors by name (fp32, contiguous) for writing.
using TensorMap = std::map<std::string, torch::Tensor>;

TensorMap fixture_weights(const fs::path& file) {
    auto a = SafetensorsArchive::open(file.string());
    TensorMap m;
    for (const std::string& n : a->names()) {
        if (n.rfind("ref.", 0) == 0) continue;
        const TensorView* v = a->find(n);
        const torch::Dtype dt = v->dtype == DType::I64 ? torch::kInt64 : torch::kFloat32;
        m[n] = testing::read_tensor(*a, n, dt).contiguous();
    }
    return m;
}

void write_st(const fs::path& file, const TensorMap& m) {
    std::vector<TensorToWrite> out;
    for (const auto& [n, t] : m) {
        TensorToWrite w;
        w.name = n;
        w.dtype = t.scalar_type() == torch::kInt64 ? DType::I64 : DType::F32;
        w.shape = t.sizes().vec();
        w.data = t.data_ptr();
        w.nbytes = size_t(t.numel()) * t.element_size();
        out.push_back(w);
    }
    write_safetensors(file.string(), out);
}

// A torch.save'd dict of fp32 tensors (what the kit's .pth files are).
void write_pth(const fs::path& file, const TensorMap& m) {
    std::vector<testing::ZipTensor> tensors;
    std::vector<testing::ZipStorage> storages;
    int key = 0;
    for (const auto& [n, t] : m) {
        testing::ZipTensor zt;
        zt.name = n;
        zt.storage_key = std::to_string(key++);
        zt.shape = t.sizes().vec();
        zt.strides = testing::contiguous_strides(zt.shape);
        tensors.push_back(zt);
        testing::ZipStorage s;
        s.key = zt.storage_key;
        s.numel = t.numel();
        const auto* p = static_cast<const uint8_t*>(t.data_ptr());
        s.bytes.assign(p, p + t.numel() * 4);
        storages.push_back(s);
    }
    testing::write_torch_zip(file.string(), testing::state_dict_pickle(tensors, storages, true),
                             storages);
}

const char* const kAdded[] = {"<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>",
                              "<|user|>",      "<img>",         "</img>",     "<IMG_CONTEXT>"};
constexpr int kFirstAdded = 290, kEndId = 293;

// tokenizer.model (a 288-piece SentencePiece model with byte fallback) and tokenizer_config.json with Phi-3's and
// InternVL's added tokens at 290..297.
void write_tokenizer(const fs::path& dir) {
    static const std::string cached = [] {
        std::vector<std::string> s;
        const char* words[] = {"which", "object", "image", "red", "blue", "circle", "square",
                               "matches", "the", "query", "answer", "letter", "option", "none",
                               "above", "choices", "correct", "second", "first", "marked"};
        for (int i = 0; i < 400; ++i)
            s.push_back(std::string(words[i % 20]) + " " + words[(i * 7) % 20] + " " +
                        words[(i * 13) % 20]);  // few characters: byte fallback takes 259 ids
        const std::string path = (fs::temp_directory_path() /
                                  ("regionchat-colva-tok-" + std::to_string(::getpid()) + ".model"))
                                     .string();
        Tokenizer::train(s, path, 288);
        return path;
    }();
    fs::copy_file(cached, dir / "tokenizer.model", fs::copy_options::overwrite_existing);
    nlohmann::json added = nlohmann::json::object();
    for (int i = 0; i < 8; ++i)
        added[std::to_string(kFirstAdded + i)] = {{"content", kAdded[i]}, {"special", true}};
    std::ofstream(dir / "tokenizer_config.json")
        << nlohmann::json{{"add_bos_token", true}, {"legacy", false}, {"added_tokens_decoder", added}}.dump(1);
}

nlohmann::json internvl_config(bool radio) {
    const auto ref = read_json(source_dir("tests/reference/internvl/reference.json"));
    nlohmann::json c = {
        {"model_type", "internvl_chat"},
        {"vision_config",
         {{"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"intermediate_size", 128}, {"patch_size", 14}, {"image_size", 56},
          {"layer_norm_eps", 1e-6}, {"qkv_bias", true}, {"qk_normalization", false},
          {"norm_type", "layer_norm"}, {"hidden_act", "gelu"}}},
        {"llm_config", ref["text_config"]},
        {"downsample_ratio", 0.5},
        {"template", "phi3-chat"},
        {"ps_version", "v2"},
        {"select_layer", -1},
        {"force_image_size", 56},
        {"dynamic_image_size", true},
        {"max_dynamic_patch", 6},
        {"use_thumbnail", true}};
    if (radio)
        c["radio_config"] = read_json(source_dir("tests/reference/radio/reference.json"))["radio_config"];
    return c;
}

// The merged layout (colva-hf), or plain InternVL2 without the RADIO parts (internvl-hf).
void write_hf_folder(const fs::path& dir, bool radio, int max_positions = 0) {
    fs::create_directories(dir);
    TensorMap w = fixture_weights(source_dir("tests/reference/internvl/reference.safetensors"));
    if (radio)
        for (auto& [n, t] : fixture_weights(source_dir("tests/reference/radio/reference.safetensors")))
            w[n] = t;
    write_st(dir / "model.safetensors", w);
    auto cfg = internvl_config(radio);
    if (max_positions > 0) cfg["llm_config"]["max_position_embeddings"] = max_positions;
    std::ofstream(dir / "config.json") << cfg.dump(1);
    write_tokenizer(dir);
}

const char* const kTargets[] = {"self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj",
                                "mlp.down_proj"};

// The kit's files: base InternVL2 with W - 2 B A in the LoRA targets (so that the merge gives
// the fixture's W back), the RADIO folder, the adapter .pth and the SFT .pth (layer 0's pairs
// with peft's ".default", layer 1's without).
void write_kit(const fs::path& dir, int r, bool write_sft = true) {
    const fs::path base = dir / "InternVL2-4B", radio = dir / "RADIO";
    fs::create_directories(base);
    fs::create_directories(radio);
    TensorMap w = fixture_weights(source_dir("tests/reference/internvl/reference.safetensors"));
    TensorMap sft;
    torch::manual_seed(5);
    for (int layer = 0; layer < 2; ++layer)
        for (const char* t : kTargets) {
            const std::string module = "model.layers." + std::to_string(layer) + "." + t;
            torch::Tensor& W = w["language_model." + module + ".weight"];
            auto A = torch::randn({8, W.size(1)}) * 0.05, B = torch::randn({W.size(0), 8}) * 0.05;
            W = (W - 2.0 * torch::matmul(B, A)).contiguous();
            const std::string pre = "state_dict.model.language_model.base_model.model." + module;
            const std::string suffix = layer == 0 ? ".default.weight" : ".weight";
            sft[pre + ".lora_A" + suffix] = A.narrow(0, 0, std::min(r, 8)).contiguous();
            sft[pre + ".lora_B" + suffix] = B.contiguous();
        }
    write_st(base / "model.safetensors", w);
    std::ofstream(base / "config.json") << internvl_config(false).dump(1);
    write_tokenizer(base);
    TensorMap radio_w, adapter;
    for (auto& [n, t] : fixture_weights(source_dir("tests/reference/radio/reference.safetensors"))) {
        if (n.rfind("object_tokenizer.", 0) == 0) radio_w[n.substr(17)] = t;
        else adapter[n] = t;
    }
    write_st(radio / "model.safetensors", radio_w);
    std::ofstream(radio / "config.json")
        << read_json(source_dir("tests/reference/radio/reference.json"))["radio_config"].dump(1);
    write_pth(dir / "adapter.pth", adapter);
    if (write_sft) write_pth(dir / "sft.pth", sft);
    nlohmann::json cfg = {{"model_type", "colva_kit"},       {"model_path", "InternVL2-4B"},
                          {"radio_path", "RADIO"},           {"radio_pretrained_pth", "adapter.pth"},
                          {"lora_r", 8},                     {"lora_alpha", 16}};
    if (write_sft) cfg["pretrained_pth"] = "sft.pth";
    std::ofstream(dir / "config.json") << cfg.dump(1);
}

InternVlNetwork& network(Model& m) {
    auto* n = dynamic_cast<InternVlNetwork*>(ModelAccess::of(m).network.get());
    if (!n) throw std::logic_error("not an InternVL network");
    return *n;
}

std::shared_ptr<Model> load(const fs::path& dir) {
    LoadParams p;
    p.model_dir = dir.string();
    p.device = "cpu";
    return Model::load(p);
}

// Logits of the fixture's ids with its image rows, and 20 greedy ids, through the Network.
std::pair<torch::Tensor, std::vector<int64_t>> fixture_run(Network& net, const torch::Tensor& rows) {
    const auto ref = read_json(source_dir("tests/reference/internvl/reference.json"));
    const auto ids = ref["ids"].get<std::vector<int64_t>>();
    auto emb = net.embed_tokens(torch::tensor(ids).unsqueeze(0));
    for (size_t i = 0, r = 0; i < ids.size(); ++i)
        if (ids[i] == ref["image_token_id"].get<int64_t>()) emb[0][int64_t(i)].copy_(rows[int64_t(r++)]);
    auto state = net.new_state();
    auto logits = net.logits(net.forward(emb, *state))[0];
    std::vector<int64_t> greedy;
    auto last = logits[logits.size(0) - 1];
    for (int k = 0; k < 20; ++k) {
        const int64_t tok = last.argmax().item<int64_t>();
        greedy.push_back(tok);
        last = net.logits(net.forward(net.embed_tokens(torch::tensor({tok}).unsqueeze(0)), *state))[0][0];
    }
    return {logits, greedy};
}

double maxdiff(const torch::Tensor& a, const torch::Tensor& b) {
    if (a.sizes() != b.sizes()) return 1e9;
    return (a - b).abs().max().item<double>();
}

bool has_warning(const ModelInfo& info, const std::string& part) {
    for (const auto& w : info.warnings)
        if (w.find(part) != std::string::npos) return true;
    return false;
}

// A 10-case MMVM sample in the kit's layout: match_bench/case_N/ with FRAME00.jpg (the query
// drawn), FRAME00_ORI.jpg, FRAME00.json, FRAME01_CAND.jpg (candidates drawn with ids),
// FRAME01_ORI.jpg, FRAME01_CAND.json, and mllm_match_eval_full.tsv with the options in the
// question, pure_question, choices_head and match types covering all 8 cues.
void write_mmvm_sample(const fs::path& root, int cases = 10) {
    cv::RNG rng(7);
    std::string tsv = "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\tpure_question\tchoices_head\n";
    const std::string pure =
        "Here are two images. In the second image, I have marked several visual objects with "
        "their contours in different colors, and each is identified by a white numeric ID "
        "against a background that matches the contour's color. Could you please tell me which "
        "of these marked objects is the same as the object marked with a cyan contour in the "
        "first image? Please make a choice from the following options: ";
    for (int k = 0; k < cases; ++k) {
        const std::string name = "case_" + std::to_string(1000 + k).substr(1);
        const fs::path dir = root / "match_bench" / name;
        fs::create_directories(dir);
        const int w = 96 + 16 * (k % 3), h = 72 + 8 * (k % 2);
        auto frame = [&] {
            cv::Mat m(h, w, CV_8UC3);
            rng.fill(m, cv::RNG::UNIFORM, 0, 255);
            return m;
        };
        auto object = [&](int id) {
            bench::MmvmObject o;
            o.id = id;
            o.width = w;
            o.height = h;
            const float x = float(rng.uniform(2, w / 2)), y = float(rng.uniform(2, h / 2));
            const float bw = float(rng.uniform(12, w / 2 - 2)), bh = float(rng.uniform(12, h / 2 - 2));
            o.polygons.push_back({{x, y}, {x + bw, y}, {x + bw, y + bh}, {x, y + bh}});
            return o;
        };
        auto to_json = [](const std::vector<bench::MmvmObject>& objs) {
            nlohmann::json j = nlohmann::json::array();
            for (const auto& o : objs) {
                nlohmann::json seg = nlohmann::json::array({nlohmann::json::array()});
                for (const auto& p : o.polygons[0]) {
                    seg[0].push_back(p.x);
                    seg[0].push_back(p.y);
                }
                nlohmann::json e = {{"height", o.height}, {"width", o.width}, {"segmentation", seg}};
                if (o.id >= 0) e["id"] = o.id;
                j.push_back(e);
            }
            return j.dump();
        };
        const cv::Mat a = frame(), b = frame();
        const std::vector<bench::MmvmObject> query = {object(-1)};
        // Candidates written out of id order (the kit sorts them).
        const int n = 2 + k % 3;
        std::vector<bench::MmvmObject> cands;
        for (int i = n; i >= 1; --i) cands.push_back(object(i));
        cv::imwrite((dir / "FRAME00_ORI.jpg").string(), a);
        cv::imwrite((dir / "FRAME01_ORI.jpg").string(), b);
        cv::imwrite((dir / "FRAME00.jpg").string(), bench::draw_mmvm_prompt(a, query, true));
        cv::imwrite((dir / "FRAME01_CAND.jpg").string(), bench::draw_mmvm_prompt(b, cands, false));
        std::ofstream(dir / "FRAME00.json") << to_json(query);
        std::ofstream(dir / "FRAME01_CAND.json") << to_json(cands);
        std::string choices, head;
        for (int i = 0; i <= n; ++i) {
            const char letter = char('A' + i);
            choices += std::string(1, letter) + ". " +
                       (i < n ? std::to_string(i + 1) : "None of the above choices are correct") + "\n";
            head += std::string(head.empty() ? "" : ", ") + letter;
        }
        const std::string answer(1, char('A' + k % (n + 1)));
        const std::string types = "[" + std::to_string(1 + k % 8) + ", " + std::to_string(1 + (k + 3) % 8) + "]";
        // Quoted fields hold the newlines, as the kit's TSV (pandas) writes them.
        const std::string cq = "\"" + choices + "\"";
        tsv += std::to_string(k) + "\t\"" + pure + "\n" + choices + "\"\t" + answer + "\t['match_bench/" + name +
               "/FRAME00.jpg', 'match_bench/" + name + "/FRAME01_CAND.jpg']\t" + types + "\t" + cq +
               "\t" + pure + "\t" + head + "\n";
    }
    std::ofstream(root / "mllm_match_eval_full.tsv") << tsv;
}

// A judge that answers from a script (MMVM's LLM judge, without a server).
class ScriptedJudge : public ChatBackend {
public:
    explicit ScriptedJudge(std::vector<std::string> replies) : replies_(std::move(replies)) {}
    BackendInfo info() const override { return {}; }
    std::unique_ptr<ChatBackend> fresh() const override { return nullptr; }
    Reply ask(const ChatRequest& q, const GenerateParams&) override {
        prompts.push_back(q.text);
        Reply r;
        r.text = replies_[std::min(prompts.size() - 1, replies_.size() - 1)];
        return r;
    }
    double score(const ChatRequest&, const std::string&) override { return 0; }
    double score_one_turn(const std::string&, const std::vector<cv::Mat>&, const std::string&) override { return 0; }
    void add_exchange(const ChatRequest&, const std::string&) override {}
    void truncate(size_t) override {}
    void reset() override {}
    size_t message_count() const override { return 0; }
    std::vector<ParsedBox> parse_boxes(const std::string&, ImageSize) const override { return {}; }
    std::string render_question(const ChatRequest& q) const override { return q.text; }
    std::vector<std::string> prompts;

private:
    std::vector<std::string> replies_;
};

}  // namespace

class TestColva : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path dir(const char* name) { return fs::path(tmp_.path().toStdString()) / name; }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        write_hf_folder(dir("colva-hf"), true);
        write_hf_folder(dir("internvl"), false);
        // The fixture's Phi-3 holds 160 positions; the system prompt alone takes ~200 of the
        // tiny tokenizer's byte pieces.
        write_hf_folder(dir("colva-long"), true, 2048);
    }

    void radioEqualsOriginalCode() {
        torch::NoGradGuard ng;
        const fs::path rdir = source_dir("tests/reference/radio");
        auto archive = SafetensorsArchive::open((rdir / "reference.safetensors").string());
        auto get = [&](const char* n) { return testing::read_tensor(*archive, n); };
        const cv::Mat image = cv::imread((rdir / "image.png").string(), cv::IMREAD_COLOR);
        std::vector<cv::Mat> masks;
        for (int i = 0; i < 3; ++i)
            masks.push_back(cv::imread((rdir / ("mask_" + std::to_string(i) + ".png")).string(),
                                       cv::IMREAD_GRAYSCALE));
        QVERIFY(!image.empty() && !masks[2].empty());
        // The kit's input steps.
        const double dp = maxdiff(colva_radio_pixels(image, 64).unsqueeze(0), get("ref.pixels"));
        const double dm = maxdiff(colva_mask_grid(masks, 64, 4), get("ref.mask_grid"));
        // The model, loaded through the registry from the merged folder.
        auto model = load(dir("colva-hf"));
        QCOMPARE(model->info().family, Family::CoLva);
        QCOMPARE(model->info().layout, std::string("colva-hf"));
        QVERIFY(model->info().reads_region_tokens);
        InternVlNetwork& net = network(*model);
        const auto feats = net.module()->object_tokenizer->radio_model(get("ref.pixels"))[0];
        const double df = maxdiff(feats, get("ref.features"));
        const double dot = maxdiff(net.module()->ot_mlp1(feats), get("ref.ot"));
        const auto rows = net.encode_regions(image, masks);
        const double dr = maxdiff(rows, get("ref.objects"));
        qInfo("RADIO vs CoLVA's code, max |diff|: canvas %.3g, mask grid %.3g, features %.3g, "
              "ot_mlp1 %.3g, region rows %.3g", dp, dm, df, dot, dr);
        QVERIFY(dp < 1e-6);  // Pillow-exact resize: the same bytes
        QCOMPARE(dm, 0.0);
        QVERIFY(df < 1e-4);
        QVERIFY(dot < 1e-4);
        QVERIFY(dr < 1e-4);
        QCOMPARE(rows[2].abs().max().item<double>(), 0.0);  // an empty mask gives zeros
        // The position table: 8x8 stored, bilinear (align_corners) to 4x4 for the 64 px canvas.
        auto table = torch::arange(64 * 2, torch::kFloat32).reshape({1, 64, 2});
        auto t4 = radio_position_table(table, 8, 4, 4);
        QCOMPARE(t4.sizes().vec(), (std::vector<int64_t>{1, 16, 2}));
        QCOMPARE(t4[0][0][0].item<float>(), 0.0f);     // corners kept (align_corners)
        QCOMPARE(t4[0][15][0].item<float>(), 126.0f);
    }

    void folderEqualsTransformers() {
        torch::NoGradGuard ng;
        auto archive = SafetensorsArchive::open(
            source_dir("tests/reference/internvl/reference.safetensors").string());
        auto get = [&](const char* n) { return testing::read_tensor(*archive, n); };
        const auto ref = read_json(source_dir("tests/reference/internvl/reference.json"));
        for (const char* name : {"internvl", "colva-hf"}) {
            LoadParams p;
            p.model_dir = dir(name).string();
            const ModelPlan plan = plan_model(p);
            auto model = load(dir(name));
            QCOMPARE(plan.parameters, model->info().parameters);
            InternVlNetwork& net = network(*model);
            const auto rows = net.module()->image_rows(get("ref.pixels"));
            const auto [logits, greedy] = fixture_run(net, rows);
            const double dr = maxdiff(rows, get("ref.rows")), dl = maxdiff(logits, get("ref.logits"));
            qInfo("%s folder vs transformers: rows %.3g, logits %.3g", name, dr, dl);
            QVERIFY(dr < 1e-4);
            QVERIFY(dl < 1e-4);
            QCOMPARE(greedy, ref["greedy"].get<std::vector<int64_t>>());
            // The tokenizer: the added tokens split out, generation stops at <|end|>.
            const Tokenizer& tok = *ModelAccess::of(*model).tokenizer;
            QCOMPARE(tok.eos_id(), kEndId);
            const auto ids = tok.encode("<|user|>\n<img>");
            QCOMPARE(ids.front(), kFirstAdded + 4);
            QCOMPARE(ids.back(), kFirstAdded + 5);
            // Special added tokens are not written back (the kit's skip_special_tokens).
            QCOMPARE(tok.decode({kFirstAdded + 4, kFirstAdded + 7}), std::string());
            QCOMPARE(model->info().reads_region_tokens, std::string(name) == "colva-hf");
        }
        // Plain InternVL2 has no region tokens: a clear message.
        auto plain = load(dir("internvl"));
        Session s(plain);
        cv::Mat img(40, 60, CV_8UC3, cv::Scalar(20, 200, 30)), mask(40, 60, CV_8UC1, cv::Scalar(255));
        GenerateParams g;
        g.max_new_tokens = 2;
        try {
            s.ask("<image>\nObject: <region_token>", {img}, g, {{img, mask}});
            QFAIL("no error for region tokens on plain InternVL2");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("region tokens") != std::string::npos, e.what());
        }
    }

    void templateIsPhi3Chat() {
        auto model = load(dir("colva-hf"));
        const ChatTemplate& t = *ModelAccess::of(*model).chat_template;
        const std::string text = pieces_to_string(t.render(
            {{ChatMessage::Role::User, "Image-1: <image>\nWhat?"},
             {ChatMessage::Role::Assistant, "A."},
             {ChatMessage::Role::User, "And?"}}));
        const std::string sys =
            "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, "
            "是一个有用无害的人工智能助手。";
        QCOMPARE(text, "<s><|system|>\n" + sys +
                           "<|end|><|user|>\nImage-1: <img><image></img>\nWhat?<|end|>"
                           "<|assistant|>\nA.<|end|><|user|>\nAnd?<|end|><|assistant|>\n");
        QVERIFY(!t.image_chunks());
    }

    void sessionPutsRegionRowsAtMarkers() {
        torch::NoGradGuard ng;
        auto model = load(dir("colva-long"));
        InternVlNetwork& net = network(*model);
        cv::Mat a(50, 120, CV_8UC3), b(90, 60, CV_8UC3);
        cv::randu(a, 0, 255);
        cv::randu(b, 0, 255);
        cv::Mat qa(a.size(), CV_8UC1, cv::Scalar(0)), c1(b.size(), CV_8UC1, cv::Scalar(0)),
            c2 = c1.clone();
        qa(cv::Rect(10, 10, 40, 30)).setTo(255);
        c1(cv::Rect(0, 0, 30, 40)).setTo(255);
        c2(cv::Rect(20, 50, 40, 40)).setTo(255);
        const std::string q =
            "Image-1: <image>\nImage-2: <image>\nObjects in Image-1: <query object><region_token>\n"
            "Objects in Image-2: <object-1><region_token>, <object-2><region_token>.\n"
            "<Image-1><Image-2>Which object matches?";
        Session s(model);
        GenerateParams g;
        g.max_new_tokens = 6;
        g.sampling.temperature = 0;
        const Reply r = s.ask(q, {a, b}, g, {{a, qa}, {b, c1}, {b, c2}});
        const auto ids = s.cached_ids();
        // The rows the network makes, in marker order.
        const auto ra = net.encode_image(a), rb = net.encode_image(b);
        const auto regions_a = net.encode_regions(a, {qa}), regions_b = net.encode_regions(b, {c1, c2});
        std::vector<torch::Tensor> runs = {ra, rb, regions_a[0].unsqueeze(0), regions_b[0].unsqueeze(0),
                                           regions_b[1].unsqueeze(0)};
        // -1 runs in the cache, in order: image a, image b, then three single region rows.
        std::vector<std::pair<int64_t, int64_t>> spans;
        for (int64_t i = 0; i < int64_t(ids.size()); ++i)
            if (ids[size_t(i)] == -1) {
                if (spans.empty() || spans.back().first + spans.back().second != i) spans.push_back({i, 0});
                ++spans.back().second;
            }
        QCOMPARE(spans.size(), size_t(5));
        for (size_t k = 0; k < 5; ++k) QCOMPARE(spans[k].second, runs[k].size(0));
        // Image a is 120x50: InternVL's grid for it is 2x1 + a thumbnail = 3 tiles of 4 rows.
        QCOMPARE(ra.size(0), int64_t(12));
        // The same forward by hand: ids embedded, rows written over the runs.
        const int64_t prompt = r.timings.prompt_tokens;
        std::vector<int64_t> pid(ids.begin(), ids.begin() + prompt);
        for (auto& v : pid) v = std::max<int64_t>(v, 0);
        auto emb = net.embed_tokens(torch::tensor(pid).unsqueeze(0));
        for (size_t k = 0; k < 5; ++k) emb[0].narrow(0, spans[k].first, spans[k].second).copy_(runs[k]);
        auto state = net.new_state();
        auto last = net.logits(net.forward(emb, *state))[0][prompt - 1];
        std::vector<int64_t> mine;
        for (size_t k = 0; k + prompt < ids.size(); ++k) {
            const int64_t tok = last.argmax().item<int64_t>();
            mine.push_back(tok);
            last = net.logits(net.forward(net.embed_tokens(torch::tensor({tok}).unsqueeze(0)), *state))[0][0];
        }
        const std::vector<int64_t> fed(ids.begin() + prompt, ids.end());
        QVERIFY(!fed.empty());
        QCOMPARE(mine, fed);
        // The text around the region rows is the kit's: "<query object>" right before the first.
        const Tokenizer& tok = *ModelAccess::of(*model).tokenizer;
        const std::string before = tok.decode(std::vector<int>(ids.begin() + spans[2].first - 24,
                                                               ids.begin() + spans[2].first));
        QVERIFY2(before.size() > 14 && before.substr(before.size() - 14) == "<query object>", before.c_str());
        // Counts must match.
        Session s2(model);
        try {
            s2.ask(q, {a, b}, g, {{a, qa}});
            QFAIL("no error for 3 markers and 1 region");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("3 region-token markers but 1") != std::string::npos, e.what());
        }
    }

    void kitLayoutMergesLoRA() {
        torch::NoGradGuard ng;
        write_kit(dir("kit"), 8);
        auto kit = load(dir("kit"));
        auto hf = load(dir("colva-hf"));
        QCOMPARE(kit->info().layout, std::string("colva-kit"));
        QVERIFY(kit->info().reads_region_tokens);
        for (const auto& w : kit->info().warnings) qInfo("kit: %s", w.c_str());
        QVERIFY(has_warning(kit->info(), "LoRA merged into 8 of 8 projections (r 8, alpha 16)"));
        QVERIFY(has_warning(kit->info(), "4 LoRA pairs are named without '.default'"));
        LoadParams kp;
        kp.model_dir = dir("kit").string();
        QCOMPARE(plan_model(kp).parameters, kit->info().parameters);
        // The same model as the merged layout.
        auto& a = network(*kit);
        auto& b = network(*hf);
        auto archive = SafetensorsArchive::open(
            source_dir("tests/reference/internvl/reference.safetensors").string());
        const auto pixels = testing::read_tensor(*archive, "ref.pixels");
        const auto [la, ga] = fixture_run(a, a.module()->image_rows(pixels));
        const auto [lb, gb] = fixture_run(b, b.module()->image_rows(pixels));
        const double d = maxdiff(la, lb);
        qInfo("kit layout vs merged: logits max |diff| %.3g", d);
        QVERIFY(d < 1e-4);
        QCOMPARE(ga, gb);
        cv::Mat img(30, 40, CV_8UC3, cv::Scalar(10, 100, 200)), mask(30, 40, CV_8UC1, cv::Scalar(0));
        mask(cv::Rect(5, 5, 20, 20)).setTo(255);
        QVERIFY(maxdiff(a.encode_regions(img, {mask}), b.encode_regions(img, {mask})) < 1e-6);

        // int8: the kit's LoRA merged, each language-model linear layer quantised as it is
        // filled, held in int8 (not cast back to floats) and close to fp32's logits.
        kp.device = "cpu";
        kp.dtype = Precision::Int8;
        auto q = Model::load(kp);
        QCOMPARE(to_string(q->info().dtype), std::string("int8"));
        auto& c = network(*q);
        int quantised = 0;
        for (const auto& mod : c.module()->language_model->modules(false))
            if (auto* lin = mod->as<LinearImpl>()) {
                QCOMPARE(lin->weight.scalar_type(), torch::kInt8);
                ++quantised;
            }
        QVERIFY(quantised > 0);
        const auto [lq, gq] = fixture_run(c, c.module()->image_rows(pixels));
        const double dq = maxdiff(lq, la), sq = la.abs().max().item<double>();
        qInfo("kit layout int8 vs fp32: logits max |diff| %.3g (scale %.3g)", dq, sq);
        QVERIFY(dq > 0 && dq < 0.05 * sq);

        // Without the SFT file: a warning that the answers are not CoLVA's.
        write_kit(dir("kit-nosft"), 8, false);
        auto nosft = load(dir("kit-nosft"));
        QVERIFY(has_warning(nosft->info(), "without CoLVA's LoRA"));
    }

    void mmvmAsTheKitAsksIt() {
        const fs::path root = dir("mmvm");
        write_mmvm_sample(root, 3);
        const bench::LoadReport report = bench::load_mmvm(root.string());
        QCOMPARE(report.cases.size(), size_t(3));
        const bench::BenchCase& c = report.cases[1];  // 3 candidates, ids 3, 2, 1 in the json
        QCOMPARE(c.original_images.size(), size_t(2));
        std::vector<cv::Mat> shown, orig;
        for (const auto& p : c.images) shown.push_back(cv::imread(p));
        for (const auto& p : c.original_images) orig.push_back(cv::imread(p));
        const ChatRequest q = bench::mmvm_region_token_request(c, shown, orig);
        const std::string opts = "A. 1\nB. 2\nC. 3\nD. None of the above choices are correct";
        QCOMPARE(q.text, "Image-1: <image>\nImage-2: <image>\nObjects in Image-1: <query object><region 4>\n"
                         "Objects in Image-2: <object-1><region 1>, <object-2><region 2>, "
                         "<object-3><region 3>.\n<Image-1><Image-2>" + c.question);
        QVERIFY(c.question.find(opts) != std::string::npos);
        QCOMPARE(q.regions.size(), size_t(4));
        QCOMPARE(q.regions[0].image, 0);
        QCOMPARE(q.regions[1].image, 1);
        // Masks reordered with the ids: region 1's mask is the json's last object's.
        const cv::Mat want = bench::mmvm_object_mask(c.candidates[2], orig[1].size());
        bool found = false;
        for (const auto& r : q.regions)
            if (r.id == 1) found = cv::countNonZero(r.mask != want) == 0;
        QVERIFY(found);
        // The local backend turns it into three region tokens and shows the drawn frames.
        QCOMPARE(encode_region_references(q.text, q.regions, {orig[0].cols, orig[0].rows},
                                          *make_builtin_region_format("pixels"), RegionMode::Tokens),
                 "Image-1: <image>\nImage-2: <image>\nObjects in Image-1: <query object><region_token>\n"
                 "Objects in Image-2: <object-1><region_token>, <object-2><region_token>, "
                 "<object-3><region_token>.\n<Image-1><Image-2>" + c.question);
        const auto seen = images_with_visual_prompts(q);
        QCOMPARE(cv::countNonZero(cv::Mat(seen[1] != shown[1]).reshape(1)), 0);

        // The kit's judge: asked only when can_infer fails, its reply read by can_infer.
        bench::CaseResult r;
        r.bench_case = c;
        r.prediction = "The second one, I think.";
        ScriptedJudge judge({"Your output: B"});
        bench::RunOptions ro;
        ro.judge = &judge;
        bench::judge_mmvm(ro, &r);
        QCOMPARE(r.judged_letter, std::string("B"));
        QCOMPARE(r.judged_by, std::string("judge"));
        QCOMPARE(judge.prompts.size(), size_t(1));
        QVERIFY(judge.prompts[0].find("single uppercase character in A, B, C, D (if they are valid options)") != std::string::npos);
        QVERIFY(judge.prompts[0].find("Answer: The second one, I think.\nYour output: ") != std::string::npos);
        QCOMPARE(bench::mmvm_result_letter(r), std::string("B"));
        // A readable answer never reaches the judge.
        bench::CaseResult plain = r;
        plain.judged_letter.clear();
        plain.judged_by.clear();
        plain.prediction = "C";
        ScriptedJudge unused({"A"});
        ro.judge = &unused;
        bench::judge_mmvm(ro, &plain);
        QVERIFY(unused.prompts.empty());
        QCOMPARE(bench::mmvm_result_letter(plain), std::string("C"));
        // Three unreadable replies: a random letter or Z, as the kit (seeded by the case).
        ScriptedJudge garbage({"hmm", "A or B", "no idea"});
        ro.judge = &garbage;
        bench::CaseResult g = r;
        g.judged_letter.clear();
        bench::judge_mmvm(ro, &g);
        QCOMPARE(garbage.prompts.size(), size_t(3));
        QCOMPARE(g.judged_by, std::string("random"));
        QVERIFY(std::string("ABCDZ").find(g.judged_letter) != std::string::npos && g.judged_letter.size() == 1);
    }

    void cliBenchMmvm() {
        // regionchat-cli bench --format mmvm on the tiny CoLVA and a 10-case sample, as a user
        // runs it. REGIONCHAT_COLVA_OUT keeps both there (tools/colva-sample.sh).
        const QString cli = qEnvironmentVariable("REGIONCHAT_CLI");
        QVERIFY2(QFileInfo::exists(cli), "REGIONCHAT_CLI must name the built regionchat-cli");
        fs::path out = dir("sample");
        if (qEnvironmentVariableIsSet("REGIONCHAT_COLVA_OUT"))
            out = qEnvironmentVariable("REGIONCHAT_COLVA_OUT").toStdString();
        write_hf_folder(out / "colva-tiny", true, 8192);
        write_mmvm_sample(out / "mmvm-sample", 10);
        // The memory plan counts the tiles of two images (6 + a thumbnail, 4 rows each here),
        // the text and the answer: 2 x 7 x 4 + 2048 positions, not Phi-3's whole context.
        LoadParams lp;
        lp.model_dir = (out / "colva-tiny").string();
        const ModelPlan plan = plan_model(lp);
        bool planned = false;
        for (const auto& w : plan.warnings) planned |= w.find("memory planned for 2104 positions") == 0;
        QVERIFY(planned);
        QProcess p;
        p.start(cli, {"bench", "--format", "mmvm", "--root", QString::fromStdString((out / "mmvm-sample").string()),
                      "--model", QString::fromStdString((out / "colva-tiny").string()), "--output",
                      QString::fromStdString((out / "results").string()), "--max-new-tokens", "8", "--json"});
        QVERIFY(p.waitForFinished(600000));
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitCode() == 0, err.constData());
        const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        QCOMPARE(j["cases"].get<int>(), 10);
        QCOMPARE(j["answered"].get<int>(), 10);
        QCOMPARE(j["per_cue"].size(), size_t(8));
        for (const char* cue : {"CL", "SP", "TM", "SZ", "RP", "OO", "BR", "OM"})
            QVERIFY2(j["per_cue_counts"].contains(cue), cue);
        QCOMPARE(j["judge"].get<std::string>(), std::string("none (exact matching)"));
        QVERIFY(j["prompt"].get<std::string>().find("CoLVA") == 0);
        // Every case's line names its letter and match types.
        std::ifstream results(out / "results" / "results.jsonl");
        int lines = 0;
        for (std::string line; std::getline(results, line); ++lines) {
            const auto r = nlohmann::json::parse(line);
            QVERIFY(r.contains("letter") && r.contains("match_type"));
        }
        QCOMPARE(lines, 10);
        qInfo("bench mmvm on the tiny CoLVA: overall %.3f over %d cases in %.1f s",
              j["overall"].get<double>(), j["cases"].get<int>(), j["seconds"].get<double>());
    }

#ifdef REGIONCHAT_HAS_REMOTE
    void serveTakesRegionsOnBothImages() {
        // regionchat-cli serve's API: two images in the user message, a region on each
        // (image index + polygon), streamed back.
        auto model = load(dir("colva-long"));
        ServerOptions o;
        o.model_id = "colva";
        o.port = 0;
        ChatServer server(make_local_backend(model), o);
        const int port = server.bind();
        std::thread serving([&] { server.run(); });
        struct Stop {
            ChatServer& s;
            std::thread& t;
            ~Stop() {
                s.stop();
                t.join();
            }
        } stop{server, serving};
        cv::Mat a(60, 80, CV_8UC3, cv::Scalar(30, 90, 200)), b(50, 70, CV_8UC3, cv::Scalar(200, 90, 30));
        nlohmann::json body = {
            {"model", "colva"},
            {"max_tokens", 4},
            {"stream", true},
            {"messages",
             {{{"role", "user"},
               {"content",
                {{{"type", "text"}, {"text", "Image-1: "}},
                 {{"type", "image_url"}, {"image_url", {{"url", image_data_url(a)}}}},
                 {{"type", "text"}, {"text", "\nImage-2: "}},
                 {{"type", "image_url"}, {"image_url", {{"url", image_data_url(b)}}}},
                 {{"type", "text"},
                  {"text", "\nObjects in Image-1: <query object><region 1>\nObjects in Image-2: "
                           "<object-2><region 2>.\n<Image-1><Image-2>Which one?"}}}}}}},
            {"regions",
             {{{"id", 1}, {"image", 0}, {"polygon", {{5, 5}, {40, 5}, {40, 30}, {5, 30}}}},
              {{"id", 2}, {"image", 1}, {"box", {10, 10, 50, 40}}}}}};
        httplib::Client cli("127.0.0.1", port);
        cli.set_read_timeout(300);
        auto r = cli.Post("/v1/chat/completions", body.dump(), "application/json");
        QVERIFY(r);
        QVERIFY2(r->status == 200, r->body.c_str());
        QVERIFY(r->body.find("\"content\"") != std::string::npos);
        QVERIFY(r->body.find("data: [DONE]") != std::string::npos);
        // A region on an image the message does not have: 400 naming it.
        body["regions"][1]["image"] = 2;
        body["stream"] = false;
        r = cli.Post("/v1/chat/completions", body.dump(), "application/json");
        QVERIFY(r);
        QCOMPARE(r->status, 400);
        QVERIFY2(r->body.find("region 2 is on image 2 but the last user message has 2") != std::string::npos,
                 r->body.c_str());
    }
#endif

    void brokenFoldersSayWhy() {
        auto expect = [](const fs::path& d, const std::string& part) {
            try {
                load(d);
                QFAIL(("no error, expected: " + part).c_str());
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(part) != std::string::npos, e.what());
            }
        };
        // LoRA of another rank than the config's.
        write_kit(dir("kit-r4"), 4);
        expect(dir("kit-r4"), "do not fit r 8");
        // No adapter file.
        write_kit(dir("kit-noadapter"), 8);
        fs::remove(dir("kit-noadapter") / "adapter.pth");
        expect(dir("kit-noadapter"), "radio_pretrained_pth");
        // InternVL2 with InternLM2 (not Phi-3).
        fs::copy(dir("internvl"), dir("internlm"), fs::copy_options::recursive);
        auto cfg = internvl_config(false);
        cfg["llm_config"]["model_type"] = "internlm2";
        std::ofstream(dir("internlm") / "config.json") << cfg.dump();
        expect(dir("internlm"), "llm_config.model_type 'internlm2' is not supported");
        // LongRoPE factors of the wrong length.
        fs::copy(dir("internvl"), dir("rope"), fs::copy_options::recursive);
        cfg = internvl_config(false);
        cfg["llm_config"]["rope_parameters"]["short_factor"] = {1.0, 2.0};
        std::ofstream(dir("rope") / "config.json") << cfg.dump();
        expect(dir("rope"), "short_factor must be a list of 12");
        // A RADIO table that is not the config's size.
        fs::copy(dir("colva-hf"), dir("radio-size"), fs::copy_options::recursive);
        cfg = internvl_config(true);
        cfg["radio_config"]["args"]["cpe_max_size"] = 256;
        std::ofstream(dir("radio-size") / "config.json") << cfg.dump();
        expect(dir("radio-size"), "pos_embed' has shape [1, 64, 32], expected [1, 256, 32]");
    }
};

QTEST_APPLESS_MAIN(TestColva)
#include "test_colva.moc"
