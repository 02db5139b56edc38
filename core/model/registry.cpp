// The model-family registry: one line per family. Also the name lookups that span families
// (chat templates, region formats, LLaVA-architecture configs).
#include <algorithm>

#include "io/config_reader.h"
#include "model/family.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;

const std::vector<const ModelFamily*>& model_families() {
    static const std::vector<const ModelFamily*> families = {
        &llava_family(),  // LLaVA-1.5, DualFocus, the embedded model (HF and original layouts)
        &pink_family(),   // Pink
        &pargo_family(),  // ParGo (EVA02, partial/global projector, InternLM2)
        &regionvlm_family(),  // RegionVLM (EVA-ViT-g, Q-Former with point text, FlanT5)
        &colva_family(),      // InternVL2 and CoLVA (InternViT tiles, Phi-3, RADIO region tokens)
    };
    return families;
}

std::string to_string(Family f) {
    switch (f) {
        case Family::Llava:
            return "llava";
        case Family::Pink:
            return "pink";
        case Family::ParGo:
            return "pargo";
        case Family::RegionVlm:
            return "regionvlm";
        case Family::CoLva:
            return "colva";
    }
    return "unknown";
}

FolderProbe probe_folder(const std::string& dir_or_file) {
    FolderProbe probe;
    std::error_code ec;
    fs::path path(dir_or_file);
    if (fs::is_directory(path, ec)) {
        probe.dir = path;
        path /= "config.json";
    } else {
        probe.dir = path.parent_path();
    }
    probe.config_file = path;
    probe.config = cfg::parse_json_object(cfg::read_config_text(path), path.string());
    return probe;
}

namespace {

const ModelFamily* best_family(const FolderProbe& probe) {
    const ModelFamily* best = nullptr;
    int best_score = 0;
    for (const ModelFamily* f : model_families()) {
        const int s = f->recognise(probe);
        if (s > best_score) {
            best = f;
            best_score = s;
        }
    }
    return best;
}

std::string family_list() {
    std::string s;
    for (const ModelFamily* f : model_families()) s += (s.empty() ? "" : ", ") + to_string(f->id());
    return s;
}

}  // namespace

const ModelFamily& family_for(const FolderProbe& probe) {
    if (const ModelFamily* f = best_family(probe)) return *f;
    const auto t = probe.config.find("model_type");
    const std::string type =
        t != probe.config.end() && t->is_string() ? t->get<std::string>() : std::string("?");
    throw Error(probe.config_file.string() + ": model_type '" + type +
                "' is not supported (families known: " + family_list() + ")");
}

std::vector<std::string> known_chat_templates() {
    std::vector<std::string> names = builtin_chat_templates();
    for (const ModelFamily* f : model_families())
        for (const auto& n : f->chat_template_names()) names.push_back(n);
    return names;
}

std::vector<std::string> known_region_formats() {
    std::vector<std::string> names = builtin_region_formats();
    for (const ModelFamily* f : model_families())
        for (const auto& n : f->region_format_names()) names.push_back(n);
    return names;
}

std::unique_ptr<ChatTemplate> make_chat_template(const std::string& name,
                                                 const std::string& system) {
    if (auto t = make_builtin_chat_template(name, system)) return t;
    for (const ModelFamily* f : model_families())
        if (auto t = f->chat_template(name, system)) return t;
    return nullptr;
}

std::unique_ptr<RegionFormat> make_region_format(const std::string& name, bool pad_to_square) {
    if (auto r = make_builtin_region_format(name)) return r;
    for (const ModelFamily* f : model_families())
        if (auto r = f->region_format(name, pad_to_square)) return r;
    return nullptr;
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& source) {
    FolderProbe probe;
    probe.config_file = source;
    probe.dir = fs::path(source).parent_path();
    probe.config = cfg::parse_json_object(json_text, source);
    return family_for(probe).read_config(probe);
}

ModelConfig load_model_config(const std::string& dir_or_file) {
    const FolderProbe probe = probe_folder(dir_or_file);
    return family_for(probe).read_config(probe);
}

}  // namespace rc
