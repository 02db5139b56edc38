// make-checkpoint DIR [PRESET]: writes a random LLaVA checkpoint (fp16 safetensors, config,
// tokenizer) of a given size for benchmarks (not a test): peak host memory while loading
// (/usr/bin/time -v regionchat-cli ask --model DIR ...) and GPU timings.
//   1b  LLaMA text 2048 hidden, 22 layers, GQA 32/4, vocab 32000 (TinyLlama-1.1B shapes),
//       small CLIP tower: 1.10 B parameters, 2.2 GB
//   7b  LLaVA-1.5-7B shapes (CLIP ViT-L/14-336, LLaMA-7B): 7.06 B parameters, 14.1 GB
//   pink  a tiny random Pink set in Pink's layout: DIR/pink-tiny (config.json model_type
//       "pink", saved_parameters.pth), DIR/llama-2-tiny (torch.save shards), DIR/clip-tiny
#include <cstdio>
#include <cstring>
#include <string>

#include "support/tiny_model.h"
#include "support/tiny_pink.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make-checkpoint DIR [1b|7b|pink]\n");
        return 2;
    }
    const std::string preset = argc > 2 ? argv[2] : "1b";
    if (preset == "pink") {
        const auto pink = rc::testing::write_tiny_pink(argv[1]);
        std::printf("wrote %s (pink; LLaMA-2 in %s, CLIP in %s)\n", pink.model_dir.c_str(),
                    pink.llama_dir.c_str(), pink.clip_dir.c_str());
        return 0;
    }
    rc::ModelConfig c = rc::testing::tiny_config();
    c.text.max_position_embeddings = 2048;
    if (preset == "1b") {
        c.text.vocab_size = 32000;
        c.text.hidden_size = 2048;
        c.text.intermediate_size = 5632;
        c.text.num_hidden_layers = 22;
        c.text.num_attention_heads = 32;
        c.text.num_key_value_heads = 4;
        c.vision.hidden_size = 256;
        c.vision.intermediate_size = 1024;
        c.vision.num_hidden_layers = 4;
        c.vision.num_attention_heads = 4;
        c.vision.image_size = 224;
        c.vision.patch_size = 16;
    } else if (preset == "7b") {
        c.text.vocab_size = 32064;
        c.text.hidden_size = 4096;
        c.text.intermediate_size = 11008;
        c.text.num_hidden_layers = 32;
        c.text.num_attention_heads = 32;
        c.text.num_key_value_heads = 32;
        c.vision.hidden_size = 1024;
        c.vision.intermediate_size = 4096;
        c.vision.num_hidden_layers = 24;
        c.vision.num_attention_heads = 16;
        c.vision.image_size = 336;
        c.vision.patch_size = 14;
    } else {
        std::fprintf(stderr, "make-checkpoint: unknown preset '%s' (1b, 7b or pink)\n",
                     preset.c_str());
        return 2;
    }
    c.image_token_index = c.text.vocab_size - 1;
    rc::testing::TinyModelOptions o;
    o.dtype = rc::DType::F16;
    o.never_eos = false;
    rc::testing::write_tiny_model(argv[1], c, o);
    std::printf("wrote %s (%s)\n", argv[1], preset.c_str());
    return 0;
}
