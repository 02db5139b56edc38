// The Pink family: recognised by model_type "pink"; saved_parameters.pth laid over the LLaMA-2
// folder named by llama_path, CLIP from clip_path, Pink's added tokens, adapters kept in fp32
// under a 16-bit model (demo.py halves the rest).
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/llava/llava_family.h"
#include "model/pink/pink.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

// Pink's tokens added to LLaMA-2's tokenizer (pink/model/pink.py: initialize_vision_tokenizer,
// add_mark_tokens), from the folder's added_tokens.json (what save_pretrained writes) or, when
// that is absent, in Pink's order after the SentencePiece pieces.
void add_pink_tokens(const fs::path& dir, const ModelConfig& config, Tokenizer& tokenizer,
                     std::vector<std::string>* warnings) {
    std::vector<std::pair<std::string, int>> tokens;
    const fs::path file = dir / "added_tokens.json";
    std::error_code ec;
    if (fs::exists(file, ec)) {
        if (fs::file_size(file, ec) > (1u << 20))
            throw Error(file.string() + ": too large for a list of added tokens");
        std::ifstream in(file);
        nlohmann::json j;
        try {
            in >> j;
        } catch (const nlohmann::json::exception&) {
            throw Error(file.string() + ": invalid JSON");
        }
        if (!j.is_object()) throw Error(file.string() + ": must map token text to ids");
        for (const auto& [text, id] : j.items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() >= config.text.vocab_size)
                throw Error(file.string() + ": '" + text + "' has id " + cfg::brief(id) +
                            ", outside the model's " + std::to_string(config.text.vocab_size) +
                            " embeddings");
            tokens.emplace_back(text, static_cast<int>(id.get<int64_t>()));
        }
    } else {
        static const char* const kPink[] = {"<im_patch>", "<des>",  "</des>", "<loc>",  "</loc>",
                                            "<rel>",      "</rel>", "<cls>",  "</cls>", "<qes>",
                                            "</qes>",     "<opt>",  "</opt>"};
        int id = tokenizer.vocab_size();
        for (const char* t : kPink) tokens.emplace_back(t, id++);
        if (id > config.text.vocab_size)
            throw Error(dir.string() + ": no added_tokens.json, and Pink's 13 tokens after the " +
                        std::to_string(tokenizer.vocab_size()) + " of tokenizer.model exceed " +
                        "vocab_size " + std::to_string(config.text.vocab_size));
        warnings->push_back(dir.string() + " has no added_tokens.json: Pink's tokens were " +
                            "numbered from " + std::to_string(tokenizer.vocab_size()) +
                            " in Pink's order");
    }
    tokenizer.add_tokens(tokens);
}

}  // namespace

std::vector<std::string> pink_key_candidates(const std::string& name) {
    auto after = [&](const std::string& prefix) {
        return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : std::string();
    };
    if (auto rest = after("vision_tower."); !rest.empty()) return {"vision_model." + rest, name};
    if (auto rest = after("multi_modal_projector.linear_1."); !rest.empty())
        return {"mm_projector." + rest};
    if (auto rest = after("language_model."); !rest.empty()) return {rest};
    return {name};
}

namespace {

// saved_parameters.pth over the LLaMA-2 weights, and the CLIP folder.
std::unique_ptr<SafetensorsArchive> open_pink_weights(const fs::path& dir, const ModelConfig& c) {
    const fs::path saved = dir / "saved_parameters.pth";
    std::error_code ec;
    if (!fs::is_regular_file(saved, ec))
        throw Error("Pink folder '" + dir.string() +
                    "' has no saved_parameters.pth (its adapters, projector and embeddings)");
    auto archive = SafetensorsArchive::open(c.llama_dir);
    archive->overlay(SafetensorsArchive::open(saved.string()));
    archive->merge(SafetensorsArchive::open(c.vision_tower_dir), "vision_model.", "vision_tower.");
    return archive;
}

const char* const kDescription = "Pink (saved_parameters.pth over LLaMA-2, CLIP)";

class PinkFamily : public ModelFamily {
public:
    Family id() const override { return Family::Pink; }

    int recognise(const FolderProbe& probe) const override {
        const auto t = probe.config.find("model_type");
        return t != probe.config.end() && *t == kPinkName ? 100 : 0;
    }

    ModelConfig read_config(const FolderProbe& probe) const override {
        return read_pink_config(probe.config, probe.config_file.string());
    }

    FamilyPlan plan(const FolderProbe& probe) const override {
        const ModelConfig c = read_config(probe);
        find_tokenizer(probe.dir, c.llama_dir);
        check_parameter_count(*open_pink_weights(probe.dir, c), c, probe.dir);
        return llava_plan(c, kLayoutPink, kDescription);
    }

    FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const override {
        FamilyModel m;
        m.config = read_config(probe);
        m.layout = kLayoutPink;
        m.layout_description = kDescription;
        m.warnings = m.config.warnings;
        const fs::path tok = find_tokenizer(probe.dir, m.config.llama_dir);
        m.tokenizer = Tokenizer::load(tok.string());
        add_pink_tokens(probe.dir, m.config, *m.tokenizer, &m.warnings);
        load_llava_text_side(m.config, tok, &m);
        auto archive = open_pink_weights(probe.dir, m.config);
        check_parameter_count(*archive, m.config, probe.dir);
        m.network = load_llava_network(m.config, *archive, pink_key_candidates, ctx, "adapter_",
                                       &m.bytes_loaded, &m.warnings);
        return m;
    }

    std::unique_ptr<RegionFormat> region_format(const std::string& name,
                                                bool pad_to_square) const override {
        return name == kPinkName ? make_pink_region_format(pad_to_square) : nullptr;
    }
    std::unique_ptr<ChatTemplate> chat_template(const std::string& name,
                                                const std::string& system) const override {
        return name == kPinkName ? make_pink_chat_template(system) : nullptr;
    }
    std::vector<std::string> region_format_names() const override { return {kPinkName}; }
    std::vector<std::string> chat_template_names() const override { return {kPinkName}; }
};

}  // namespace

const ModelFamily& pink_family() {
    static const PinkFamily family;
    return family;
}

}  // namespace rc
