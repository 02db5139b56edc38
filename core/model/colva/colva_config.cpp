// CoLVA's and InternVL2's config.json (all three layouts), the folders they name and the
// tokenizer's added-token files: no LibTorch here, so tests/fuzz/ reads hostile configs
// through the same code.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "io/config_reader.h"
#include "model/colva/colva_config.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

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
    const std::string type = cfg::Section(root, source, "").string("model_type", "");
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

// ---- tokenizer ----

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

}  // namespace rc
