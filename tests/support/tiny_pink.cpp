#include "support/tiny_pink.h"

#include <filesystem>
#include <fstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "model/llava/llava_family.h"
#include "model/pink/pink.h"
#include "model/tensor_io.h"
#include "regionchat/safetensors.h"
#include "regionchat/tokenizer.h"
#include "support/tiny_model.h"
#include "support/torch_zip_writer.h"

namespace rc::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kPinkTokens[13] = {"<im_patch>", "<des>",  "</des>", "<loc>",  "</loc>",
                                     "<rel>",      "</rel>", "<cls>",  "</cls>", "<qes>",
                                     "</qes>",     "<opt>",  "</opt>"};

namespace {

// Tensors bound for one torch.save file.
struct ZipFile {
    std::vector<ZipTensor> tensors;
    std::vector<ZipStorage> storages;
    void add(const std::string& name, const torch::Tensor& value, bool half = false) {
        auto t = value.detach().to(half ? torch::kFloat16 : torch::kFloat32).contiguous();
        ZipStorage s;
        s.key = std::to_string(storages.size());
        s.numel = t.numel();
        s.type = half ? "HalfStorage" : "FloatStorage";
        const auto* b = static_cast<const uint8_t*>(t.data_ptr());
        s.bytes.assign(b, b + t.numel() * t.element_size());
        std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
        tensors.push_back({name, s.type, s.key, shape, contiguous_strides(shape), 0});
        storages.push_back(std::move(s));
    }
    void write(const std::string& path, bool plain_dict) const {
        write_torch_zip(path, state_dict_pickle(tensors, storages, plain_dict), storages);
    }
};

}  // namespace

json llama_config_json(const TextConfig& t) {
    return json{{"architectures", {"LlamaForCausalLM"}},
                {"model_type", "llama"},
                {"hidden_size", t.hidden_size},
                {"intermediate_size", t.intermediate_size},
                {"num_attention_heads", t.num_attention_heads},
                {"num_hidden_layers", t.num_hidden_layers},
                {"num_key_value_heads", t.num_key_value_heads},
                {"max_position_embeddings", t.max_position_embeddings},
                {"rms_norm_eps", t.rms_norm_eps},
                {"vocab_size", t.vocab_size},
                {"rope_scaling", nullptr},
                {"torch_dtype", "float16"},
                {"use_cache", true}};
}

json clip_config_json(const VisionConfig& v) {
    return json{{"model_type", "clip"},
                {"text_config", {{"hidden_size", 16}, {"bos_token_id", 0}}},
                {"vision_config",
                 {{"hidden_size", v.hidden_size},
                  {"intermediate_size", v.intermediate_size},
                  {"num_hidden_layers", v.num_hidden_layers},
                  {"num_attention_heads", v.num_attention_heads},
                  {"image_size", v.image_size},
                  {"patch_size", v.patch_size},
                  {"dropout", 0.0},
                  {"model_type", "clip_vision_model"}}}};
}

TinyPink write_tiny_pink(const std::string& root, const TinyPinkOptions& o) {
    TinyPink out;
    out.model_dir = (fs::path(root) / "pink-tiny").string();
    out.llama_dir = (fs::path(root) / "llama-2-tiny").string();
    out.clip_dir = (fs::path(root) / "clip-tiny").string();
    for (const auto& d : {out.model_dir, out.llama_dir, out.clip_dir}) fs::create_directories(d);

    const std::string tok = (fs::path(out.llama_dir) / "tokenizer.model").string();
    write_tiny_tokenizer(tok);
    fs::copy_file(tok, fs::path(out.model_dir) / "tokenizer.model",
                  fs::copy_options::overwrite_existing);
    const int base_vocab = Tokenizer::load(tok)->vocab_size();

    ModelConfig c = tiny_config();
    c.layout = "pink";
    c.vision.num_hidden_layers = 3;
    c.vision_feature_layer = -2;
    AdapterConfig a;
    a.dim = 4;
    a.mlp = o.adapter_mlp;
    a.silu = o.non_linear;
    c.vision.adapter = a;
    c.vision.adapter_layers = 2;  // layers 0 and 1: Pink deletes the one after the selected state
    c.text.adapter = a;
    c.text.vocab_size = base_vocab + 13;
    c.projector_type = "linear";
    c.chat_template = "pink";
    c.region_format = "pink";
    c.image_aspect = "resize";
    c.image_filter = "bicubic";
    c.vision_tower = "openai/clip-tiny";
    c.llama_path = "meta-llama/llama-2-tiny";
    c.vision_tower_dir = out.clip_dir;
    c.llama_dir = out.llama_dir;
    c.image_token_index = base_vocab;
    out.config = c;

    torch::manual_seed(o.seed);
    Llava net(c);
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
    if (o.zero_adapters)
        for (const auto& p : net->named_parameters(true))
            if (p.key().find("tune_adapter_b") != std::string::npos) p.value().zero_();

    const auto& t = c.text;
    const auto& v = c.vision;
    // LLaMA-2 folder: config, two torch.save shards with their index, old-style inv_freq.
    TextConfig base = t;
    base.vocab_size = base_vocab;
    std::ofstream(fs::path(out.llama_dir) / "config.json") << llama_config_json(base).dump(2);
    ZipFile shard[2], saved;
    std::vector<TensorToWrite> clip_tensors;
    std::vector<torch::Tensor> keep;
    json weight_map = json::object();
    const std::string shard_name[2] = {"pytorch_model-00001-of-00002.bin",
                                       "pytorch_model-00002-of-00002.bin"};
    for (const auto& item : net->named_parameters(true)) {
        const std::string key = pink_key_candidates(item.key()).at(0);
        const torch::Tensor& value = item.value();
        const bool adapter = key.find("adapter_") != std::string::npos;
        if (adapter) {
            saved.add(key, value);  // fp32, as Pink trains them
        } else if (key.rfind("mm_projector.", 0) == 0) {
            saved.add(key, value, /*half=*/true);
        } else if (key == "model.embed_tokens.weight" || key == "lm_head.weight") {
            saved.add(key, value, true);
            // LLaMA-2's own table: the base rows, but different values, which Pink's replace.
            const int s = key == "lm_head.weight" ? 1 : 0;
            shard[s].add(key, value.narrow(0, 0, base_vocab) * -1);
            weight_map[key] = shard_name[s];
        } else if (key.rfind("vision_model.", 0) == 0) {
            auto tv = value.contiguous();
            keep.push_back(tv);
            clip_tensors.push_back({key.substr(13),
                                    DType::F32,
                                    {tv.sizes().begin(), tv.sizes().end()},
                                    tv.data_ptr(),
                                    static_cast<size_t>(tv.numel()) * 4});
        } else {
            const int s = key.find("layers.1.") != std::string::npos ? 1 : 0;
            shard[s].add(key, value);
            weight_map[key] = shard_name[s];
        }
    }
    const int64_t half_dim = t.hidden_size / t.num_attention_heads / 2;
    shard[0].add("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({half_dim}));
    weight_map["model.layers.0.self_attn.rotary_emb.inv_freq"] = shard_name[0];
    for (int s = 0; s < 2; ++s)
        shard[s].write((fs::path(out.llama_dir) / shard_name[s]).string(), false);
    std::ofstream(fs::path(out.llama_dir) / "pytorch_model.bin.index.json")
        << json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2);
    saved.write((fs::path(out.model_dir) / "saved_parameters.pth").string(), true);

    // CLIP folder (CLIPModel layout: its text tower is there too and must be left alone).
    const std::vector<float> text_norm(16, 0.5f);
    clip_tensors.push_back(
        {"text_model.final_layer_norm.weight", DType::F32, {16}, text_norm.data(), 64});
    write_safetensors((fs::path(out.clip_dir) / "model.safetensors").string(), clip_tensors);
    std::ofstream(fs::path(out.clip_dir) / "config.json") << clip_config_json(v).dump(2);

    // Pink folder: PinkConfig as save_pretrained writes it.
    const int patches = (v.image_size / v.patch_size) * (v.image_size / v.patch_size);
    json pink_config = llama_config_json(t);
    pink_config["architectures"] = {"PinkModel"};
    pink_config["model_type"] = "pink";
    pink_config.update(json{{"llama_path", c.llama_path},
                            {"clip_path", c.vision_tower},
                            {"clip_select_layer", -2},
                            {"adapter_vision_enable", true},
                            {"adapter_vision_dim", a.dim},
                            {"adapter_vision_scale", 1.0},
                            {"adapter_vision_dropout", 0.05},
                            {"adapter_llm_enable", true},
                            {"adapter_llm_dim", a.dim},
                            {"adapter_llm_scale", 1.0},
                            {"adapter_llm_dropout", 0.05},
                            {"adapter_attn", true},
                            {"adapter_mlp", a.mlp},
                            {"adapter_non_linear", a.silu},
                            {"crop_size", v.image_size},
                            {"num_patches", patches},
                            {"im_patch_token", base_vocab}});
    std::ofstream(fs::path(out.model_dir) / "config.json") << pink_config.dump(2);
    if (o.added_tokens_json) {
        json added = json::object();
        for (int i = 0; i < 13; ++i) added[kPinkTokens[i]] = base_vocab + i;
        std::ofstream(fs::path(out.model_dir) / "added_tokens.json") << added.dump(2);
    }
    return out;
}

}  // namespace rc::testing
