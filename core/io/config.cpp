// The config readers every family shares: CLIP vision and LLaMA text sub-configs, the
// "regionchat" extension object, size-capped reading. Missing keys take the Hugging Face class
// defaults, wrong types and unsupported features throw rc::Error naming the key, unknown keys
// become warnings. Each family's own top-level layout is read in its folder (core/model/*/).
#include "regionchat/config.h"
#include "io/config_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace cfg {

const std::set<std::string> kCommonHfKeys = {"_name_or_path",
                                             "_commit_hash",
                                             "_attn_implementation_autoset",
                                             "add_cross_attention",
                                             "architectures",
                                             "bad_words_ids",
                                             "begin_suppress_tokens",
                                             "chunk_size_feed_forward",
                                             "cross_attention_hidden_size",
                                             "decoder_start_token_id",
                                             "diversity_penalty",
                                             "do_sample",
                                             "early_stopping",
                                             "encoder_no_repeat_ngram_size",
                                             "exponential_decay_length_penalty",
                                             "finetuning_task",
                                             "forced_bos_token_id",
                                             "forced_eos_token_id",
                                             "id2label",
                                             "initializer_factor",
                                             "initializer_range",
                                             "is_decoder",
                                             "is_encoder_decoder",
                                             "label2id",
                                             "length_penalty",
                                             "max_length",
                                             "min_length",
                                             "no_repeat_ngram_size",
                                             "num_beam_groups",
                                             "num_beams",
                                             "num_return_sequences",
                                             "output_attentions",
                                             "output_hidden_states",
                                             "output_scores",
                                             "prefix",
                                             "problem_type",
                                             "pruned_heads",
                                             "remove_invalid_values",
                                             "repetition_penalty",
                                             "return_dict",
                                             "return_dict_in_generate",
                                             "sep_token_id",
                                             "suppress_tokens",
                                             "task_specific_params",
                                             "temperature",
                                             "tf_legacy_loss",
                                             "tie_encoder_decoder",
                                             "tokenizer_class",
                                             "top_k",
                                             "top_p",
                                             "torch_dtype",
                                             "dtype",
                                             "torchscript",
                                             "transformers_version",
                                             "typical_p",
                                             "use_bfloat16",
                                             "use_cache",
                                             "attention_dropout",
                                             "dropout",
                                             "pretraining_tp",
                                             "bos_token_id",
                                             "eos_token_id",
                                             "pad_token_id"};

namespace {

const std::set<std::string> kVisionHarmless = {"projection_dim", "vocab_size", "hidden_dropout"};
const std::set<std::string> kTextHarmless = {};

}  // namespace

void read_vision(Section s, VisionConfig* v, std::vector<std::string>* warnings) {
    // CLIPVisionConfig defaults.
    const std::string type = s.string("model_type", "clip_vision_model");
    if (type != "clip_vision_model")
        s.fail("model_type", "'" + type + "' is not supported (expected 'clip_vision_model')");
    v->hidden_size = s.integer("hidden_size", 768);
    v->intermediate_size = s.integer("intermediate_size", 3072);
    v->num_hidden_layers = s.integer("num_hidden_layers", 12);
    v->num_attention_heads = s.integer("num_attention_heads", 12);
    v->image_size = s.integer("image_size", 224);
    v->patch_size = s.integer("patch_size", 32);
    v->num_channels = s.integer("num_channels", 3);
    v->layer_norm_eps = s.number("layer_norm_eps", 1e-5);
    v->hidden_act = s.choice("hidden_act", "quick_gelu", {"quick_gelu", "gelu"});

    s.range("hidden_size", v->hidden_size, 1, 65536);
    s.range("intermediate_size", v->intermediate_size, 1, 1 << 20);
    s.range("num_hidden_layers", v->num_hidden_layers, 1, 1024);
    s.range("num_attention_heads", v->num_attention_heads, 1, v->hidden_size);
    s.range("image_size", v->image_size, 1, 4096);
    s.range("patch_size", v->patch_size, 1, v->image_size);
    s.range("num_channels", v->num_channels, 1, 64);
    s.positive("layer_norm_eps", v->layer_norm_eps);
    if (v->hidden_size % v->num_attention_heads != 0)
        s.fail("hidden_size", std::to_string(v->hidden_size) + " is not divisible by " +
                                  s.key_path("num_attention_heads") + " " +
                                  std::to_string(v->num_attention_heads));
    if (v->image_size % v->patch_size != 0)
        s.fail("image_size", std::to_string(v->image_size) + " is not divisible by " +
                                 s.key_path("patch_size") + " " + std::to_string(v->patch_size));
    s.warn_unknown(kVisionHarmless, warnings);
}

void read_text_sizes(Section& s, TextConfig* t, const TextDefaults& d) {
    t->vocab_size = s.integer("vocab_size", d.vocab_size);
    t->hidden_size = s.integer("hidden_size", d.hidden_size);
    t->intermediate_size = s.integer("intermediate_size", d.intermediate_size);
    t->num_hidden_layers = s.integer("num_hidden_layers", d.num_hidden_layers);
    t->num_attention_heads = s.integer("num_attention_heads", d.num_attention_heads);
    const int heads = t->num_attention_heads;
    t->num_key_value_heads = s.integer("num_key_value_heads", heads, &heads);
    t->max_position_embeddings = s.integer("max_position_embeddings", d.max_position_embeddings);
    t->rms_norm_eps = s.number("rms_norm_eps", d.rms_norm_eps);
    t->rope_theta = s.number("rope_theta", d.rope_theta);
}

void check_text_sizes(const Section& s, const TextConfig& t) {
    s.range("vocab_size", t.vocab_size, 1, 1000000);
    s.range("hidden_size", t.hidden_size, 1, 65536);
    s.range("intermediate_size", t.intermediate_size, 1, 1 << 20);
    s.range("num_hidden_layers", t.num_hidden_layers, 1, 1024);
    s.range("num_attention_heads", t.num_attention_heads, 1, t.hidden_size);
    s.range("num_key_value_heads", t.num_key_value_heads, 1, t.num_attention_heads);
    s.range("max_position_embeddings", t.max_position_embeddings, 1, 1 << 24);
    s.positive("rms_norm_eps", t.rms_norm_eps);
    s.positive("rope_theta", t.rope_theta);
    if (t.hidden_size % t.num_attention_heads != 0)
        s.fail("hidden_size", std::to_string(t.hidden_size) + " is not divisible by " +
                                  s.key_path("num_attention_heads") + " " +
                                  std::to_string(t.num_attention_heads));
    if (t.num_attention_heads % t.num_key_value_heads != 0)
        s.fail("num_attention_heads", std::to_string(t.num_attention_heads) +
                                          " is not divisible by " +
                                          s.key_path("num_key_value_heads") + " " +
                                          std::to_string(t.num_key_value_heads));
    const int head_dim = t.hidden_size / t.num_attention_heads;
    if (head_dim % 2 != 0)  // rotary embeddings rotate pairs of channels
        s.fail("hidden_size", "/ num_attention_heads = " + std::to_string(head_dim) +
                                  " must be even for rotary embeddings");
}

void read_text(Section s, TextConfig* t, std::vector<std::string>* warnings,
               const std::set<std::string>& harmless, bool check_type) {
    // LlamaConfig defaults.
    if (check_type) {
        const std::string type = s.string("model_type", "llama");
        if (type != "llama")
            s.fail("model_type", "'" + type + "' is not supported (expected 'llama')");
    }
    if (s.present("rope_scaling")) s.fail("rope_scaling", "is not supported yet (must be null)");
    read_text_sizes(s, t, TextDefaults{});
    // transformers 5 writes {"rope_type": "default", "rope_theta": ...} instead.
    if (const json* rope = s.object("rope_parameters", false)) {
        if (const auto type = rope->find("rope_type"); type != rope->end() && *type != "default")
            s.fail("rope_parameters",
                   "rope_type " + brief(*type) + " is not supported yet (only \"default\")");
        for (const auto& [key, value] : rope->items()) {
            if (key == "rope_theta") {
                if (!value.is_number()) s.fail("rope_parameters", "rope_theta must be a number");
                t->rope_theta = value.get<double>();
            } else if (key != "rope_type" && !value.is_null()) {
                s.fail("rope_parameters", "'" + key + "' is not supported yet");
            }
        }
    }
    t->hidden_act = s.choice("hidden_act", "silu", {"silu"});
    t->tie_word_embeddings = s.boolean("tie_word_embeddings", false);
    const int none = -1;
    t->bos_token_id = s.integer("bos_token_id", 1, &none);
    t->eos_token_id = s.integer("eos_token_id", 2, &none);
    t->pad_token_id = s.integer("pad_token_id", -1, &none);
    // Features our LLaMA does not implement: accepted only at their neutral values.
    if (s.boolean("attention_bias", false)) s.fail("attention_bias", "true is not supported");
    if (s.boolean("mlp_bias", false)) s.fail("mlp_bias", "true is not supported");

    check_text_sizes(s, *t);
    s.range("bos_token_id", t->bos_token_id, -1, std::numeric_limits<int>::max());
    s.range("eos_token_id", t->eos_token_id, -1, std::numeric_limits<int>::max());
    s.range("pad_token_id", t->pad_token_id, -1, std::numeric_limits<int>::max());
    const int head_dim = t->hidden_size / t->num_attention_heads;
    const int no_head_dim = 0;
    const int given_head_dim = s.integer("head_dim", head_dim, &no_head_dim);
    if (given_head_dim != 0 && given_head_dim != head_dim)
        s.fail("head_dim", std::to_string(given_head_dim) +
                               " differs from hidden_size / "
                               "num_attention_heads (" +
                               std::to_string(head_dim) + "); not supported");
    s.warn_unknown(harmless, warnings);
}

void read_regionchat(Section& top, const json& root, ModelConfig* c,
                     const std::vector<std::string>& templates,
                     const std::vector<std::string>& formats) {
    if (const json* rc = top.object("regionchat", false)) {
        Section s(*rc, top.source(), "regionchat.");
        c->chat_template =
            s.choice("chat_template", c->chat_template, templates);
        c->region_format =
            s.choice("region_format", c->region_format, formats);
        c->image_aspect = s.choice("image_aspect", c->image_aspect, {"pad", "crop", "resize"});
        c->image_filter = s.choice("image_filter", c->image_filter, {"auto", "bicubic"});
        if (root.contains("mm_projector_type") && s.present("projector_type") &&
            s.string("projector_type", "") != c->projector_type)
            s.fail("projector_type", "'" + s.string("projector_type", "") +
                                         "' conflicts with mm_projector_type '" +
                                         c->projector_type + "'");
        c->projector_type = s.choice("projector_type", c->projector_type, {"linear", "mlp2x_gelu"});
        s.warn_unknown({}, &c->warnings);
    }
}

json parse_json_object(const std::string& json_text, const std::string& source) {
    json root;
    try {
        root = json::parse(json_text);
    } catch (const json::exception& e) {
        std::string what = e.what();
        const size_t p = what.find("] ");  // drop nlohmann's "[json.exception...] " prefix
        throw Error(source +
                    ": invalid JSON: " + (p == std::string::npos ? what : what.substr(p + 2)));
    }
    if (!root.is_object()) throw Error(source + ": must be a JSON object");
    return root;
}

// A config file's text; configs are small, so a large file is refused before it is read.
std::string read_config_text(const fs::path& path) {
    std::error_code ec;
    const std::string name = path.string();
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) throw Error(name + ": cannot read: " + ec.message());
    if (size > (16u << 20)) throw Error(name + ": file is too large for a config");
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw Error(name + ": cannot read");
    return text.str();
}

void read_image_processor(const fs::path& folder, ModelConfig* c) {
    if (folder.empty()) return;
    // transformers 5 saves the processor as one processor_config.json holding an
    // "image_processor" object; earlier versions (and the llava-hf repos) a separate file.
    fs::path file = folder / "preprocessor_config.json";
    std::error_code ec;
    json root, nested;
    std::string prefix;
    if (fs::is_regular_file(file, ec)) {
        root = parse_json_object(read_config_text(file), file.string());
    } else if (file = folder / "processor_config.json"; fs::is_regular_file(file, ec)) {
        nested = parse_json_object(read_config_text(file), file.string());
        const auto it = nested.find("image_processor");
        if (it == nested.end()) return;
        if (!it->is_object()) throw Error(file.string() + ": image_processor must be an object");
        root = *it;
        prefix = "image_processor.";
    } else {
        return;
    }
    Section s(root, file.string(), prefix);
    const std::string type = s.choice(
        "image_processor_type", "CLIPImageProcessor",
        {"CLIPImageProcessor", "CLIPImageProcessorFast", "CLIPImageProcessorPil",
         "LlavaImageProcessor", "LlavaImageProcessorFast", "LlavaImageProcessorPil"});
    const int side = c->vision.image_size;
    // A size is an int or {"height": h, "width": w} / {"shortest_edge": n}.
    auto square_side = [&](const char* key, const char* edge_key) {
        const json* v = s.find(key);
        if (!v || v->is_null()) return side;
        if (v->is_number_integer()) return v->get<int>();
        if (v->is_object()) {
            Section o(*v, file.string(), prefix + key + ".");
            if (edge_key && o.present(edge_key)) return o.integer(edge_key, side);
            const int h = o.integer("height", side), w = o.integer("width", side);
            if (h != w) o.fail("height", "differs from width: only square inputs are supported");
            return h;
        }
        s.fail(key, "must be an integer or an object");
    };
    auto same_as_tower = [&](const char* key, int value) {
        if (value != side)
            s.fail(key, std::to_string(value) + " differs from the vision tower's image_size " +
                            std::to_string(side) + "; not supported");
    };
    if (s.boolean("do_resize", true)) same_as_tower("size", square_side("size", "shortest_edge"));
    const bool crop = s.boolean("do_center_crop", true);
    if (crop) same_as_tower("crop_size", square_side("crop_size", nullptr));
    const bool pad = type.rfind("Llava", 0) == 0 && s.boolean("do_pad", false);
    if (!pad && !crop)
        s.fail("do_center_crop", "false leaves a non-square image; not supported");
    c->image_aspect = pad ? "pad" : "crop";
    if (const int resample = s.integer("resample", 3); resample != 3)
        s.fail("resample", std::to_string(resample) + " is not supported (3, bicubic, only)");
    c->image_filter = "bicubic";
    if (!s.boolean("do_rescale", true) ||
        std::abs(s.number("rescale_factor", 1.0 / 255) - 1.0 / 255) > 1e-9)
        s.fail("rescale_factor", "must be 1/255 with do_rescale true");
    if (!s.boolean("do_normalize", true)) s.fail("do_normalize", "false is not supported");
    auto triple = [&](const char* key, std::array<float, 3>* out) {
        const json* v = s.find(key);
        if (!v || v->is_null()) return;
        if (!v->is_array() || v->size() != 3)
            s.fail(key, "must be a list of three numbers");
        for (size_t i = 0; i < 3; ++i) {
            if (!(*v)[i].is_number()) s.fail(key, "must be a list of three numbers");
            (*out)[i] = (*v)[i].get<float>();
        }
    };
    triple("image_mean", &c->image_mean);
    triple("image_std", &c->image_std);
    for (float x : c->image_std)
        if (!(x > 0) || !std::isfinite(x)) s.fail("image_std", "must be positive");
    for (float x : c->image_mean)
        if (!std::isfinite(x)) s.fail("image_mean", "must be finite");
    s.warn_unknown({"do_convert_rgb", "processor_class", "feature_extractor_type",
                    "image_processor_type", "default_to_square", "input_data_format",
                    "data_format", "device", "return_tensors", "disable_grouping"},
                   &c->warnings);
}

bool tokenizer_legacy(const fs::path& folder) {
    const fs::path file = folder / "tokenizer_config.json";
    std::error_code ec;
    if (folder.empty() || !fs::is_regular_file(file, ec)) return true;
    const json root = parse_json_object(read_config_text(file), file.string());
    const auto legacy = root.find("legacy");
    if (legacy == root.end() || legacy->is_null()) return true;  // transformers' default
    if (!legacy->is_boolean()) throw Error(file.string() + ": legacy must be true or false");
    return legacy->get<bool>();
}

void read_clip_tower(ModelConfig* c, const std::string& source, const char* select_key) {
    const fs::path clip_config = fs::path(c->vision_tower_dir) / "config.json";
    const json clip = parse_json_object(read_config_text(clip_config), clip_config.string());
    std::vector<std::string> ignored;  // a CLIP config carries its text model's keys too
    if (clip.contains("vision_config") && clip["vision_config"].is_object()) {
        json v = clip["vision_config"];
        v["model_type"] = "clip_vision_model";
        read_vision(Section(v, clip_config.string(), "vision_config."), &c->vision, &ignored);
    } else {
        read_vision(Section(clip, clip_config.string(), ""), &c->vision, &ignored);
    }
    const int states = c->vision.num_hidden_layers + 1;
    if (c->vision_feature_layer < -states || c->vision_feature_layer >= states)
        throw Error(source + ": " + select_key + " " + std::to_string(c->vision_feature_layer) +
                    " is outside the " + std::to_string(states) + " hidden states of " +
                    c->vision_tower_dir);
}

}  // namespace cfg

using cfg::parse_json_object;
using cfg::read_config_text;

int ModelConfig::image_tokens() const {
    if (vision.patch_size <= 0) return 0;
    const int side = vision.image_size / vision.patch_size;
    return side * side + (vision_feature_select_strategy == "full" ? 1 : 0);
}


std::string find_vision_tower(const std::string& model_dir, const std::string& name) {
    return find_named_folder(model_dir, name, "mm_vision_tower", "REGIONCHAT_VISION_TOWER");
}

std::string find_named_folder(const std::string& model_dir, const std::string& name,
                              const std::string& key, const char* env) {
    std::vector<fs::path> tried;
    if (const char* value = std::getenv(env); value && *value) tried.emplace_back(value);
    const fs::path given(name);
    tried.push_back(given.is_absolute() ? given : fs::path(model_dir) / given);
    const std::string last = given.filename().string();
    if (!last.empty()) {
        tried.push_back(fs::path(model_dir) / last);
        tried.push_back(fs::path(model_dir).parent_path() / last);
    }
    std::error_code ec;
    std::string where;
    for (const auto& p : tried) {
        if (fs::is_regular_file(p / "config.json", ec)) return p.string();
        where += (where.empty() ? "" : ", ") + p.string();
    }
    throw Error("the folder '" + name + "' (" + key + ") is not here: looked in " + where +
                "; put its Hugging Face folder there or set " + env);
}

namespace {

// One SAM config value: an integer in [lo, hi] (absent: keep the default).
void sam_int(const json& section, const char* key, int lo, int hi, int* out,
             const std::string& where) {
    const auto it = section.find(key);
    if (it == section.end() || it->is_null()) return;
    if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
        throw Error(where + "." + key + " must be an integer in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    *out = int(it->get<int64_t>());
}

const json& sam_section(const json& root, const char* key, const std::string& source) {
    static const json empty = json::object();
    const auto it = root.find(key);
    if (it == root.end()) return empty;
    if (!it->is_object()) throw Error(source + ": " + key + " must be an object");
    return *it;
}

}  // namespace

SamConfig parse_sam_config(const std::string& json_text, const std::string& source) {
    const json root = parse_json_object(json_text, source);
    const std::string type = cfg::Section(root, source, "").string("model_type", "");
    if (type != "sam")
        throw Error(source + ": model_type is '" + type + "', not 'sam' (a Segment Anything "
                    "folder in the Hugging Face SamModel layout is needed)");
    SamConfig c;
    const json& v = sam_section(root, "vision_config", source);
    const std::string vs = source + ": vision_config";
    sam_int(v, "hidden_size", 1, 8192, &c.vision_hidden, vs);
    sam_int(v, "num_hidden_layers", 1, 256, &c.vision_layers, vs);
    sam_int(v, "num_attention_heads", 1, 256, &c.vision_heads, vs);
    sam_int(v, "mlp_dim", 1, 65536, &c.vision_mlp, vs);
    sam_int(v, "image_size", 8, 4096, &c.image_size, vs);
    sam_int(v, "patch_size", 1, 256, &c.patch_size, vs);
    sam_int(v, "window_size", 0, 256, &c.window_size, vs);
    sam_int(v, "output_channels", 1, 8192, &c.output_channels, vs);
    sam_int(v, "num_pos_feats", 1, 8192, &c.num_pos_feats, vs);
    if (v.contains("global_attn_indexes")) {
        const json& g = v.at("global_attn_indexes");
        if (!g.is_array()) throw Error(vs + ".global_attn_indexes must be a list");
        c.global_attn_indexes.clear();
        for (const auto& x : g) {
            if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
                x.get<int64_t>() >= c.vision_layers)
                throw Error(vs + ".global_attn_indexes holds a bad layer index");
            c.global_attn_indexes.push_back(int(x.get<int64_t>()));
        }
    }
    cfg::Section vision(v, source, "vision_config.");
    c.qkv_bias = vision.boolean("qkv_bias", true);
    c.use_abs_pos = vision.boolean("use_abs_pos", true);
    c.use_rel_pos = vision.boolean("use_rel_pos", true);
    c.vision_eps = vision.number("layer_norm_eps", 1e-6);
    vision.positive("layer_norm_eps", c.vision_eps);
    if (c.vision_hidden % c.vision_heads != 0)
        throw Error(vs + ": hidden_size is not a multiple of num_attention_heads");
    if (c.image_size % c.patch_size != 0)
        throw Error(vs + ": image_size is not a multiple of patch_size");
    const json& p = sam_section(root, "prompt_encoder_config", source);
    const std::string ps = source + ": prompt_encoder_config";
    sam_int(p, "hidden_size", 1, 8192, &c.prompt_hidden, ps);
    sam_int(p, "mask_input_channels", 1, 4096, &c.mask_input_channels, ps);
    c.image_embedding_size = c.image_size / c.patch_size;
    sam_int(p, "image_embedding_size", 1, 4096, &c.image_embedding_size, ps);
    const json& d = sam_section(root, "mask_decoder_config", source);
    const std::string ds = source + ": mask_decoder_config";
    sam_int(d, "hidden_size", 1, 8192, &c.decoder_hidden, ds);
    sam_int(d, "mlp_dim", 1, 65536, &c.decoder_mlp, ds);
    sam_int(d, "num_hidden_layers", 1, 64, &c.decoder_layers, ds);
    sam_int(d, "num_attention_heads", 1, 256, &c.decoder_heads, ds);
    sam_int(d, "attention_downsample_rate", 1, 64, &c.attention_downsample_rate, ds);
    sam_int(d, "num_multimask_outputs", 1, 16, &c.num_multimask_outputs, ds);
    sam_int(d, "iou_head_depth", 2, 16, &c.iou_head_depth, ds);
    sam_int(d, "iou_head_hidden_dim", 1, 8192, &c.iou_head_hidden, ds);
    cfg::Section decoder(d, source, "mask_decoder_config.");
    c.decoder_eps = decoder.number("layer_norm_eps", 1e-6);
    decoder.positive("layer_norm_eps", c.decoder_eps);
    if (c.prompt_hidden != c.decoder_hidden || c.output_channels != c.decoder_hidden ||
        2 * c.num_pos_feats != c.decoder_hidden)
        throw Error(source + ": the prompt encoder, mask decoder and vision output sizes "
                    "disagree (output_channels, hidden sizes, 2 x num_pos_feats)");
    if (c.decoder_hidden % (c.decoder_heads * c.attention_downsample_rate) != 0 ||
        c.decoder_hidden % 8 != 0)
        throw Error(ds + ": hidden_size does not split into the heads");
    if (c.image_embedding_size != c.image_size / c.patch_size)
        throw Error(ps + ": image_embedding_size is not image_size / patch_size");
    return c;
}

SamConfig load_sam_config(const std::string& dir_or_file) {
    fs::path path(dir_or_file);
    if (fs::is_directory(path)) path /= "config.json";
    if (!fs::exists(path)) throw Error(path.string() + " is missing");
    return parse_sam_config(read_config_text(path), path.string());
}

std::string sam_config_to_json(const SamConfig& c) {
    json v = {{"hidden_size", c.vision_hidden},
              {"num_hidden_layers", c.vision_layers},
              {"num_attention_heads", c.vision_heads},
              {"mlp_dim", c.vision_mlp},
              {"image_size", c.image_size},
              {"patch_size", c.patch_size},
              {"window_size", c.window_size},
              {"output_channels", c.output_channels},
              {"num_pos_feats", c.num_pos_feats},
              {"global_attn_indexes", c.global_attn_indexes},
              {"qkv_bias", c.qkv_bias},
              {"use_abs_pos", c.use_abs_pos},
              {"use_rel_pos", c.use_rel_pos},
              {"layer_norm_eps", c.vision_eps}};
    json p = {{"hidden_size", c.prompt_hidden},
              {"mask_input_channels", c.mask_input_channels},
              {"image_embedding_size", c.image_embedding_size},
              {"image_size", c.image_size},
              {"patch_size", c.patch_size}};
    json d = {{"hidden_size", c.decoder_hidden},
              {"mlp_dim", c.decoder_mlp},
              {"num_hidden_layers", c.decoder_layers},
              {"num_attention_heads", c.decoder_heads},
              {"attention_downsample_rate", c.attention_downsample_rate},
              {"num_multimask_outputs", c.num_multimask_outputs},
              {"iou_head_depth", c.iou_head_depth},
              {"iou_head_hidden_dim", c.iou_head_hidden},
              {"layer_norm_eps", c.decoder_eps}};
    json root = {{"model_type", "sam"},
                 {"architectures", {"SamModel"}},
                 {"vision_config", v},
                 {"prompt_encoder_config", p},
                 {"mask_decoder_config", d}};
    return root.dump(2);
}

}  // namespace rc
