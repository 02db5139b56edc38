// The CoLVA family: InternVL2 folders (Phi-3 LLM), CoLVA's merged HF checkpoint and what
// MMVMEvalKit loads (model/colva/colva.h). Every tensor is accounted for: missing ones are
// errors naming the file looked in; unused ones, SFT tensors that replace base ones and the
// LoRA pairs merged (and which of them the kit would have dropped) are reported.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "io/config_reader.h"
#include "model/colva/colva.h"
#include "model/colva/radio.h"
#include "model/family.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/tiling.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

// InternVL's conversation.py default system message for phi3-chat (the kit never sets one).
const char* const kInternVlSystem =
    "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。";

// ---- chat template: InternVL's phi3-chat (MPT style) ----
// "<|system|>\n{system}<|end|>" then "<|user|>\n{message}<|end|>" and
// "<|assistant|>\n{answer}<|end|>" per turn, "<|assistant|>\n" to answer; each "<image>" is
// "<img><image></img>" (the engine fills the image's rows where InternVL writes
// <IMG_CONTEXT> x rows).
class Phi3ChatTemplate : public ChatTemplate {
public:
    Phi3ChatTemplate(std::string system, bool bos) : system_(std::move(system)), bos_(bos) {}
    std::string name() const override { return kPhi3Chat; }
    bool image_chunks() const override { return false; }
    std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const override {
        std::vector<PromptPiece> out;
        if (bos_) out.push_back({PromptPiece::Kind::Bos, {}, false});
        std::string pending = "<|system|>\n" + system_ + "<|end|>";
        for (const ChatMessage& m : messages) {
            if (m.role == ChatMessage::Role::User) {
                std::string q = m.text;
                static const std::string kImage = "<image>";
                for (size_t at = 0; (at = q.find(kImage, at)) != std::string::npos;) {
                    q.replace(at, kImage.size(), "<img><image></img>");
                    at += 18;
                }
                pending += "<|user|>\n" + q + "<|end|>";
                continue;
            }
            pending += "<|assistant|>\n";
            out.push_back({PromptPiece::Kind::Text, pending, false});
            pending.clear();
            out.push_back({PromptPiece::Kind::Text, m.text, true});
            out.push_back({PromptPiece::Kind::Text, "<|end|>", true});
        }
        if (messages.empty() || messages.back().role == ChatMessage::Role::User)
            pending += "<|assistant|>\n";
        if (!pending.empty()) out.push_back({PromptPiece::Kind::Text, pending, false});
        return out;
    }

private:
    std::string system_;
    bool bos_;
};

// ---- weights ----

// The tensors of a .pth as the kit reads them: state_dict's when there is one.
class PthTensors {
public:
    PthTensors() = default;
    explicit PthTensors(const std::string& file) : file_(file), archive_(SafetensorsArchive::open(file)) {
        bool nested = false;
        for (const std::string& n : archive_->names())
            if (n.rfind("state_dict.", 0) == 0) nested = true;
        for (const std::string& n : archive_->names()) {
            if (nested && n.rfind("state_dict.", 0) != 0) continue;
            by_name_[nested ? n.substr(11) : n] = archive_->find(n);
        }
    }
    const TensorView* find(const std::string& name) {
        const auto it = by_name_.find(name);
        if (it == by_name_.end()) return nullptr;
        used_.insert(name);
        return it->second;
    }
    std::vector<std::string> unused(const std::function<bool(const std::string&)>& skip) const {
        std::vector<std::string> out;
        for (const auto& [n, v] : by_name_)
            if (!used_.count(n) && !skip(n)) out.push_back(n);
        return out;
    }
    const std::map<std::string, const TensorView*>& all() const { return by_name_; }
    const std::string& file() const { return file_; }
    bool open() const { return archive_ != nullptr; }
    uint64_t total_bytes() const { return archive_ ? archive_->total_bytes() : 0; }

private:
    std::string file_;
    std::unique_ptr<SafetensorsArchive> archive_;
    std::map<std::string, const TensorView*> by_name_;
    std::set<std::string> used_;
};

std::string shape_string(const std::vector<int64_t>& s) {
    std::string out;
    for (auto v : s) out += (out.empty() ? "" : ", ") + std::to_string(v);
    return "[" + out + "]";
}

torch::Tensor to_float(const TensorView& v) {
    auto t = torch::empty(v.shape, torch::kFloat32);
    copy_view_into(v, t);
    return t;
}

bool is_lora_target(const std::string& key) {
    static const std::regex kTarget(
        R"(language_model\.model\.layers\.\d+\.(self_attn\.qkv_proj|self_attn\.o_proj|mlp\.gate_up_proj|mlp\.down_proj)\.weight)");
    return std::regex_match(key, kTarget);
}

class Loader {
public:
    explicit Loader(const ColvaConfig& c) : c_(c) {
        main_ = PthTensors(c.weights);
        if (c.layout == kLayoutColvaKit) {
            radio_ = PthTensors(c.radio_dir);
            adapter_ = PthTensors(c.adapter_file);
            if (!c.sft_file.empty()) sft_ = PthTensors(c.sft_file);
        }
    }

    uint64_t total_bytes() const {
        return main_.total_bytes() + radio_.total_bytes() + adapter_.total_bytes();
    }
    uint64_t bytes() const { return bytes_; }

    void fill(const std::string& name, torch::Tensor& param) {
        const bool kit = c_.layout == kLayoutColvaKit;
        static const std::string kRadio = "object_tokenizer.", kOt = "ot_mlp1.";
        if (name.rfind(kRadio, 0) == 0) {
            PthTensors& from = kit ? radio_ : main_;
            copy(from, kit ? name.substr(kRadio.size()) : name, param);
            return;
        }
        if (name.rfind(kOt, 0) == 0) {
            copy(kit ? adapter_ : main_, name, param);
            return;
        }
        int part = -1;
        const std::string key = internvl_key(name, &part);
        if (part < 0 && !(kit && is_lora_target(key))) {
            if (kit && sft_.open()) {
                if (const TensorView* v = sft_.find("model." + key)) {
                    ++sft_overrides_;
                    put(*v, param, sft_.file());
                    return;
                }
            }
            copy(main_, key, param);
            return;
        }
        torch::Tensor w = merged(key);
        if (part < 0) {
            check_shape(w.sizes().vec(), param, key, c_.weights);
            param.copy_(w);
            bytes_ += uint64_t(w.numel()) * 2;
            return;
        }
        try {
            param.copy_(phi3_fused_part(w, key.find("qkv_proj") != std::string::npos, part, c_.net.text));
        } catch (const Error& e) {
            throw Error(c_.weights + ": tensor '" + key + "' " + e.what());
        }
        bytes_ += uint64_t(param.numel()) * 2;
    }

    std::vector<std::string> report() const {
        std::vector<std::string> w;
        auto skip_buffers = [](const std::string& n) {
            return n.find("summary_idxs") != std::string::npos ||
                   n.find("rotary_emb.inv_freq") != std::string::npos ||
                   n.find(".position_ids") != std::string::npos ||
                   n.find("radio_model.adaptors.") != std::string::npos;
        };
        auto unused = [&](const PthTensors& t, const char* what, bool skip_lora) {
            if (!t.open()) return;
            const auto list = t.unused([&](const std::string& n) {
                return skip_buffers(n) || (skip_lora && n.find(".lora_") != std::string::npos);
            });
            if (list.empty()) return;
            std::string ex;
            for (size_t i = 0; i < list.size() && i < 5; ++i) ex += (i ? ", " : "") + list[i];
            w.push_back(t.file() + ": " + std::to_string(list.size()) + " " + what +
                        " tensors not used (" + ex + (list.size() > 5 ? ", ..." : "") + ")");
        };
        unused(main_, "", false);
        unused(radio_, "RADIO", false);
        unused(adapter_, "adapter", false);
        unused(sft_, "SFT", true);
        if (c_.layout == kLayoutColvaKit) {
            const size_t expected = size_t(c_.net.text.num_hidden_layers) * 4;
            if (!sft_.open())
                w.push_back("no pretrained_pth: Phi-3 runs without CoLVA's LoRA (the answers "
                            "are InternVL2-4B's with CoLVA's region tokens)");
            else
                w.push_back("LoRA merged into " + std::to_string(lora_pairs_) + " of " +
                            std::to_string(expected) + " projections (r " +
                            std::to_string(c_.lora_r) + ", alpha " +
                            std::to_string(int(c_.lora_alpha)) + ")");
            if (lora_without_default_ > 0)
                w.push_back(std::to_string(lora_without_default_) +
                            " LoRA pairs are named without '.default' (peft's saved form): "
                            "MMVMEvalKit's load_state_dict(strict=False) skips such keys "
                            "silently, RegionChat merged them");
            if (sft_overrides_ > 0)
                w.push_back(sft_.file() + ": " + std::to_string(sft_overrides_) +
                            " base tensors replaced by the SFT file's");
        }
        return w;
    }
    size_t lora_pairs() const { return lora_pairs_; }

private:
    static void check_shape(const std::vector<int64_t>& got, const torch::Tensor& param,
                            const std::string& key, const std::string& file) {
        if (got != param.sizes().vec())
            throw Error(file + ": tensor '" + key + "' has shape " + shape_string(got) +
                        ", expected " + shape_string(param.sizes().vec()));
    }
    void put(const TensorView& v, torch::Tensor& param, const std::string& file) {
        check_shape(v.shape, param, v.name, file);
        copy_view_into(v, param);
        bytes_ += v.nbytes;
    }
    void copy(PthTensors& from, const std::string& key, torch::Tensor& param) {
        const TensorView* v = from.find(key);
        if (!v) throw Error(from.file() + ": tensor '" + key + "' is missing");
        put(*v, param, from.file());
    }

    // A base weight in fp32 with its LoRA merged (kit), cached for the parts of a fused one.
    torch::Tensor merged(const std::string& key) {
        if (key == cached_key_) return cached_;
        const bool kit = c_.layout == kLayoutColvaKit;
        const TensorView* v = kit && sft_.open() ? sft_.find("model." + key) : nullptr;
        if (v) ++sft_overrides_;
        if (!v) v = main_.find(key);
        if (!v) throw Error(c_.weights + ": tensor '" + key + "' is missing");
        auto w = to_float(*v);
        if (kit && sft_.open() && is_lora_target(key)) {
            // peft's names under the kit's self.model: language_model.base_model.model.<module>.
            const std::string module = key.substr(std::string("language_model.").size(),
                                                  key.size() - 7 - std::string("language_model.").size());
            // The first of peft's spellings present: with or without the adapter name.
            const TensorView* a = nullptr;
            const TensorView* b = nullptr;
            bool with_default = false;
            for (const char* pre : {"model.language_model.base_model.model.", "language_model.base_model.model."})
                for (const char* suffix : {".default.weight", ".weight"}) {
                    if (a) continue;
                    a = sft_.find(pre + module + ".lora_A" + suffix);
                    b = sft_.find(pre + module + ".lora_B" + suffix);
                    if (!a != !b)
                        throw Error(sft_.file() + ": only one of lora_A / lora_B for '" + module + "'");
                    with_default = a && std::string(suffix) == ".default.weight";
                }
            if (a) {
                if (a->shape.size() != 2 || b->shape.size() != 2 || a->shape[0] != c_.lora_r ||
                    b->shape[1] != c_.lora_r || a->shape[1] != w.size(1) || b->shape[0] != w.size(0))
                    throw Error(sft_.file() + ": LoRA tensors of '" + module + "' do not fit r " +
                                std::to_string(c_.lora_r) + " and the weight's shape " +
                                shape_string(w.sizes().vec()));
                w += (c_.lora_alpha / c_.lora_r) * torch::matmul(to_float(*b), to_float(*a));
                ++lora_pairs_;
                if (!with_default) ++lora_without_default_;
            }
        }
        cached_key_ = key;
        cached_ = w;
        return w;
    }

    const ColvaConfig& c_;
    PthTensors main_, radio_, adapter_, sft_;
    std::string cached_key_;
    torch::Tensor cached_;
    size_t lora_pairs_ = 0, lora_without_default_ = 0, sft_overrides_ = 0;
    uint64_t bytes_ = 0;
};

int64_t colva_parameters(const ColvaConfig& c) {
    const InternVitConfig& v = c.net.vision;
    const int64_t W = v.width, M = v.mlp, g = v.grid(), p = v.patch;
    int64_t vit = W + (g * g + 1) * W + 3 * p * p * W + W;
    vit += v.depth * (4 * W + 3 * W * W + 3 * W + W * W + W + 2 * W + W * M + M + M * W + W);
    const int64_t D = c.net.text.hidden_size;
    const int64_t mlp1 = 2 * 4 * W + 4 * W * D + D + D * D + D;
    const int64_t llm = llama_parameters(c.net.text);
    int64_t radio = 0;
    if (c.net.has_radio) {
        const RadioConfig& r = c.net.radio;
        const int64_t R = r.width, RM = r.mlp;
        radio = 6 + 3 * int64_t(r.patch) * r.patch * R + int64_t(r.pos_grid) * r.pos_grid * R +
                int64_t(r.prefix_tokens) * R + (r.final_norm ? 2 * R : 0);
        radio += r.depth * (4 * R + 3 * R * R + 3 * R + R * R + R + R * RM + RM + RM * R + R);
        radio += 2 * R + R * D + D + D * D + D;  // ot_mlp1
    }
    return vit + mlp1 + llm + radio;
}

const char* description(const ColvaConfig& c) {
    if (c.layout == kLayoutColvaKit)
        return "CoLVA as MMVMEvalKit loads it (InternVL2-4B + LoRA merged at load + RADIO + "
               "ot_mlp1 adapter)";
    if (c.layout == kLayoutColvaHf)
        return "CoLVA (merged HF checkpoint: InternVL2-4B, RADIO region tokens)";
    return "InternVL2 (InternViT tiles, Phi-3; no region tokens)";
}

ColvaConfig read_probe(const FolderProbe& probe) {
    return read_colva_config(probe.config, probe.config_file.string(), probe.dir.string());
}

class ColvaFamily : public ModelFamily {
public:
    Family id() const override { return Family::CoLva; }

    int recognise(const FolderProbe& probe) const override {
        const auto t = probe.config.find("model_type");
        if (t == probe.config.end() || !t->is_string()) return 0;
        return *t == "internvl_chat" || *t == "colva_kit" ? 100 : 0;
    }

    ModelConfig read_config(const FolderProbe& probe) const override {
        const ColvaConfig c = read_probe(probe);
        ModelConfig m;
        m.text = c.net.text;
        m.chat_template = kPhi3Chat;
        m.region_format = "internvl";
        m.layout = c.layout;
        m.warnings = c.warnings;
        return m;
    }

    FamilyPlan plan(const FolderProbe& probe) const override {
        const ColvaConfig c = read_probe(probe);
        check_files(c);
        FamilyPlan plan;
        plan.layout = c.layout;
        plan.layout_description = description(c);
        plan.parameters = colva_parameters(c);
        plan.int8_parameters = llama_linear_parameters(c.net.text);
        plan.warnings = c.warnings;
        const TextConfig& t = c.net.text;
        // A two-image question (MMVM): each image max_tiles + a thumbnail, 256 rows a tile,
        // the text and the kit's 1024 answer tokens; not Phi-3's whole 128k context.
        const int64_t positions = std::min<int64_t>(
            t.max_position_embeddings,
            2 * int64_t(c.max_tiles + (c.thumbnail && c.max_tiles > 1 ? 1 : 0)) * c.tokens_per_tile() + 2048);
        plan.kv_elements = kv_cache_elements(t, positions);
        const uint64_t tiles = uint64_t(c.max_tiles) + 1;
        const uint64_t n = uint64_t(c.net.vision.grid()) * c.net.vision.grid() + 1;
        uint64_t work = 512ull * uint64_t(positions) * t.num_attention_heads;
        work = std::max(work, tiles * n * n * c.net.vision.heads + tiles * n * c.net.vision.mlp);
        if (c.net.has_radio) {
            const uint64_t r = uint64_t(c.net.radio.grid()) * c.net.radio.grid() + c.net.radio.prefix_tokens;
            work = std::max(work, r * r * c.net.radio.heads + r * c.net.radio.mlp);
        }
        plan.working_elements = work + uint64_t(t.vocab_size);
        plan.warnings.push_back("memory planned for " + std::to_string(positions) +
                                " positions: two images of up to " + std::to_string(c.max_tiles) +
                                " tiles + a thumbnail (" + std::to_string(c.tokens_per_tile()) +
                                " rows each), text and answer");
        return plan;
    }

    FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const override {
        const ColvaConfig c = read_probe(probe);
        check_files(c);
        FamilyModel m;
        m.config = read_config(probe);
        m.layout = c.layout;
        m.layout_description = description(c);
        m.warnings = c.warnings;
        const fs::path tok = fs::path(c.tokenizer_dir) / "tokenizer.model";
        m.tokenizer = Tokenizer::load(tok.string());
        m.tokenizer->set_legacy(cfg::tokenizer_legacy(c.tokenizer_dir));
        const TokenizerFiles files = read_tokenizer_files(c.tokenizer_dir);
        int end_id = -1;
        // Special ones are skipped when answers are decoded (the kit's skip_special_tokens).
        for (const bool special : {false, true}) {
            std::vector<std::pair<std::string, int>> added;
            for (const auto& [text, id] : special ? files.special : files.added) {
                if (id >= c.net.text.vocab_size)
                    throw Error(c.tokenizer_dir + ": added token '" + text + "' has id " +
                                std::to_string(id) + " but Phi-3 embeds only " +
                                std::to_string(c.net.text.vocab_size));
                if (text == "<|end|>") end_id = id;
                if (id >= m.tokenizer->vocab_size()) added.emplace_back(text, id);
            }
            m.tokenizer->add_tokens(added, special);
        }
        if (m.tokenizer->vocab_size() > c.net.text.vocab_size)
            throw Error(tok.string() + " has " + std::to_string(m.tokenizer->vocab_size()) +
                        " pieces but Phi-3 embeds only " + std::to_string(c.net.text.vocab_size));
        if (end_id >= 0)
            m.tokenizer->set_eos_id(end_id);  // the kit: eos_token_id = <|end|>
        else
            m.warnings.push_back(c.tokenizer_dir + ": no <|end|> among the added tokens; "
                                                   "answers stop at </s>");
        m.chat_template = std::make_unique<Phi3ChatTemplate>(kInternVlSystem, files.add_bos);
        m.region_format = make_builtin_region_format("internvl");

        Loader loader(c);
        InternVlNet net = build_and_fill<InternVlNet>(
            c.net, ctx, loader.total_bytes(),
            [&](const std::string& name, torch::Tensor& p) { loader.fill(name, p); },
            [&] { return loader.bytes(); });
        for (std::string& w : loader.report()) m.warnings.push_back(std::move(w));
        m.bytes_loaded = loader.bytes();
        m.network = std::make_unique<InternVlNetwork>(net, c, ctx.device, ctx.dtype);
        m.reads_region_text = !c.net.has_radio;
        m.reads_region_tokens = c.net.has_radio;
        return m;
    }

    std::unique_ptr<ChatTemplate> chat_template(const std::string& name,
                                                const std::string& system) const override {
        if (name != kPhi3Chat) return nullptr;
        return std::make_unique<Phi3ChatTemplate>(system.empty() ? kInternVlSystem : system, true);
    }
    std::vector<std::string> chat_template_names() const override { return {kPhi3Chat}; }

private:
    static void check_files(const ColvaConfig& c) {
        std::error_code ec;
        if (!fs::exists(fs::path(c.tokenizer_dir) / "tokenizer.model", ec))
            throw Error(c.tokenizer_dir + " has no tokenizer.model (InternVL2's Phi-3 tokenizer)");
        if (c.layout == kLayoutColvaKit) {
            if (!fs::is_regular_file(c.adapter_file, ec))
                throw Error(c.source + ": radio_pretrained_pth '" + c.adapter_file + "' is not a file");
            if (!c.sft_file.empty() && !fs::is_regular_file(c.sft_file, ec))
                throw Error(c.source + ": pretrained_pth '" + c.sft_file + "' is not a file");
        }
    }
};

}  // namespace

const ModelFamily& colva_family() {
    static const ColvaFamily family;
    return family;
}

}  // namespace rc
