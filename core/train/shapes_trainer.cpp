#include "train/shapes_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "engine/prompt.h"
#include "model/llava.h"
#include "model/tensor_io.h"
#include "regionchat/chat_template.h"
#include "regionchat/error.h"
#include "regionchat/preprocess.h"
#include "regionchat/safetensors.h"
#include "regionchat/synth.h"
#include "regionchat/tokenizer.h"

namespace rc::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ModelConfig shapes_tiny_config() {
    ModelConfig c;
    c.vision.hidden_size = 192;
    c.vision.intermediate_size = 768;
    c.vision.num_hidden_layers = 4;
    c.vision.num_attention_heads = 3;
    c.vision.image_size = 128;
    c.vision.patch_size = 16;
    c.vision.hidden_act = "quick_gelu";
    c.text.hidden_size = 256;
    c.text.intermediate_size = 688;
    c.text.num_hidden_layers = 4;
    c.text.num_attention_heads = 4;
    c.text.num_key_value_heads = 2;
    c.text.max_position_embeddings = 512;
    c.text.rms_norm_eps = 1e-5;
    c.text.rope_theta = 10000.0;
    c.vision_feature_layer = -2;
    c.vision_feature_select_strategy = "default";
    c.projector_type = "mlp2x_gelu";
    c.chat_template = "vicuna_v1";
    c.region_format = "dualfocus";
    c.image_aspect = "pad";
    return c;
}

namespace {

// Every text the model will read or write, for training the tokenizer.
std::vector<std::string> tokenizer_corpus(const ChatTemplate& tmpl) {
    std::vector<std::string> out;
    for (uint64_t seed = 0; seed < 1500; ++seed) {
        const auto scene = synth::generate_scene(seed);
        for (const auto& sample : synth::make_samples(scene, seed))
            for (const auto& t : sample.turns) {
                out.push_back(t.question);
                out.push_back(t.answer);
            }
    }
    std::vector<ChatMessage> msgs{{ChatMessage::Role::User, "Q"},
                                  {ChatMessage::Role::Assistant, "A"},
                                  {ChatMessage::Role::User, "Q"}};
    for (const auto& p : tmpl.render(msgs))
        if (p.kind == PromptPiece::Kind::Text)
            for (int i = 0; i < 50; ++i) out.push_back(p.text);
    return out;
}

// LLaMA-style init: normal(0, 0.02) matrices, zero biases, unit norms.
void init_weights(torch::nn::Module& net) {
    torch::NoGradGuard ng;
    for (auto& item : net.named_parameters(true)) {
        const std::string& n = item.key();
        auto& p = item.value();
        const bool is_norm =
            n.find("norm") != std::string::npos || n.find("layrnorm") != std::string::npos;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0)
            p.zero_();
        else if (is_norm)
            p.fill_(1.0);
        else
            p.normal_(0.0, 0.02);
    }
}

struct Batch {
    torch::Tensor pixels;              // [N, 3, S, S]
    torch::Tensor ids;                 // [B, L] (image positions and padding: 0)
    torch::Tensor targets;             // [B, L] next-token targets, -100 where ignored
    torch::Tensor image_mask;          // [B, L] bool
    std::vector<int64_t> image_order;  // image indices in (row, position) order
    int64_t answer_tokens = 0;
};

// One training conversation per scene: every sample's turns in a shuffled order, the scene
// attached to the first question only (as in a real multi-turn chat), a DualFocus pair (box
// turn, then the micro turn carrying the crop) kept together. One image encode supervises
// many answers, and follow-up questions look like the app's conversations. Samples are
// dropped from the end until the sequence fits the context.
PromptSequence scene_conversation(const Tokenizer& tok, const ChatTemplate& tmpl,
                                  const ModelConfig& cfg, const PreprocessOptions& pre,
                                  uint64_t seed, std::vector<torch::Tensor>* pixels) {
    const auto scene = synth::generate_scene(seed);
    auto samples = synth::make_samples(scene, seed);
    std::mt19937_64 rng(seed * 7919u + 13u);
    std::shuffle(samples.begin(), samples.end(), rng);
    const int64_t limit = cfg.text.max_position_embeddings;
    for (size_t keep = samples.size(); keep > 0; --keep) {
        std::vector<ChatMessage> msgs;
        std::vector<const cv::Mat*> images;
        for (size_t k = 0; k < keep; ++k) {
            const auto& sample = samples[k];
            for (const auto& t : sample.turns) {
                std::string q = t.question;
                const cv::Mat* img = t.image == 0 ? &scene.image : t.image == 1 ? &sample.crop : nullptr;
                if (img && (t.image == 1 || images.empty())) {
                    q = "<image>\n" + q;
                    images.push_back(img);
                }
                msgs.push_back({ChatMessage::Role::User, q});
                msgs.push_back({ChatMessage::Role::Assistant, t.answer});
            }
        }
        auto seq = build_prompt_sequence(tmpl, tok, msgs, cfg.image_tokens(), images.size());
        if (static_cast<int64_t>(seq.keys.size()) <= limit || keep == 1) {
            for (const cv::Mat* img : images) pixels->push_back(preprocess_image(*img, pre));
            return seq;
        }
    }
    return {};
}

Batch make_batch(const Tokenizer& tok, const ChatTemplate& tmpl, const ModelConfig& cfg,
                 const PreprocessOptions& pre, uint64_t first_seed, int batch_size) {
    std::vector<PromptSequence> seqs;
    std::vector<torch::Tensor> pixels;
    std::vector<int64_t> image_base;  // index of each sequence's first image in `pixels`
    for (int i = 0; i < batch_size; ++i) {
        image_base.push_back(static_cast<int64_t>(pixels.size()));
        seqs.push_back(scene_conversation(tok, tmpl, cfg, pre, first_seed + uint64_t(i), &pixels));
    }
    int64_t L = 0;
    for (const auto& s : seqs) L = std::max<int64_t>(L, s.keys.size());
    L = std::min<int64_t>(L, cfg.text.max_position_embeddings);
    Batch b;
    b.pixels = torch::stack(pixels);
    b.ids = torch::zeros({batch_size, L}, torch::kInt64);
    b.targets = torch::full({batch_size, L}, -100, torch::kInt64);
    b.image_mask = torch::zeros({batch_size, L}, torch::kBool);
    auto ids = b.ids.accessor<int64_t, 2>();
    auto tg = b.targets.accessor<int64_t, 2>();
    auto im = b.image_mask.accessor<bool, 2>();
    for (int i = 0; i < batch_size; ++i) {
        const auto& s = seqs[i];
        const int64_t n = std::min<int64_t>(s.keys.size(), L);
        for (int64_t p = 0; p < n; ++p) {
            if (s.keys[p] >= 0)
                ids[i][p] = s.keys[p];
            else
                im[i][p] = true;
            if (p + 1 < n && s.is_answer[p + 1] && s.keys[p + 1] >= 0) {
                tg[i][p] = s.keys[p + 1];
                ++b.answer_tokens;
            }
        }
        for (const auto& span : s.images)
            if (span.start + cfg.image_tokens() <= n)
                b.image_order.push_back(image_base[i] + span.image);
    }
    return b;
}

double lr_at(const TrainOptions& o, int step) {
    if (step < o.warmup_steps) return o.lr * (step + 1) / o.warmup_steps;
    const double t = double(step - o.warmup_steps) / std::max(1, o.steps - o.warmup_steps);
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

void write_text(const fs::path& p, const std::string& text) {
    const fs::path tmp = p.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) throw Error("cannot write " + tmp.string());
    }
    fs::rename(tmp, p);
}

void export_model(Llava& net, const ModelConfig& cfg, const fs::path& tok_path, const fs::path& dir,
                  int step) {
    fs::create_directories(dir);
    save_state(*net, (dir / "model.safetensors").string(), DType::F32,
               {{"format", "pt"}, {"regionchat_step", std::to_string(step)}});
    write_text(dir / "config.json", model_config_to_json(cfg));
    if (fs::absolute(tok_path) != fs::absolute(dir / "tokenizer.model"))
        fs::copy_file(tok_path, dir / "tokenizer.model", fs::copy_options::overwrite_existing);
}

}  // namespace

void train_shapes_model(const TrainOptions& o) {
    const fs::path work(o.work_dir), out(o.out_dir);
    fs::create_directories(work);
    const fs::path tok_path = work / "tokenizer.model";
    const fs::path state_path = work / "state.json";
    auto tmpl = make_chat_template("vicuna_v1");

    int step = 0;
    ModelConfig cfg;
    if (fs::exists(state_path)) {
        const auto state = nlohmann::json::parse(std::ifstream(state_path));
        step = state.at("step").get<int>();
        if (state.at("seed").get<uint64_t>() != o.seed)
            throw Error(state_path.string() +
                        " was made with another --seed; use a new work folder");
        cfg = load_model_config(work.string());
    } else {
        Tokenizer::train(tokenizer_corpus(*tmpl), tok_path.string(), o.vocab_size, {});
        cfg = shapes_tiny_config();
    }
    auto tok = Tokenizer::load(tok_path.string());
    cfg.text.vocab_size = tok->vocab_size() + 1;  // + the image token, as llava-hf checkpoints
    cfg.image_token_index = tok->vocab_size();

    torch::manual_seed(o.seed);
    Llava net(cfg);
    init_weights(*net);
    torch::optim::AdamW opt(
        net->parameters(),
        torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(o.weight_decay));
    if (step > 0) {
        auto archive = SafetensorsArchive::open((work / "model.safetensors").string());
        load_state(*net, *archive,
                   [](const std::string& n) { return std::vector<std::string>{n}; });
        torch::load(opt, (work / "optimizer.pt").string());
    }
    net->train();

    PreprocessOptions pre;
    pre.size = cfg.vision.image_size;
    auto save = [&](int done) {
        save_state(*net, (work / "model.safetensors").string());
        write_text(work / "config.json", model_config_to_json(cfg));
        torch::save(opt, (work / "optimizer.pt").string());
        write_text(state_path, nlohmann::json{{"step", done}, {"seed", o.seed}}.dump());
        export_model(net, cfg, tok_path, out, done);
    };

    const auto t0 = Clock::now();
    const int first_step = step;
    double loss_ema = 0;
    for (; step < o.steps; ++step) {
        const double minutes = std::chrono::duration<double>(Clock::now() - t0).count() / 60.0;
        if (o.max_minutes > 0 && minutes >= o.max_minutes) break;
        const uint64_t first_seed = o.seed * 100'000'000ull + uint64_t(step) * o.batch_size;
        if (first_seed + o.batch_size >= kFirstHeldOutSeed)
            throw Error("training seeds would reach held-out seeds");
        Batch b = make_batch(*tok, *tmpl, cfg, pre, first_seed, o.batch_size);
        const double lr = lr_at(o, step);
        for (auto& g : opt.param_groups())
            static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

        auto feats = net->encode_images(b.pixels);  // [N, T, D]
        auto emb = net->language_model->embed(b.ids);
        if (!b.image_order.empty()) {
            auto ordered = feats.index_select(0, torch::tensor(b.image_order, torch::kInt64))
                               .reshape({-1, emb.size(-1)});
            emb = emb.masked_scatter(b.image_mask.unsqueeze(-1).expand_as(emb), ordered);
        }
        auto hidden = net->language_model->forward(emb, 0, nullptr);
        auto logits = net->language_model->logits(hidden);
        auto loss = torch::nn::functional::cross_entropy(
            logits.reshape({-1, logits.size(-1)}), b.targets.reshape({-1}),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
        opt.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
        opt.step();

        const double l = loss.item<double>();
        loss_ema = step == first_step ? l : 0.95 * loss_ema + 0.05 * l;
        if (o.on_progress) {
            const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            TrainProgress p;
            p.step = step + 1;
            p.steps = o.steps;
            p.loss = loss_ema;
            p.lr = lr;
            p.samples_per_s = (step + 1 - first_step) * o.batch_size / std::max(secs, 1e-9);
            p.eta_s = (o.steps - step - 1) * o.batch_size / std::max(p.samples_per_s, 1e-9);
            o.on_progress(p);
        }
        if ((step + 1) % o.save_every == 0) save(step + 1);
    }
    save(step);
}

}  // namespace rc::train
