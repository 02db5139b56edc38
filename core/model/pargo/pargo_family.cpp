// The ParGo family: recognised by ParGo's own config json (num_query_token and
// num_local_query_token); the checkpoint file it names (ckpt) holds the ViT, ln_vision, the
// projector, the queries, llm_proj and the LoRA of InternLM2's wqkv under PEFT's names; the
// InternLM2 folder (llm_model) holds the base LLM and the tokenizer; the BERT folder
// (bert_type) the projector's shape. The LoRA is merged at load (W + alpha/r * B A), wqkv is
// split into LLaMA's q/k/v, and every tensor is accounted for: missing ones are errors, unused
// ones and the LoRA merge count are reported.
#include <algorithm>
#include <fstream>
#include <set>

#include "io/config_reader.h"
#include "model/family.h"
#include "model/pargo/pargo.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

// ParGo's prompt: prompt_template's text before <ImageHere>, the image, the text up to {}, the
// question, the rest; later turns continue "USER: ... ASSISTANT: " as vicuna does (ParGo has no
// multi-turn prompt of its own).
class ParGoTemplate : public ChatTemplate {
public:
    explicit ParGoTemplate(const std::string& t) {
        const size_t img = t.find("<ImageHere>");
        const size_t q = t.find("{}", img);
        before_image_ = t.substr(0, img);
        before_question_ = t.substr(img + 11, q - img - 11);
        after_question_ = t.substr(q + 2);
    }
    std::string name() const override { return kParGoName; }
    std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const override {
        std::vector<PromptPiece> out;
        std::string pending;
        auto flush = [&] {
            if (!pending.empty()) out.push_back({PromptPiece::Kind::Text, pending, false});
            pending.clear();
        };
        out.push_back({PromptPiece::Kind::Bos, {}, false});
        bool first = true;
        for (const ChatMessage& m : messages) {
            if (m.role == ChatMessage::Role::User) {
                std::string q = m.text, images;
                static const std::string kMarker = "<image>";
                for (size_t at; (at = q.find(kMarker)) != std::string::npos;) {
                    images += kMarker;
                    size_t end = at + kMarker.size();
                    if (end < q.size() && q[end] == '\n') ++end;
                    q.erase(at, end - at);
                }
                if (first)
                    pending += before_image_ + images + before_question_ + q + after_question_;
                else
                    pending += "USER: " + images + q + after_question_;
                first = false;
                continue;
            }
            flush();
            out.push_back({PromptPiece::Kind::Text, m.text, true});
            out.push_back({PromptPiece::Kind::Eos, {}, true});
        }
        flush();
        return out;
    }

private:
    std::string before_image_, before_question_, after_question_;
};

// The checkpoint's top-level layout (ParGo's load_fusion_model accepts four).
struct CkptLayout {
    std::string prefix;  // "", "state_dict.", "module.", "model."
    std::string description;
};

CkptLayout detect_layout(const SafetensorsArchive& a, const std::string& file) {
    size_t counts[4] = {0, 0, 0, 0};
    static const char* const kPrefix[] = {"", "state_dict.", "module.", "model."};
    for (const std::string& n : a.names())
        for (int i = 0; i < 4; ++i)
            if (n.rfind(std::string(kPrefix[i]) + "visual_encoder.", 0) == 0 ||
                n.rfind(std::string(kPrefix[i]) + "llm_proj.", 0) == 0)
                ++counts[i];
    const int best = int(std::max_element(counts, counts + 4) - counts);
    if (counts[best] == 0)
        throw Error(file + ": no visual_encoder.* or llm_proj.* tensors: not a ParGo checkpoint");
    static const char* const kDesc[] = {"a plain state dict", "Lightning's {\"state_dict\": ...}",
                                        "DeepSpeed's module.* names", "{\"model\": ...}"};
    return {kPrefix[best], kDesc[best]};
}

// InternLM2's HF key for a parameter of our LLaMA (empty for none), and whether it is one of
// q/k/v (which come from wqkv).
std::string internlm2_key(const std::string& name, int* qkv) {
    *qkv = -1;
    auto replace = [](std::string s, const std::string& a, const std::string& b) {
        const size_t at = s.find(a);
        return at == std::string::npos ? std::string() : s.replace(at, a.size(), b);
    };
    static const std::string kPrefix = "language_model.";
    if (name.rfind(kPrefix, 0) != 0) return {};
    const std::string n = name.substr(kPrefix.size());
    if (n == "model.embed_tokens.weight") return "model.tok_embeddings.weight";
    if (n == "model.norm.weight") return n;
    if (n == "lm_head.weight") return "output.weight";
    static const std::pair<const char*, const char*> kMap[] = {
        {"self_attn.o_proj.", "attention.wo."},
        {"mlp.gate_proj.", "feed_forward.w1."},
        {"mlp.up_proj.", "feed_forward.w3."},
        {"mlp.down_proj.", "feed_forward.w2."},
        {"input_layernorm.", "attention_norm."},
        {"post_attention_layernorm.", "ffn_norm."}};
    for (const auto& [ours, theirs] : kMap)
        if (auto k = replace(n, ours, theirs); !k.empty()) return k;
    static const char* const kQkv[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
    for (int i = 0; i < 3; ++i)
        if (auto k = replace(n, kQkv[i], "attention.wqkv."); !k.empty()) {
            *qkv = i;
            return k;
        }
    return {};
}

torch::Tensor to_float(const TensorView& v) {
    auto t = torch::empty(v.shape, torch::kFloat32);
    copy_view_into(v, t);
    return t;
}

class Loader {
public:
    Loader(const ParGoConfig& c, const SafetensorsArchive& ckpt, const SafetensorsArchive& llm,
           const CkptLayout& layout)
        : c_(c), ckpt_(ckpt), llm_(llm), layout_(layout) {}

    const TensorView* from_ckpt(const std::string& key) {
        const TensorView* v = ckpt_.find(layout_.prefix + key);
        if (v) used_ckpt_.insert(v->name);
        return v;
    }

    // The checkpoint's PEFT name of an InternLM2 key: its module path (the key without
    // ".weight") under MiniGPT_v2's llm_model, with `suffix` (".weight", ".lora_A.default.weight").
    static std::string peft_key(const std::string& key, const std::string& suffix) {
        static const std::string kWeight = ".weight";
        const bool weight = key.size() > kWeight.size() &&
                            key.compare(key.size() - kWeight.size(), kWeight.size(), kWeight) == 0;
        return "llm_model.base_model.model." +
               (weight ? key.substr(0, key.size() - kWeight.size()) : key) + suffix;
    }

    // An LLM tensor: the checkpoint's (PEFT names, peft < 0.7 or >= 0.7) over the InternLM2
    // folder's.
    const TensorView* llm_tensor(const std::string& key) {
        if (const TensorView* v = from_ckpt(peft_key(key, ".weight"))) return v;
        if (const TensorView* v = from_ckpt(peft_key(key, ".base_layer.weight"))) return v;
        const TensorView* v = llm_.find(key);
        if (v) used_llm_.insert(v->name);
        return v;
    }

    // wqkv of a layer with its LoRA merged, in fp32 (cached for the three of q/k/v).
    torch::Tensor wqkv(const std::string& key) {
        if (key == cached_key_) return cached_;
        const TensorView* v = llm_tensor(key);
        if (!v) throw Error(c_.llm_dir + ": tensor '" + key + "' is missing (InternLM2's fused wqkv)");
        auto w = to_float(*v);
        release(*v);
        const TensorView* a = from_ckpt(peft_key(key, ".lora_A.default.weight"));
        const TensorView* b = from_ckpt(peft_key(key, ".lora_B.default.weight"));
        if (a && b) {
            if (a->shape.size() != 2 || b->shape.size() != 2 || a->shape[0] != c_.lora_r ||
                b->shape[1] != c_.lora_r || a->shape[1] != w.size(1) || b->shape[0] != w.size(0))
                throw Error(c_.ckpt_file + ": LoRA tensors of '" + key + "' do not fit r " +
                            std::to_string(c_.lora_r) + " and the weight's shape");
            w += (c_.lora_alpha / c_.lora_r) * torch::matmul(to_float(*b), to_float(*a));
            ++merged_;
        } else if (a || b) {
            throw Error(c_.ckpt_file + ": only one of lora_A / lora_B for '" + key + "'");
        }
        ++wqkv_layers_;
        cached_key_ = key;
        cached_ = w;
        return w;
    }

    // Fills one parameter of the network.
    void fill(const std::string& name, torch::Tensor& param) {
        int qkv = -1;
        const std::string llm_key = internlm2_key(name, &qkv);
        if (qkv >= 0) {
            const auto& t = c_.text;
            const int64_t d = t.hidden_size / t.num_attention_heads;
            const int64_t kv = t.num_key_value_heads, g = t.num_attention_heads / kv;
            auto w = wqkv(llm_key);
            if (w.size(0) != kv * (g + 2) * d || w.size(1) != t.hidden_size)
                throw Error(c_.llm_dir + ": '" + llm_key + "' has shape [" +
                            std::to_string(w.size(0)) + ", " + std::to_string(w.size(1)) +
                            "], not the [" + std::to_string(kv * (g + 2) * d) + ", " +
                            std::to_string(t.hidden_size) + "] of the config's heads");
            // Rows per KV group: g query heads, then the key, then the value.
            auto groups = w.view({kv, g + 2, d, t.hidden_size});
            torch::Tensor part = qkv == 0   ? groups.narrow(1, 0, g).reshape({kv * g * d, t.hidden_size})
                                 : qkv == 1 ? groups.select(1, g).reshape({kv * d, t.hidden_size})
                                            : groups.select(1, g + 1).reshape({kv * d, t.hidden_size});
            param.copy_(part);
            bytes_ += uint64_t(part.numel()) * 4 / 3;
            return;
        }
        const TensorView* v = llm_key.empty() ? from_ckpt(name) : llm_tensor(llm_key);
        if (!v)
            throw Error((llm_key.empty() ? c_.ckpt_file : c_.llm_dir) + ": tensor '" +
                        (llm_key.empty() ? name : llm_key) + "' is missing");
        if (v->shape != param.sizes().vec()) {
            std::string want, got;
            for (auto s : param.sizes()) want += (want.empty() ? "" : ", ") + std::to_string(s);
            for (auto s : v->shape) got += (got.empty() ? "" : ", ") + std::to_string(s);
            throw Error(v->file + ": tensor '" + v->name + "' has shape [" + got + "], expected [" +
                        want + "]");
        }
        copy_view_into(*v, param);
        bytes_ += v->nbytes;
        release(*v);
    }

    // The copied tensor's pages of the memory-mapped file go back to the system, so the host
    // holds about one copy of the weights (as the LLaVA loader does).
    void release(const TensorView& v) const {
        if (ckpt_.find(v.name) == &v) ckpt_.release(v);
        else if (llm_.find(v.name) == &v) llm_.release(v);
    }

    std::vector<std::string> report() const {
        std::vector<std::string> w;
        if (!c_.lora_targets.empty() && merged_ == 0)
            w.push_back(c_.ckpt_file + ": no LoRA tensors for wqkv were found: InternLM2 runs "
                        "without ParGo's LoRA (answers will not be ParGo's)");
        else if (merged_ < wqkv_layers_)
            w.push_back("LoRA merged into " + std::to_string(merged_) + " of " +
                        std::to_string(wqkv_layers_) + " wqkv layers");
        size_t unused = 0;
        std::string examples;
        for (const std::string& n : ckpt_.names()) {
            if (used_ckpt_.count(n)) continue;
            // EVA's RoPE tables (recomputed) and BERT's position ids are buffers, not weights;
            // EVA's final norm and CLIP head are in the release but unused (ParGo takes every
            // token of the last block, return_all_features).
            if (n.find("rope.freqs_") != std::string::npos || n.find("position_ids") != std::string::npos ||
                n.find("visual_encoder.norm.") != std::string::npos ||
                n.find("visual_encoder.head.") != std::string::npos)
                continue;
            if (n.find(".lora_") != std::string::npos && merged_ > 0) continue;
            ++unused;
            if (unused <= 5) examples += (examples.empty() ? "" : ", ") + n;
        }
        if (unused)
            w.push_back(c_.ckpt_file + ": " + std::to_string(unused) + " tensors not used (" +
                        examples + (unused > 5 ? ", ..." : "") + ")");
        return w;
    }
    size_t merged() const { return merged_; }
    uint64_t bytes() const { return bytes_; }

private:
    const ParGoConfig& c_;
    const SafetensorsArchive& ckpt_;
    const SafetensorsArchive& llm_;
    CkptLayout layout_;
    std::set<std::string> used_ckpt_, used_llm_;
    std::string cached_key_;
    torch::Tensor cached_;
    size_t merged_ = 0, wqkv_layers_ = 0;
    uint64_t bytes_ = 0;
};

int64_t pargo_parameters(const ParGoConfig& c) {
    const int64_t W = c.vision_width, M = c.vision_mlp, g = c.image_size / c.patch_size;
    int64_t eva = W + (g * g + 1) * W + 3 * c.patch_size * c.patch_size * W + W;
    eva += c.vision_depth * (4 * W + 3 * W * W + 2 * W + 2 * W + W * W + W + 2 * (W * M + M) +
                             2 * M + M * W + W);
    const int64_t H = c.bert_hidden, I = c.bert_intermediate;
    int64_t bert = c.bert_max_positions * H + 2 * H;
    bert += c.bert_layers * (4 * (H * H + H) + 2 * H + (H * H + H) + 2 * (W * H + H) +
                             (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H);
    const int64_t D = c.text.hidden_size;
    return eva + 2 * W + bert + int64_t(c.num_query) * H + H * D + D + llama_parameters(c.text);
}

const char* const kDescription = "ParGo (checkpoint over InternLM2, LoRA merged)";

class ParGoFamily : public ModelFamily {
public:
    Family id() const override { return Family::ParGo; }

    int recognise(const FolderProbe& probe) const override {
        const auto& j = probe.config;
        return j.contains("num_query_token") && j.contains("num_local_query_token") ? 100 : 0;
    }

    ModelConfig read_config(const FolderProbe& probe) const override {
        // The engine's view: the language model and the defaults the app shows.
        const ParGoConfig p = read_pargo_config(probe.config, probe.config_file.string(),
                                                probe.dir.string());
        ModelConfig m;
        m.text = p.text;
        m.chat_template = kParGoName;
        m.region_format = "pixels";
        m.layout = kLayoutParGo;
        m.warnings = p.warnings;
        return m;
    }

    FamilyPlan plan(const FolderProbe& probe) const override {
        const ParGoConfig c = read_pargo_config(probe.config, probe.config_file.string(),
                                                probe.dir.string());
        std::error_code ec;
        if (!fs::is_regular_file(c.ckpt_file, ec))
            throw Error(c.source + ": ckpt '" + c.ckpt_file + "' is not a file");
        if (!fs::exists(fs::path(c.llm_dir) / "tokenizer.model", ec))
            throw Error(c.llm_dir + " has no tokenizer.model (InternLM2's)");
        FamilyPlan plan;
        plan.layout = kLayoutParGo;
        plan.layout_description = kDescription;
        plan.parameters = pargo_parameters(c);
        plan.int8_parameters = llama_linear_parameters(c.text);
        plan.warnings = c.warnings;
        const auto& t = c.text;
        plan.kv_elements = kv_cache_elements(t, t.max_position_embeddings);
        // The session prefills in chunks of 512 positions and takes one row of logits: the
        // attention scores of one chunk against the whole context, fp32 (InternLM2's 32768
        // positions make a whole-context square 150 GB, which nothing ever allocates).
        plan.working_elements =
            512ull * uint64_t(t.max_position_embeddings) * t.num_attention_heads + t.vocab_size;
        return plan;
    }

    FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const override {
        const ParGoConfig c = read_pargo_config(probe.config, probe.config_file.string(),
                                                probe.dir.string());
        FamilyModel m;
        m.config = read_config(probe);
        m.layout = kLayoutParGo;
        m.layout_description = kDescription;
        m.warnings = c.warnings;
        const fs::path tok = fs::path(c.llm_dir) / "tokenizer.model";
        m.tokenizer = Tokenizer::load(tok.string());
        m.tokenizer->set_legacy(cfg::tokenizer_legacy(c.llm_dir));
        if (m.tokenizer->vocab_size() > c.text.vocab_size)
            throw Error(tok.string() + " has " + std::to_string(m.tokenizer->vocab_size()) +
                        " tokens but InternLM2 embeds only " + std::to_string(c.text.vocab_size));
        m.chat_template = std::make_unique<ParGoTemplate>(c.prompt_template);
        m.region_format = make_builtin_region_format("pixels");

        std::error_code ec;
        if (!fs::is_regular_file(c.ckpt_file, ec))
            throw Error(c.source + ": ckpt '" + c.ckpt_file + "' is not a file");
        auto ckpt = SafetensorsArchive::open(c.ckpt_file);
        auto llm = SafetensorsArchive::open(c.llm_dir);
        const CkptLayout layout = detect_layout(*ckpt, c.ckpt_file);
        if (!layout.prefix.empty())
            m.warnings.push_back(c.ckpt_file + " is " + layout.description);

        Loader loader(c, *ckpt, *llm, layout);
        ParGoNet net = build_and_fill<ParGoNet>(
            c, ctx, ckpt->total_bytes() + llm->total_bytes(),
            [&](const std::string& name, torch::Tensor& p) { loader.fill(name, p); },
            [&] { return loader.bytes(); });
        for (std::string& w : loader.report()) m.warnings.push_back(std::move(w));
        m.bytes_loaded = loader.bytes();
        m.network = std::make_unique<ParGoNetwork>(net, ctx.device, ctx.dtype);
        m.beam_length_offset = 1;  // generate(inputs_embeds=...) starts input_ids with BOS
        // ParGo was trained on no region coordinates: regions are drawn on the image.
        m.reads_region_text = false;
        // eval_mme_finetuning.py: split('[/INST]')[-1].strip(), split('###')[0].strip() (the
        // cut at </s> and the <s> removal are the engine's end-of-sequence and decoding).
        m.answer_after = "[/INST]";
        m.answer_before = "###";
        m.template_asks_yes_no =
            c.prompt_template.find("single word(Yes or No)") != std::string::npos;
        return m;
    }

    std::unique_ptr<ChatTemplate> chat_template(const std::string& name,
                                                const std::string&) const override {
        // ParGo's template lives in its config (prompt_template); by name only its default.
        if (name != kParGoName) return nullptr;
        return std::make_unique<ParGoTemplate>(
            "A chat between a curious user and an artificial intelligence assistant. The "
            "assistant gives helpful, detailed, and polite answers to the user's questions. "
            "USER: <Img><ImageHere></Img> {}\nAnswer the question using a single word(Yes or "
            "No)\nASSISTANT: ");
    }
    std::vector<std::string> chat_template_names() const override { return {kParGoName}; }
};

}  // namespace

const ModelFamily& pargo_family() {
    static const ParGoFamily family;
    return family;
}

}  // namespace rc
