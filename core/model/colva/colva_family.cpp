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

const char* const kLayoutInternVl = "internvl-hf";
const char* const kLayoutColvaHf = "colva-hf";
const char* const kLayoutColvaKit = "colva-kit";
const char* const kPhi3Chat = "phi3-chat";
// InternVL's conversation.py default system message for phi3-chat (the kit never sets one).
const char* const kInternVlSystem =
    "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。";

// ---- config ----

void read_internvit(cfg::Section s, InternVitConfig* v, std::vector<std::string>* warnings) {
    v->width = s.integer("hidden_size", 1024);
    v->depth = s.integer("num_hidden_layers", 24);
    v->heads = s.integer("num_attention_heads", 16);
    v->mlp = s.integer("intermediate_size", 4096);
    v->patch = s.integer("patch_size", 14);
    v->image_size = s.integer("image_size", 448);
    v->eps = s.number("layer_norm_eps", 1e-6);
    if (!s.boolean("qkv_bias", true)) s.fail("qkv_bias", "false is not supported (InternViT-300M has biases)");
    if (s.boolean("qk_normalization", false))
        s.fail("qk_normalization", "true is not supported (InternViT-6B's; the 300M tower has none)");
    s.choice("norm_type", "layer_norm", {"layer_norm"});
    s.choice("hidden_act", "gelu", {"gelu"});
    s.range("hidden_size", v->width, 1, 16384);
    s.range("num_hidden_layers", v->depth, 1, 256);
    s.range("num_attention_heads", v->heads, 1, v->width);
    s.range("intermediate_size", v->mlp, 1, 1 << 20);
    s.range("patch_size", v->patch, 1, 1024);
    s.range("image_size", v->image_size, v->patch, 8192);
    s.positive("layer_norm_eps", v->eps);
    if (v->width % v->heads != 0) s.fail("hidden_size", "is not divisible by num_attention_heads");
    if (v->image_size % v->patch != 0 || v->grid() % 2 != 0)
        s.fail("image_size", "must be an even number of patches (pixel shuffle 0.5)");
    s.warn_unknown({"model_type", "num_channels", "drop_path_rate", "dropout", "attention_dropout",
                    "initializer_range", "initializer_factor", "use_flash_attn", "architectures",
                    "auto_map"},
                   warnings);
}

// Phi-3's config (InternVL2-4B's llm_config; its remote code's 'su' rope_scaling is
// transformers' 'longrope').
void read_phi3(cfg::Section s, TextConfig* t, std::vector<std::string>* warnings) {
    const std::string type = s.string("model_type", "phi3");
    if (type != "phi3")
        s.fail("model_type", "'" + type + "' is not supported (RegionChat runs InternVL2 with "
                             "Phi-3, i.e. InternVL2-4B and CoLVA)");
    // Phi3Config's defaults.
    cfg::TextDefaults d;
    d.vocab_size = 32064;
    d.hidden_size = 3072;
    d.intermediate_size = 8192;
    d.max_position_embeddings = 4096;
    d.rms_norm_eps = 1e-5;
    cfg::read_text_sizes(s, t, d);
    const int original = s.integer("original_max_position_embeddings", t->max_position_embeddings);
    t->hidden_act = s.choice("hidden_act", "silu", {"silu"});
    t->tie_word_embeddings = s.boolean("tie_word_embeddings", false);
    const int none = -1;
    t->bos_token_id = s.integer("bos_token_id", 1, &none);
    t->eos_token_id = s.integer("eos_token_id", 32000, &none);
    t->pad_token_id = s.integer("pad_token_id", 32000, &none);
    if (s.boolean("attention_bias", false)) s.fail("attention_bias", "true is not supported");
    cfg::check_text_sizes(s, *t);
    s.range("original_max_position_embeddings", original, 1, t->max_position_embeddings);
    const int half = t->hidden_size / t->num_attention_heads / 2;
    // rope_scaling (InternVL's remote code) or transformers 5's rope_parameters.
    const cfg::json* rs = s.find("rope_scaling");
    const char* key = "rope_scaling";
    if (!rs || rs->is_null()) {
        rs = s.find("rope_parameters");
        key = "rope_parameters";
    }
    if (rs && !rs->is_null()) {
        if (!rs->is_object()) s.fail(key, "must be an object");
        std::string kind;
        for (const char* k : {"type", "rope_type"})
            if (auto it = rs->find(k); it != rs->end() && it->is_string()) kind = it->get<std::string>();
        if (auto it = rs->find("rope_theta"); it != rs->end() && it->is_number())
            t->rope_theta = it->get<double>();
        if (kind == "su" || kind == "longrope") {
            auto factors = [&](const char* name) {
                const auto it = rs->find(name);
                if (it == rs->end() || !it->is_array() || int(it->size()) != half)
                    s.fail(key, std::string(name) + " must be a list of " + std::to_string(half) +
                                    " numbers (head size / 2)");
                std::vector<double> out;
                for (const auto& x : *it) {
                    if (!x.is_number() || !(x.get<double>() > 0))
                        s.fail(key, std::string(name) + " must hold positive numbers");
                    out.push_back(x.get<double>());
                }
                return out;
            };
            t->rope_short_factor = factors("short_factor");
            t->rope_long_factor = factors("long_factor");
            int orig = original;
            if (auto it = rs->find("original_max_position_embeddings"); it != rs->end() && it->is_number_integer())
                orig = it->get<int>();
            if (orig < 1 || orig > t->max_position_embeddings)
                s.fail(key, "original_max_position_embeddings is out of range");
            t->rope_original_max = orig;
            const double scale = double(t->max_position_embeddings) / orig;
            t->rope_attention_factor =
                scale <= 1.0 ? 1.0 : std::sqrt(1 + std::log(scale) / std::log(double(orig)));
            if (auto it = rs->find("attention_factor"); it != rs->end() && it->is_number())
                t->rope_attention_factor = it->get<double>();
        } else if (!kind.empty() && kind != "default") {
            s.fail(key, "type '" + kind + "' is not supported (Phi-3's su/longrope only)");
        }
    }
    if (s.present("sliding_window")) {
        const int w = s.integer("sliding_window", 0);
        if (w > 0 && w < t->max_position_embeddings)
            warnings->push_back(s.source() + ": " + s.key_path("sliding_window") + " " +
                                std::to_string(w) + " is not applied (full attention over the "
                                "whole context, as transformers without flash attention does)");
    }
    s.warn_unknown({"architectures", "auto_map", "attention_dropout", "embd_pdrop", "resid_pdrop",
                    "initializer_range", "use_cache", "torch_dtype", "transformers_version",
                    "_name_or_path", "rope_scaling", "rope_parameters", "attn_implementation",
                    "dtype", "partial_rotary_factor"},
                   warnings);
}

// The RADIO config (nvidia/RADIO's config.json or CoLVA's radio_config): its timm model and
// CPE settings; `regionchat.radio` may give the sizes of a small test model.
void read_radio(const cfg::json& obj, const std::string& source, const std::string& prefix,
                RadioConfig* r, std::vector<std::string>* warnings) {
    cfg::Section s(obj, source, prefix);
    r->patch = s.integer("patch_size", 16);
    s.integer("max_resolution", 2048);
    const cfg::json* args = s.object("args", true);
    cfg::Section a(*args, source, prefix + "args.");
    const std::string model = a.string("model", "vit_huge_patch16_224");
    struct Size {
        const char* name;
        int width, depth, heads;
    };
    static const Size kSizes[] = {{"vit_huge_patch16_224", 1280, 32, 16},
                                  {"vit_large_patch16_224", 1024, 24, 16},
                                  {"vit_base_patch16_224", 768, 12, 12}};
    bool known = false;
    for (const Size& z : kSizes)
        if (model == z.name) {
            r->width = z.width;
            r->depth = z.depth;
            r->heads = z.heads;
            r->mlp = 4 * z.width;
            known = true;
        }
    if (!known)
        a.fail("model", "'" + model + "' is not supported (RADIO v2.1's vit_huge_patch16_224, or "
                        "vit_large/vit_base_patch16_224)");
    const int cpe = a.integer("cpe_max_size", 2048);
    a.range("cpe_max_size", cpe, r->patch, 16384);
    r->pos_grid = (cpe + r->patch / 2) / r->patch;  // int(round(size / patch)) * patch / patch
    int cls = 1;
    if (a.boolean("cls_token_per_teacher", false)) {
        const cfg::json* t = a.find("teachers");
        if (!t || !t->is_array() || t->empty()) a.fail("teachers", "must be a non-empty list");
        cls = int(t->size());
    }
    const int reg = a.integer("register_multiple", 0);
    a.range("register_multiple", reg, 0, 1024);
    r->prefix_tokens = cls + (reg > 0 ? reg - cls % reg : 0);
    r->final_norm = a.boolean("model_norm", false);
    if (a.boolean("spectral_reparam", false))
        a.fail("spectral_reparam", "true is not supported (a deployed RADIO has it folded away)");
    if (const cfg::json* rc_obj = s.object("regionchat", false)) {
        cfg::Section t(*rc_obj, source, prefix + "regionchat.");
        r->width = t.integer("width", r->width);
        r->depth = t.integer("depth", r->depth);
        r->heads = t.integer("heads", r->heads);
        r->mlp = t.integer("mlp", r->mlp);
        r->canvas = t.integer("canvas", r->canvas);
        t.range("width", r->width, 1, 16384);
        t.range("depth", r->depth, 1, 256);
        t.range("heads", r->heads, 1, r->width);
        t.range("mlp", r->mlp, 1, 1 << 20);
        t.range("canvas", r->canvas, r->patch, 8192);
        if (r->width % r->heads != 0) t.fail("heads", "must divide width");
        if (r->canvas % r->patch != 0) t.fail("canvas", "must be a multiple of the patch size");
    }
    (void)warnings;
}

void read_internvl_chat(const cfg::json& root, const std::string& source, ColvaConfig* c) {
    cfg::Section s(root, source, "");
    const std::string type = s.string("model_type", "");
    if (type != "internvl_chat")
        s.fail("model_type", "'" + type + "' is not InternVL2's internvl_chat");
    const cfg::json* vision = s.object("vision_config", true);
    read_internvit(cfg::Section(*vision, source, "vision_config."), &c->net.vision, &c->warnings);
    const cfg::json* llm = s.object("llm_config", true);
    read_phi3(cfg::Section(*llm, source, "llm_config."), &c->net.text, &c->warnings);
    if (s.number("downsample_ratio", 0.5) != 0.5)
        s.fail("downsample_ratio", "must be 0.5 (InternVL2's pixel shuffle)");
    s.choice("ps_version", "v2", {"v2"});
    if (s.integer("select_layer", -1) != -1) s.fail("select_layer", "must be -1 (the last layer)");
    c->template_name = s.choice("template", kPhi3Chat, {kPhi3Chat});
    c->tile = s.integer("force_image_size", c->net.vision.image_size);
    if (c->tile != c->net.vision.image_size)
        s.fail("force_image_size", "must equal vision_config.image_size");
    const bool dynamic = s.boolean("dynamic_image_size", true);
    c->max_tiles = dynamic ? s.integer("max_dynamic_patch", 12) : 1;
    s.range("max_dynamic_patch", c->max_tiles, 1, 40);
    if (s.integer("min_dynamic_patch", 1) != 1) s.fail("min_dynamic_patch", "must be 1");
    c->thumbnail = s.boolean("use_thumbnail", true);
    if (s.integer("use_backbone_lora", 0) != 0 || s.integer("use_llm_lora", 0) != 0)
        c->warnings.push_back(source + ": use_backbone_lora / use_llm_lora are set; the weights "
                                       "are read as merged (InternVL's own LoRA is not applied)");
    if (const cfg::json* radio = s.object("radio_config", false)) {
        c->net.has_radio = true;
        read_radio(*radio, source, "radio_config.", &c->net.radio, &c->warnings);
    }
}

// The "regionchat" object: the tiling's max_tiles (the kit uses 6, the demo 12).
void read_overrides(const cfg::json& root, const std::string& source, ColvaConfig* c) {
    const auto it = root.find("regionchat");
    if (it == root.end()) return;
    if (!it->is_object()) throw Error(source + ": regionchat must be an object");
    cfg::Section r(*it, source, "regionchat.");
    c->max_tiles = r.integer("max_tiles", c->max_tiles);
    r.range("max_tiles", c->max_tiles, 1, 40);
}

}  // namespace

ColvaConfig read_colva_config(const nlohmann::json& root, const std::string& source,
                              const std::string& folder) {
    ColvaConfig c;
    c.source = source;
    const std::string type = root.value("model_type", std::string());
    if (type == "colva_kit") {
        c.layout = kLayoutColvaKit;
        cfg::Section s(root, source, "");
        s.string("model_type", "");
        const std::string base = s.string("model_path", "");
        if (base.empty()) s.fail("model_path", "must name the InternVL2-4B folder");
        c.weights = cfg::resolve_path(folder, base);
        c.tokenizer_dir = c.weights;
        const fs::path base_cfg = fs::path(c.weights) / "config.json";
        std::error_code ec;
        if (!fs::is_regular_file(base_cfg, ec))
            throw Error(source + ": model_path '" + c.weights + "' has no config.json");
        const auto base_root = cfg::parse_json_object(cfg::read_config_text(base_cfg), base_cfg.string());
        read_internvl_chat(base_root, base_cfg.string(), &c);
        const std::string radio = s.string("radio_path", "");
        if (radio.empty()) s.fail("radio_path", "must name the RADIO folder (nvidia/RADIO)");
        c.radio_dir = cfg::resolve_path(folder, radio);
        const fs::path radio_cfg = fs::path(c.radio_dir) / "config.json";
        if (!fs::is_regular_file(radio_cfg, ec))
            throw Error(source + ": radio_path '" + c.radio_dir + "' has no config.json");
        c.net.has_radio = true;
        read_radio(cfg::parse_json_object(cfg::read_config_text(radio_cfg), radio_cfg.string()),
                   radio_cfg.string(), "", &c.net.radio, &c.warnings);
        const std::string sft = s.string("pretrained_pth", "");
        if (!sft.empty()) c.sft_file = cfg::resolve_path(folder, sft);
        const std::string adapter = s.string("radio_pretrained_pth", "");
        if (adapter.empty()) s.fail("radio_pretrained_pth", "must name the adapter .pth (ot_mlp1)");
        c.adapter_file = cfg::resolve_path(folder, adapter);
        c.lora_r = s.integer("lora_r", 128);
        c.lora_alpha = s.number("lora_alpha", 256);
        s.range("lora_r", c.lora_r, 1, 65536);
        s.positive("lora_alpha", c.lora_alpha);
        // The kit evaluates MMVM with load_image(max_num=6).
        c.max_tiles = 6;
        read_overrides(root, source, &c);
        s.warn_unknown({"regionchat", "lora_dropout"}, &c.warnings);
        return c;
    }
    read_internvl_chat(root, source, &c);
    c.weights = folder;
    c.tokenizer_dir = folder;
    c.layout = c.net.has_radio ? kLayoutColvaHf : kLayoutInternVl;
    if (c.net.has_radio) c.max_tiles = 6;  // the kit's MMVM setting (the demo uses 12)
    read_overrides(root, source, &c);
    return c;
}

namespace {

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

// ---- tokenizer ----

struct TokenizerFiles {
    std::vector<std::pair<std::string, int>> added, special;
    bool add_bos = true;
};

TokenizerFiles read_tokenizer_files(const std::string& dir) {
    TokenizerFiles t;
    std::error_code ec;
    const fs::path cfg_file = fs::path(dir) / "tokenizer_config.json";
    if (fs::is_regular_file(cfg_file, ec)) {
        const auto j = cfg::parse_json_object(cfg::read_config_text(cfg_file), cfg_file.string());
        cfg::Section s(j, cfg_file.string(), "");
        t.add_bos = s.boolean("add_bos_token", true);
        if (const cfg::json* dec = s.object("added_tokens_decoder", false))
            for (auto it = dec->begin(); it != dec->end(); ++it) {
                char* end = nullptr;
                const long id = std::strtol(it.key().c_str(), &end, 10);
                if (!end || *end || id < 0 || id > 10000000 || !it->is_object() ||
                    !it->contains("content") || !(*it)["content"].is_string())
                    throw Error(cfg_file.string() + ": added_tokens_decoder entry '" + it.key() +
                                "' is not {id: {\"content\": ...}}");
                const bool special = it->contains("special") && (*it)["special"].is_boolean() &&
                                     (*it)["special"].get<bool>();
                (special ? t.special : t.added).emplace_back((*it)["content"].get<std::string>(), int(id));
            }
    }
    const fs::path added_file = fs::path(dir) / "added_tokens.json";
    if (t.added.empty() && t.special.empty() && fs::is_regular_file(added_file, ec)) {
        const auto j = cfg::parse_json_object(cfg::read_config_text(added_file), added_file.string());
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 10000000)
                throw Error(added_file.string() + ": '" + it.key() + "' must map to a token id");
            t.added.emplace_back(it.key(), int(it->get<int64_t>()));
        }
    }
    return t;
}

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
