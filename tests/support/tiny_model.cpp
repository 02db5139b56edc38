#include "support/tiny_model.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

#include "model/llava/llava_family.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/tokenizer.h"

namespace rc::testing {

namespace fs = std::filesystem;

ModelConfig tiny_config() {
    ModelConfig c;
    c.vision.hidden_size = 32;
    c.vision.intermediate_size = 64;
    c.vision.num_hidden_layers = 2;
    c.vision.num_attention_heads = 4;
    c.vision.image_size = 32;
    c.vision.patch_size = 8;
    c.text.vocab_size = 420;
    c.text.hidden_size = 64;
    c.text.intermediate_size = 128;
    c.text.num_hidden_layers = 2;
    c.text.num_attention_heads = 4;
    c.text.num_key_value_heads = 2;
    c.text.max_position_embeddings = 512;
    c.text.rms_norm_eps = 1e-5;
    c.image_token_index = 419;
    c.vision_feature_layer = -2;
    return c;
}

namespace {

std::vector<std::string> corpus() {
    std::vector<std::string> s;
    const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
    const char* shapes[] = {"circle", "square", "triangle", "star"};
    for (const char* c : colours)
        for (const char* sh : shapes) {
            s.push_back(std::string("What is in the region [0.12, 0.40, 0.55, 0.93]? a ") + c +
                        " " + sh);
            s.push_back(std::string("Where is the ") + c + " " + sh + "? [0.25, 0.50, 0.75, 1.00]");
            s.push_back(std::string("Is there a ") + c + " " + sh + " in the image? Yes No");
        }
    s.push_back("A chat between a curious user and an artificial intelligence assistant.");
    s.push_back("USER: ASSISTANT: How many are there? 0 1 2 3 4 5 6 7 8 9");
    return s;
}

}  // namespace

void write_tiny_tokenizer(const std::string& path) {
    static std::once_flag once;
    static std::string cached;
    std::call_once(once, [] {
        cached = (fs::temp_directory_path() /
                  ("regionchat-test-tok-" + std::to_string(::getpid()) + ".model"))
                     .string();
        Tokenizer::train(corpus(), cached, 400);
    });
    fs::copy_file(cached, path, fs::copy_options::overwrite_existing);
}

void write_tiny_model(const std::string& dir, const ModelConfig& config,
                      const TinyModelOptions& options) {
    fs::create_directories(dir);
    torch::manual_seed(options.seed);
    Llava net(config);
    {
        torch::NoGradGuard no_grad;
        // Larger-than-default weights give sharper, more varied logits than PyTorch's init.
        for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
        if (options.never_eos && net->language_model->lm_head)
            net->language_model->lm_head->weight[config.text.eos_token_id].zero_();
    }
    std::ofstream(fs::path(dir) / "config.json") << model_config_to_json(config);
    const std::string st = (fs::path(dir) / "model.safetensors").string();
    if (!options.new_style_keys) {
        save_state(*net, st, options.dtype);
    } else {
        std::vector<torch::Tensor> keep;
        std::vector<TensorToWrite> out;
        for (const auto& item : net->named_parameters(true)) {
            auto names = llava_key_candidates(item.key());
            auto t = item.value().detach().to(to_torch_dtype(options.dtype)).contiguous();
            keep.push_back(t);
            out.push_back({names.at(1),  // the newer transformers spelling
                           options.dtype,
                           {t.sizes().begin(), t.sizes().end()},
                           t.data_ptr(),
                           static_cast<size_t>(t.numel()) * t.element_size()});
        }
        write_safetensors(st, out);
    }
    write_tiny_tokenizer((fs::path(dir) / "tokenizer.model").string());
}

cv::Mat test_image(int width, int height, uint64_t seed) {
    std::mt19937_64 rng(seed);
    cv::Mat img(height, width, CV_8UC3, cv::Scalar(235, 235, 235));
    std::uniform_int_distribution<int> px(0, std::max(1, std::min(width, height) - 1));
    std::uniform_int_distribution<int> col(0, 255);
    for (int i = 0; i < 6; ++i) {
        cv::circle(img, {px(rng), px(rng)}, 2 + px(rng) / 4,
                   cv::Scalar(col(rng), col(rng), col(rng)), cv::FILLED);
    }
    return img;
}

}  // namespace rc::testing
