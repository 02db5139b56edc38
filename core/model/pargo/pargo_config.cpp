// ParGo's config json and the folders it names (InternLM2's config.json, the BERT's): no
// LibTorch here, so tests/fuzz/ reads hostile configs through the same code.
#include <algorithm>
#include <fstream>
#include <set>

#include "io/config_reader.h"
#include "model/pargo/pargo_config.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;


namespace {

// InternLM2's config.json (the HF remote code's InternLM2Config) as a LLaMA TextConfig.
void read_internlm2(const std::string& dir, ParGoConfig* c) {
    const fs::path file = fs::path(dir) / "config.json";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        throw Error(c->source + ": llm_model '" + dir + "' has no config.json (InternLM2's folder)");
    const auto root = cfg::parse_json_object(cfg::read_config_text(file), file.string());
    cfg::Section s(root, file.string(), "");
    const std::string type = s.string("model_type", "internlm2");
    if (type != "internlm2") s.fail("model_type", "'" + type + "' is not InternLM2");
    TextConfig& t = c->text;
    cfg::TextDefaults d;  // InternLM2Config's
    d.vocab_size = 92544;
    d.intermediate_size = 14336;
    d.max_position_embeddings = 32768;
    d.rms_norm_eps = 1e-5;
    d.rope_theta = 1000000.0;
    cfg::read_text_sizes(s, &t, d);
    t.hidden_act = s.choice("hidden_act", "silu", {"silu"});
    t.tie_word_embeddings = s.boolean("tie_word_embeddings", false);
    const int none = -1;
    t.bos_token_id = s.integer("bos_token_id", 1, &none);
    t.eos_token_id = s.integer("eos_token_id", 2, &none);
    t.pad_token_id = s.integer("pad_token_id", 2, &none);
    if (s.boolean("bias", false)) s.fail("bias", "true is not supported (InternLM2-7B has none)");
    if (const cfg::json* rs = s.find("rope_scaling"); rs && !rs->is_null()) {
        // Dynamic NTK changes the base only past max_position_embeddings, which this runtime
        // never reaches (it refuses longer conversations): plain RoPE below it.
        const auto type_it = rs->find("type");
        const std::string kind = type_it != rs->end() && type_it->is_string() ? type_it->get<std::string>() : "";
        if (kind != "dynamic") s.fail("rope_scaling", "type '" + kind + "' is not supported (only dynamic)");
    }
    cfg::check_text_sizes(s, t);
}

// bert_type's config.json: the projector's width, depth and heads.
void read_bert(const std::string& dir, ParGoConfig* c) {
    const fs::path file = fs::path(dir) / "config.json";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        throw Error(c->source + ": bert_type '" + dir +
                    "' has no config.json (bert-small-uncased's folder)");
    const auto root = cfg::parse_json_object(cfg::read_config_text(file), file.string());
    cfg::Section s(root, file.string(), "");
    c->bert_hidden = s.integer("hidden_size", 512);
    c->bert_layers = s.integer("num_hidden_layers", 4);
    c->bert_heads = s.integer("num_attention_heads", 8);
    c->bert_intermediate = s.integer("intermediate_size", 2048);
    c->bert_max_positions = s.integer("max_position_embeddings", 512);
    c->bert_eps = s.number("layer_norm_eps", 1e-12);
    s.choice("hidden_act", "gelu", {"gelu"});
    s.range("hidden_size", c->bert_hidden, 1, 65536);
    s.range("num_hidden_layers", c->bert_layers, 1, 256);
    s.range("num_attention_heads", c->bert_heads, 1, c->bert_hidden);
    s.range("intermediate_size", c->bert_intermediate, 1, 1 << 20);
    s.range("max_position_embeddings", c->bert_max_positions, c->num_query, 1 << 20);
    if (c->bert_hidden % c->bert_heads != 0)
        s.fail("hidden_size", "is not divisible by num_attention_heads");
}

}  // namespace

ParGoConfig read_pargo_config(const nlohmann::json& root, const std::string& source,
                              const std::string& folder) {
    ParGoConfig c;
    c.source = source;
    cfg::Section s(root, source, "");
    c.prompt_template = s.string("prompt_template", "");
    if (c.prompt_template.find("<ImageHere>") == std::string::npos ||
        c.prompt_template.find("{}") == std::string::npos)
        s.fail("prompt_template", "must hold <ImageHere> and {} (ParGo's template)");
    c.num_query = s.integer("num_query_token", 304);
    c.num_local_query = s.integer("num_local_query_token", 288);
    c.image_size = s.integer("image_size", 336);
    c.lora_r = s.integer("lora_r", 256);
    c.lora_alpha = s.number("lora_alpha", 512);
    if (const cfg::json* t = s.find("lora_target_modules"); t && t->is_array()) {
        c.lora_targets.clear();
        for (const auto& m : *t)
            if (m.is_string()) c.lora_targets.push_back(m.get<std::string>());
    }
    for (const std::string& m : c.lora_targets)
        if (m != "wqkv") s.fail("lora_target_modules", "'" + m + "' is not supported (only wqkv)");
    c.fusion_method = s.string("fusion_method", "ParGo");
    if (c.fusion_method != "ParGo")
        c.warnings.push_back(source + ": fusion_method is '" + c.fusion_method +
                             "', which ParGo's own code does not recognise (it needs \"ParGo\"); "
                             "the ParGo projector was built, as the checkpoint requires");
    s.range("num_query_token", c.num_query, 1, 4096);
    s.range("num_local_query_token", c.num_local_query, 1, c.num_query);
    s.range("image_size", c.image_size, 14, 4096);
    s.range("lora_r", c.lora_r, 1, 65536);
    const std::string ckpt = s.string("ckpt", "");
    if (ckpt.empty()) s.fail("ckpt", "must name ParGo's checkpoint file");
    c.ckpt_file = cfg::resolve_path(folder, ckpt);
    const std::string llm = s.string("llm_model", "");
    if (llm.empty()) s.fail("llm_model", "must name InternLM2's folder");
    c.llm_dir = cfg::resolve_path(folder, llm);
    const std::string bert = s.string("bert_type", "");
    if (bert.empty()) s.fail("bert_type", "must name the BERT (bert-small-uncased) folder");
    c.bert_dir = cfg::resolve_path(folder, bert);
    // The EVA02-L shape ParGo hard-codes; RegionChat's test checkpoints shrink it.
    if (const cfg::json* rc_obj = s.object("regionchat", false)) {
        cfg::Section r(*rc_obj, source, "regionchat.");
        c.vision_width = r.integer("vision_width", c.vision_width);
        c.vision_depth = r.integer("vision_depth", c.vision_depth);
        c.vision_head_width = r.integer("vision_head_width", c.vision_head_width);
        r.range("vision_width", c.vision_width, 1, 8192);
        r.range("vision_depth", c.vision_depth, 1, 256);
        r.range("vision_head_width", c.vision_head_width, 2, c.vision_width);
        if (c.vision_width % c.vision_head_width != 0 || c.vision_head_width % 4 != 0)
            r.fail("vision_head_width", "must divide vision_width and be a multiple of 4");
    }
    c.vision_mlp = int(c.vision_width * 2.6667);
    if (c.image_size % c.patch_size != 0)
        s.fail("image_size", "must be a multiple of the patch size 14");
    read_internlm2(c.llm_dir, &c);
    read_bert(c.bert_dir, &c);
    if (c.vision_tokens() % c.num_local_query != 0)
        s.fail("num_local_query_token", "must divide the " + std::to_string(c.vision_tokens()) +
                                            " vision tokens");
    return c;
}

}  // namespace rc
