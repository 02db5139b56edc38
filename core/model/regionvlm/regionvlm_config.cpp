// RegionVLM's config.json (both layouts) and the T5 / BERT configs it names: no LibTorch here,
// so tests/fuzz/ reads hostile configs through the same code.
#include <algorithm>
#include <fstream>
#include <set>

#include "io/config_reader.h"
#include "model/regionvlm/regionvlm_config.h"
#include "regionchat/error.h"
#include "regionchat/wordpiece.h"

namespace rc {

namespace fs = std::filesystem;


namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

void read_t5(const nlohmann::json& root, const std::string& source, T5Config* t) {
    cfg::Section s(root, source, "");
    t->vocab_size = s.integer("vocab_size", 32128);
    t->d_model = s.integer("d_model", 2048);
    t->d_kv = s.integer("d_kv", 64);
    t->num_heads = s.integer("num_heads", 32);
    t->d_ff = s.integer("d_ff", 5120);
    t->num_layers = s.integer("num_layers", 24);
    t->num_decoder_layers = s.integer("num_decoder_layers", t->num_layers);
    t->buckets = s.integer("relative_attention_num_buckets", 32);
    t->max_distance = s.integer("relative_attention_max_distance", 128);
    t->eps = s.number("layer_norm_epsilon", 1e-6);
    const std::string ff = s.choice("feed_forward_proj", "gated-gelu",
                                    {"gated-gelu", "relu", "gated-relu", "gelu"});
    t->gated = starts_with(ff, "gated-");
    t->act = s.choice("dense_act_fn", ff.find("gelu") != std::string::npos ? "gelu_new" : "relu",
                      {"gelu", "gelu_new", "relu"});
    t->tie_word_embeddings = s.boolean("tie_word_embeddings", true);
    const int none = -1;
    t->pad_token_id = s.integer("pad_token_id", 0, &none);
    t->eos_token_id = s.integer("eos_token_id", 1, &none);
    t->decoder_start_token_id = s.integer("decoder_start_token_id", t->pad_token_id, &none);
    s.range("vocab_size", t->vocab_size, 1, 1000000);
    s.range("d_model", t->d_model, 1, 65536);
    s.range("d_kv", t->d_kv, 1, 4096);
    s.range("num_heads", t->num_heads, 1, 1024);
    s.range("d_ff", t->d_ff, 1, 1 << 20);
    s.range("num_layers", t->num_layers, 1, 256);
    s.range("num_decoder_layers", t->num_decoder_layers, 1, 256);
    s.range("relative_attention_num_buckets", t->buckets, 2, 4096);
    s.range("relative_attention_max_distance", t->max_distance, 2, 1 << 20);
    s.range("decoder_start_token_id", t->decoder_start_token_id, 0, t->vocab_size - 1);
    s.positive("layer_norm_epsilon", t->eps);
}

void read_json_file(const std::string& file, nlohmann::json* out) {
    *out = cfg::parse_json_object(cfg::read_config_text(file), file);
}

void check_shapes(cfg::Section& s, const RegionVlmConfig& c) {
    if (c.vision_width % c.vision_heads != 0) s.fail("vision_heads", "must divide the width");
    if (c.qf_hidden % c.qf_heads != 0) s.fail("qformer hidden_size", "must be divisible by its heads");
    if (c.image_size % c.patch_size != 0) s.fail("image_size", "must be a multiple of 14");
}

}  // namespace

RegionVlmConfig read_regionvlm_config(const nlohmann::json& root, const std::string& source,
                                      const std::string& folder) {
    RegionVlmConfig c;
    c.source = source;
    cfg::Section s(root, source, "");
    const std::string type = s.string("model_type", "");
    if (type == "blip-2") {
        c.layout = kLayoutRegionVlmHf;
        c.hf_dir = folder;
        c.num_query = s.integer("num_query_tokens", 32);
        const cfg::json* v = s.object("vision_config", true);
        cfg::Section vs(*v, source, "vision_config.");
        c.vision_width = vs.integer("hidden_size", 1408);
        c.vision_depth = vs.integer("num_hidden_layers", 39);
        c.vision_heads = vs.integer("num_attention_heads", 16);
        c.vision_mlp = vs.integer("intermediate_size", 6144);
        c.image_size = vs.integer("image_size", 224);
        c.patch_size = vs.integer("patch_size", 14);
        c.vision_eps = vs.number("layer_norm_eps", 1e-6);
        c.ln_vision_eps = c.vision_eps;  // post_layernorm uses the config's eps
        vs.choice("hidden_act", "gelu", {"gelu"});
        if (!vs.boolean("qkv_bias", true)) vs.fail("qkv_bias", "false is not supported");
        const cfg::json* q = s.object("qformer_config", true);
        cfg::Section qs(*q, source, "qformer_config.");
        c.qf_hidden = qs.integer("hidden_size", 768);
        c.qf_layers = qs.integer("num_hidden_layers", 12);
        c.qf_heads = qs.integer("num_attention_heads", 12);
        c.qf_intermediate = qs.integer("intermediate_size", 3072);
        c.qf_eps = qs.number("layer_norm_eps", 1e-12);
        c.cross_attention_freq = qs.integer("cross_attention_frequency", 2);
        // The same bounds as the LAVIS layout's (a zero count of heads divided the width).
        vs.range("hidden_size", c.vision_width, 1, 8192);
        vs.range("num_hidden_layers", c.vision_depth, 1, 256);
        vs.range("num_attention_heads", c.vision_heads, 1, c.vision_width);
        vs.range("intermediate_size", c.vision_mlp, 1, 1 << 20);
        vs.range("patch_size", c.patch_size, 1, 4096);
        qs.range("hidden_size", c.qf_hidden, 1, 65536);
        qs.range("num_hidden_layers", c.qf_layers, 1, 256);
        qs.range("num_attention_heads", c.qf_heads, 1, c.qf_hidden);
        qs.range("intermediate_size", c.qf_intermediate, 1, 1 << 20);
        qs.range("cross_attention_frequency", c.cross_attention_freq, 1, 256);
        if (qs.integer("encoder_hidden_size", c.vision_width) != c.vision_width)
            qs.fail("encoder_hidden_size", "must equal the vision width");
        c.qformer_text = false;
        const cfg::json* t = s.object("text_config", true);
        cfg::Section ts(*t, source, "text_config.");
        if (ts.string("model_type", "") != "t5")
            ts.fail("model_type", "is not t5 (only BLIP-2 with FlanT5 is a RegionVLM base)");
        read_t5(*t, source + " text_config", &c.t5);
        c.tokenizer_file = (fs::path(folder) / "spiece.model").string();
    } else {
        c.layout = kLayoutRegionVlmLavis;
        if (s.string("arch", "blip2_t5") != "blip2_t5") s.fail("arch", "must be blip2_t5");
        c.image_size = s.integer("image_size", 364);
        c.num_query = s.integer("num_query_token", 32);
        c.max_txt_len = s.integer("max_txt_len", 32);
        s.choice("vit_precision", "fp16", {"fp16", "fp32"});
        auto file_key = [&](const std::string& key, bool required) {
            const std::string v = s.string(key, "");
            if (v.empty()) {
                if (required) s.fail(key, "must name a file");
                return std::string();
            }
            return cfg::resolve_path(folder, v);
        };
        c.vit_file = file_key("vit_model", true);
        c.pretrained_file = file_key("pretrained", false);
        c.finetuned_file = file_key("finetuned", true);
        c.t5_dir = file_key("t5_model", true);
        const std::string bert = file_key("bert_model", true);
        c.bert_vocab = (fs::path(bert) / "vocab.txt").string();
        std::error_code vec;
        if (fs::is_regular_file(c.bert_vocab, vec))  // + [DEC]: LAVIS resizes to len(tokenizer)
            c.qf_vocab = WordPiece::load(c.bert_vocab).size() + 1;
        if (const cfg::json* r = s.object("regionchat", false)) {
            cfg::Section rs(*r, source, "regionchat.");
            c.vision_width = rs.integer("vision_width", c.vision_width);
            c.vision_depth = rs.integer("vision_depth", c.vision_depth);
            c.vision_heads = rs.integer("vision_heads", c.vision_heads);
            rs.range("vision_width", c.vision_width, 1, 8192);
            rs.range("vision_depth", c.vision_depth, 1, 256);
            rs.range("vision_heads", c.vision_heads, 1, c.vision_width);
        }
        c.vision_mlp = int(c.vision_width * 4.3637);  // create_eva_vit_g's mlp_ratio
        // bert-base-uncased's config.json when the folder has one; its defaults otherwise.
        const fs::path bert_cfg = fs::path(bert) / "config.json";
        std::error_code ec;
        if (fs::is_regular_file(bert_cfg, ec)) {
            nlohmann::json j;
            read_json_file(bert_cfg.string(), &j);
            cfg::Section bs(j, bert_cfg.string(), "");
            c.qf_hidden = bs.integer("hidden_size", 768);
            c.qf_layers = bs.integer("num_hidden_layers", 12);
            c.qf_heads = bs.integer("num_attention_heads", 12);
            c.qf_intermediate = bs.integer("intermediate_size", 3072);
            c.qf_max_positions = bs.integer("max_position_embeddings", 512);
            c.qf_eps = bs.number("layer_norm_eps", 1e-12);
            bs.choice("hidden_act", "gelu", {"gelu"});
            bs.range("hidden_size", c.qf_hidden, 1, 65536);
            bs.range("num_hidden_layers", c.qf_layers, 1, 256);
            bs.range("num_attention_heads", c.qf_heads, 1, c.qf_hidden);
            bs.range("intermediate_size", c.qf_intermediate, 1, 1 << 20);
            bs.range("max_position_embeddings", c.qf_max_positions, 2, 1 << 20);
        }
        const fs::path t5cfg = fs::path(c.t5_dir) / "config.json";
        if (!fs::is_regular_file(t5cfg, ec))
            throw Error(source + ": t5_model '" + c.t5_dir + "' has no config.json (FlanT5's folder)");
        nlohmann::json tj;
        read_json_file(t5cfg.string(), &tj);
        read_t5(tj, t5cfg.string(), &c.t5);
        c.t5.act = "gelu";  // blip2_t5.py: t5_config.dense_act_fn = "gelu"
        c.tokenizer_file = (fs::path(c.t5_dir) / "spiece.model").string();
    }
    s.range("image_size", c.image_size, 14, 4096);
    s.range("num_query_token", c.num_query, 1, 4096);
    s.range("max_txt_len", c.max_txt_len, 2, 512);
    check_shapes(s, c);
    return c;
}

}  // namespace rc
