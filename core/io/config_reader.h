// Internals of the config readers shared by core/io and the model families' folders: typed,
// key-naming access to one JSON object, the CLIP and LLaMA sub-config readers, and the size-
// capped file reader. Not a public header.
#pragma once

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "regionchat/config.h"
#include "regionchat/error.h"

namespace rc::cfg {

using json = nlohmann::json;

/// A JSON value for a message: numbers, booleans and null as written, strings quoted and cut
/// at 60 bytes, arrays and objects by their size only. dump() of an attacker's nested value
/// recurses once per level (a 10 MB "[[[[...]]]]" overflows the stack).
inline std::string brief(const json& v) {
    if (v.is_array()) return "an array of " + std::to_string(v.size());
    if (v.is_object()) return "an object of " + std::to_string(v.size()) + " keys";
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        return s.size() <= 60 ? json(s).dump(-1, ' ', false, json::error_handler_t::replace)
                              : json(s.substr(0, 60)).dump(-1, ' ', false, json::error_handler_t::replace) + "...";
    }
    return v.dump();
}

/// Keys every Hugging Face PretrainedConfig may carry; none changes the network we build.
extern const std::set<std::string> kCommonHfKeys;

// One JSON object of the config: typed getters that remember which keys were read and name
// the key path ("text_config.hidden_size") in every message.
class Section {
public:
    Section(const json& obj, std::string source, std::string prefix)
        : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw Error(source_ + ": " + prefix_ + key + " " + what);
    }
    std::string key_path(const std::string& key) const { return prefix_ + key; }

    /// The value or nullptr; marks the key as known either way.
    const json* find(const std::string& key) {
        used_.insert(key);
        const auto it = obj_.find(key);
        return it == obj_.end() ? nullptr : &*it;
    }
    bool present(const std::string& key) {
        const json* v = find(key);
        return v && !v->is_null();
    }

    /// `null_value` is what an explicit null means (token ids); otherwise null is a type error.
    int integer(const std::string& key, int def, const int* null_value = nullptr) {
        const json* v = find(key);
        if (!v) return def;
        if (v->is_null() && null_value) return *null_value;
        if (!v->is_number_integer()) fail(key, "must be an integer");
        if (v->is_number_unsigned() ? v->get<uint64_t>() > uint64_t(std::numeric_limits<int>::max())
                                    : (v->get<int64_t>() > std::numeric_limits<int>::max() ||
                                       v->get<int64_t>() < std::numeric_limits<int>::min()))
            fail(key, "is out of range (" + v->dump() + ")");
        return v->get<int>();
    }
    double number(const std::string& key, double def) {
        const json* v = find(key);
        if (!v) return def;
        if (!v->is_number()) fail(key, "must be a number");
        return v->get<double>();
    }
    bool boolean(const std::string& key, bool def) {
        const json* v = find(key);
        if (!v) return def;
        if (!v->is_boolean()) fail(key, "must be true or false");
        return v->get<bool>();
    }
    std::string string(const std::string& key, const std::string& def) {
        const json* v = find(key);
        if (!v) return def;
        if (!v->is_string()) fail(key, "must be a string");
        return v->get<std::string>();
    }
    /// A string that must be one of `allowed`.
    std::string choice(const std::string& key, const std::string& def,
                       const std::vector<std::string>& allowed) {
        const std::string s = string(key, def);
        for (const std::string& a : allowed)
            if (s == a) return s;
        std::string list;
        for (const std::string& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
        fail(key, "must be one of " + list + " (got '" + s + "')");
    }
    const json* object(const std::string& key, bool required) {
        const json* v = find(key);
        if (!v) {
            if (required) throw Error(source_ + ": missing key '" + key_path(key) + "'");
            return nullptr;
        }
        if (!v->is_object()) fail(key, "must be an object");
        return v;
    }
    void range(const std::string& key, int value, int lo, int hi) const {
        if (value < lo || value > hi)
            fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          " (got " + std::to_string(value) + ")");
    }
    void positive(const std::string& key, double value) const {
        if (!(value > 0) || !std::isfinite(value))
            fail(key, "must be a positive number (got " + json(value).dump() + ")");
    }
    const std::string& source() const { return source_; }
    void warn_unknown(const std::set<std::string>& harmless,
                      std::vector<std::string>* warnings) const {
        for (auto it = obj_.begin(); it != obj_.end(); ++it)
            if (!used_.count(it.key()) && !harmless.count(it.key()) &&
                !kCommonHfKeys.count(it.key()))
                warnings->push_back(source_ + ": unknown key '" + key_path(it.key()) + "' ignored");
    }

private:
    const json& obj_;
    std::string source_;
    std::string prefix_;
    std::set<std::string> used_;
};

/// CLIPVisionConfig keys into `v` (checked); unknown keys become warnings.
void read_vision(Section s, VisionConfig* v, std::vector<std::string>* warnings);
/// The sizes every LLaMA-shaped decoder config has, with its defaults (LlamaConfig's here).
struct TextDefaults {
    int vocab_size = 32000, hidden_size = 4096, intermediate_size = 11008;
    int num_hidden_layers = 32, num_attention_heads = 32, max_position_embeddings = 2048;
    double rms_norm_eps = 1e-6, rope_theta = 10000.0;
};
/// vocab_size .. rope_theta (num_key_value_heads defaulting to num_attention_heads) into `t`.
void read_text_sizes(Section& s, TextConfig* t, const TextDefaults& defaults);
/// The ranges and divisibility every decoder needs (even head size for RoPE); rc::Error naming
/// the key.
void check_text_sizes(const Section& s, const TextConfig& t);
/// LlamaConfig keys into `t` (checked); keys in `harmless` are not warned about.
void read_text(Section s, TextConfig* t, std::vector<std::string>* warnings,
               const std::set<std::string>& harmless = {}, bool check_type = true);
/// The optional "regionchat" object: chat template and region format (one of the names
/// given), image aspect and filter, projector type.
void read_regionchat(Section& top, const json& root, ModelConfig* c,
                     const std::vector<std::string>& templates,
                     const std::vector<std::string>& formats);
/// `<folder>/preprocessor_config.json` when there is one (llava-hf ships it; transformers 5
/// writes processor_config.json with an "image_processor" object instead): the image
/// processor's fit (CLIPImageProcessor: centre crop, LlavaImageProcessor with do_pad: pad), its
/// filter and normalisation into `c`. Sizes must match the vision tower's image_size and the
/// filter must be bicubic (resample 3): anything else is an rc::Error naming the key, as it
/// would silently change every image. No file: `c` is left as it is.
void read_image_processor(const std::filesystem::path& folder, ModelConfig* c);
/// `<folder>/tokenizer_config.json`'s "legacy" (true when there is no file or no key, as
/// transformers): whether a text piece after a special or added token gets SentencePiece's
/// leading "▁". rc::Error for a value that is not a boolean.
bool tokenizer_legacy(const std::filesystem::path& folder);
/// Parses JSON text that must be an object; rc::Error naming `source`.
json parse_json_object(const std::string& json_text, const std::string& source);
/// A config file's text; files over 16 MiB are refused before they are read.
std::string read_config_text(const std::filesystem::path& path);

/// `path` as a config names it: absolute, or relative to the config's `folder`; normalised.
inline std::string resolve_path(const std::string& folder, const std::string& path) {
    const std::filesystem::path p(path);
    return (p.is_absolute() ? p : std::filesystem::path(folder) / p).lexically_normal().string();
}
/// The vision settings of the CLIP folder c->vision_tower_dir (a CLIPConfig with
/// vision_config, or a CLIPVisionConfig); checks c->vision_feature_layer against its depth,
/// naming `select_key` of `source` in the message.
void read_clip_tower(ModelConfig* c, const std::string& source, const char* select_key);

}  // namespace rc::cfg
